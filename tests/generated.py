"""Seeded generator of varied, valid requests for agreement tests (deterministic per seed)."""

from __future__ import annotations

import random
from typing import Any

ROLES = [
    "procurator_assistant",
    "clerk",
    "department_head",
    "procurator",
    "chief_procurator",
    "technical_staff",
]
PEOPLE = ["p-A1", "p-L1", "p-T2", "p-X9", "dh-A1", "asst-A1"]
CASES: list[dict[str, Any]] = [
    {
        "procuratorate": "PROC-CITY-A",
        "department": "DEPT-CRIM-1",
        "handling_mode": "sole",
        "sole_procurator": "p-A1",
    },
    {
        "procuratorate": "PROC-CITY-A",
        "department": "DEPT-CRIM-1",
        "handling_mode": "team",
        "lead_procurator": "p-L1",
        "team_procurators": ["p-L1", "p-T2"],
    },
    {
        "procuratorate": "PROC-CITY-A",
        "department": "DEPT-CRIM-1",
        "handling_mode": "sole",
        "sole_procurator": "dh-A1",
    },
    {
        "procuratorate": "PROC-CITY-B",
        "department": "DEPT-CRIM-1",
        "handling_mode": "sole",
        "sole_procurator": "p-A1",
    },
    {"procuratorate": "PROC-CITY-A", "department": "DEPT-CIVIL-1"},
]


def generated_request(
    rng: random.Random, actions: list[str], *, with_action: bool = True
) -> dict[str, Any]:
    """One valid request mixing roles, cases and context conditions."""
    role = rng.choice(ROLES)
    roles = [role] if rng.random() < 0.85 else [rng.choice(ROLES)]
    subject_props: dict[str, Any] = {
        "role": role,
        "roles": roles,
        "procuratorate": "PROC-CITY-A",
        "department": rng.choice(["DEPT-CRIM-1", "DEPT-CIVIL-1"]),
        "senior_stage": rng.random() < 0.5,
        "authorizations": rng.sample(
            ["review.escalated_cases", "review.legal_documents"], rng.randint(0, 2)
        ),
    }
    resource_props = dict(rng.choice(CASES))
    resource_props["review_object"] = rng.choice(["case", "legal_document"])
    context: dict[str, Any] = {}
    for key in ("supervising_procurator", "assigned_by"):
        if rng.random() < 0.7:
            context[key] = rng.choice(PEOPLE)
    for key in ("chief_approval", "procurator_spoke_on_main_issues"):
        if rng.random() < 0.5:
            context[key] = rng.random() < 0.7
    if rng.random() < 0.5:
        context["attached"] = rng.sample(
            ["procurator_opinion", "review_opinion"], rng.randint(0, 2)
        )
    if rng.random() < 0.3:
        context["joint_meeting"] = {
            "held": True,
            "majority_opinion": "prosecute",
            "procurator_opinion": rng.choice(["prosecute", "not_prosecute"]),
        }
    request: dict[str, Any] = {
        "subject": {
            "type": "user",
            "id": rng.choice([*PEOPLE, "clerk-C1"]),
            "properties": subject_props,
        },
        "resource": {
            "type": "case",
            "id": f"C-{rng.randint(1000, 9999)}",
            "properties": resource_props,
        },
        "context": context,
    }
    if with_action:
        request["action"] = {"name": rng.choice(actions)}
    return request
