"""A minimal case application: it asks Quanze before each action and shows the answer in Chinese.

    .venv/bin/quanze serve &                                  # the sidecar, bundled policies
    .venv/bin/python examples/python/case_app.py [ADDRESS]    # default 127.0.0.1:8600

An assistant tries to interrogate a suspect, first without naming the procurator who guides
them (denied, and told why), then under that procurator's guidance (allowed, with what they
must do). If the sidecar cannot answer, the action is refused (`check_or_deny`).
"""

from __future__ import annotations

import sys
from typing import Any

from quanze.client import Answer, Client

ASSISTANT = {
    "type": "user",
    "id": "asst-A1",
    "properties": {
        "role": "procurator_assistant",
        "roles": ["procurator_assistant"],
        "procuratorate": "PROC-CITY-A",
        "department": "DEPT-CRIM-1",
        "senior_stage": False,
    },
}
CASE = {
    "type": "case",
    "id": "C-1001",
    "properties": {
        "procuratorate": "PROC-CITY-A",
        "department": "DEPT-CRIM-1",
        "domain": "criminal",
        "handling_mode": "sole",
        "sole_procurator": "p-A1",
        "within_power_list": True,
    },
}
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("讯问犯罪嫌疑人（未指明指导检察官）", "case.interrogate_suspect", {}),
    (
        "讯问犯罪嫌疑人（在 p-A1 指导下）",
        "case.interrogate_suspect",
        {"supervising_procurator": "p-A1"},
    ),
]


def show(step: str, answer: Answer) -> None:
    """What the user sees: allowed or not, each reason with its article, what to do."""
    print(f"{step}：{'允许' if answer.decision else '拒绝'}")
    for reason in answer.reasons:
        print(f"  · {reason.message_zh}（《意见》{reason.article}）")
    for obligation in answer.obligations:
        print(f"  ！须：{obligation.message_zh}")
    print(f"  决定编号 {answer.decision_id}")


def main(address: str) -> None:
    with Client(address, timeout=2) as quanze:
        for step, action, context in STEPS:
            request = {"subject": ASSISTANT, "action": {"name": action}, "resource": CASE}
            answer = quanze.check_or_deny({**request, "context": context})
            show(step, answer)  # and, when allowed, the application takes the action


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8600")
