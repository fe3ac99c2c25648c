"""Test support shared across test packages: the contract's example, an engine double, a scrape."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from quanze.server.policy.bundle import bundled_policy_dir
from quanze.server.policy.directory import BUNDLED_FILE

# The contract's example request, character for character (shared spec contract.md).
CONTRACT_EXAMPLE = """
{
  "subject":  {"type": "user", "id": "asst-A1",
               "properties": {"role": "procurator_assistant", "roles": ["procurator_assistant"],
                              "procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1",
                              "senior_stage": false}},
  "action":   {"name": "case.interrogate_suspect"},
  "resource": {"type": "case", "id": "C-1001",
               "properties": {"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1",
                              "domain": "criminal", "handling_mode": "sole",
                              "sole_procurator": "p-A1", "within_power_list": true}},
  "context":  {"supervising_procurator": "p-A1"}
}
"""

# The fields of the contract's answer.
ANSWER_KEYS = {
    "decision_id",
    "decision",
    "reasons",
    "obligations",
    "escalate_to",
    "accountable",
    "policy_revision",
}


class ScriptedEngine:
    """A test double at the engine-adapter boundary: returns or raises what the test scripts."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def decide(self, request: Mapping[str, Any]) -> Any:
        if isinstance(self.result, BaseException):
            raise self.result
        return copy.deepcopy(self.result)

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        return self.decide(request)


def environment_without_quanze_settings() -> dict[str, str]:
    """The process environment minus QUANZE_* settings, so subprocesses run on the defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("QUANZE_")}


def raised_on_another_thread(call: Callable[[], object]) -> BaseException | None:
    """What `call` raises when run on a thread of its own (None when it raises nothing)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # a Rust panic is a BaseException too
            # Without its traceback: the frames would keep `call`'s thread-bound engine alive in
            # a cycle (frame -> list -> exception -> frame) that the gc of whichever thread
            # runs next would drop, raising "unsendable ... dropped on another thread" there.
            raised.append(exc.with_traceback(None))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return raised[0] if raised else None


def schema_keys(schema: Any) -> set[str]:
    """Every property name the input schema defines, at any depth."""
    keys: set[str] = set()
    if isinstance(schema, dict):
        keys.update(schema.get("properties", {}))
        for value in schema.values():
            keys |= schema_keys(value)
    elif isinstance(schema, list):
        for value in schema:
            keys |= schema_keys(value)
    return keys


def copy_bundled_policies(target: Path) -> Path:
    """A private copy of the bundled policies (no Python files), free to edit or break."""
    shutil.copytree(
        bundled_policy_dir(),
        target,
        ignore=shutil.ignore_patterns("__pycache__", "*.py"),
        dirs_exist_ok=True,  # a repository's work tree exists before its files
    )
    return target


def trimmed_policies(target: Path, *extra_tests: str) -> Path:
    """The bundled policies with a test suite of one passing test (plus `extra_tests`, more
    `test_*` rules of package `quanze.smoke_test`): a gate runs it in a blink.

    The bundled suite (~940 tests, ~10 s of CPU) is proven by tests/policies; what a gate does
    with a revision's tests does not depend on which tests they are, and a copy that runs fast
    and passes whatever state the bundled one is in lets reload tests watch when the gate runs.
    """
    root = copy_bundled_policies(target)
    for test in root.rglob("*_test.rego"):
        test.unlink()
    shutil.rmtree(root / "quanze/authz/cases", ignore_errors=True)
    smoke = root / "quanze/smoke/smoke_test.rego"
    smoke.parent.mkdir()
    tests = (
        "test_the_catalog_is_loaded if {\n\tcount(data.quanze.catalog.actions) > 0\n}\n",
        *extra_tests,
    )
    smoke.write_text("package quanze.smoke_test\n\nimport rego.v1\n\n" + "\n".join(tests))
    return root


# A clerk of PROC-CITY-A takes a record on a case p-A1 handles alone, guided by p-A1 (十九):
# allowed with the bundled directory, which lists clerk-C1 as a clerk assigned to p-A1.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLERK_TAKES_RECORD: dict[str, Any] = json.loads((EXAMPLES / "clerk-takes-record.json").read_text())


def bundled_directory() -> dict[str, Any]:
    """A fresh copy of the organisation directory bundled with the policies, free to change."""
    document: dict[str, Any] = json.loads((bundled_policy_dir() / BUNDLED_FILE).read_text())
    return document


def without_clerk(document: dict[str, Any], clerk: str = "clerk-C1") -> dict[str, Any]:
    """`document` with `clerk` no longer a clerk of PROC-CITY-A (the office is gone)."""
    del document["procuratorates"]["PROC-CITY-A"]["clerks"][clerk]
    return document


def write_json(path: Path, document: Any) -> Path:
    """Write `document` as the project writes data files (indented, UTF-8 kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return path


def split_directory(document: Mapping[str, Any], folder: Path) -> Path:
    """`document` as a folder: one file per procuratorate, and one with the rest (grants...)."""
    for pid, entry in document["procuratorates"].items():
        write_json(folder / f"{pid}.json", {"procuratorates": {pid: entry}})
    write_json(folder / "grants.json", {k: v for k, v in document.items() if k != "procuratorates"})
    return folder


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(address: str, path: str = "/metrics") -> Samples:
    """Every sample a Prometheus endpoint at `address` gives, keyed by name and labels."""
    with urllib.request.urlopen(f"http://{address}{path}", timeout=30) as reply:
        text = reply.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (so nothing listens on it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
