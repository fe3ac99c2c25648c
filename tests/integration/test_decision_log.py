"""Decision logs through the real sidecar: one record per answer, masking, required/best_effort,
a crash by SIGKILL under load. Real gRPC, real files, real server processes."""

from __future__ import annotations

import copy
import gzip
import json
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quanze.client import Answer, Client, QuanzeClientError
from quanze.server import config as config_module
from quanze.server.config import Config, DecisionLogConfig, ServerConfig
from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import all_files
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.errors import ConfigError
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.server.testing import running_server
from tests.integration.support import start, stop, wait_event, wait_serving, wait_until
from tests.server.decisionlog.support import records_in
from tests.support import CONTRACT_EXAMPLE

pytestmark = pytest.mark.slow

# Personal data an application might send along (in the free-form extension object, the only
# place the schema accepts attributes it does not define); none of it may reach the disk.
PERSONAL = {
    "suspect_name": "张三丰",
    "suspect_id_number": "110101199003071234",
    "witness_phone": "13800138000",
}


def raw_bytes(directory: Path) -> bytes:
    data = b""
    for log_file in all_files(directory):
        raw = log_file.path.read_bytes()
        data += gzip.decompress(raw) if log_file.compressed else raw
    return data


def log_config(directory: Path, **settings: Any) -> Config:
    return Config(
        server=ServerConfig(shutdown_delay_seconds=0.0),
        decision_log=DecisionLogConfig(directory=str(directory), **settings),
    )


def with_personal_data(request: dict[str, Any]) -> dict[str, Any]:
    request = copy.deepcopy(request)
    request.setdefault("context", {}).setdefault("extensions", {}).update(PERSONAL)
    return request


def test_every_answer_has_exactly_one_record_and_personal_data_never_reaches_disk(
    tmp_path: Path,
) -> None:
    cases = load_decision_table(load_bundle().root)[::9]
    example = json.loads(CONTRACT_EXAMPLE)
    # Small files so the run rotates and compresses, and the chain crosses files.
    config = log_config(tmp_path, max_file_bytes=16 * 1024, checkpoint_records=25)
    answers: dict[str, dict[str, Any]] = {}
    with running_server(config) as address, Client(address, timeout=10) as client:
        for case in cases:
            answer = client.check(with_personal_data(case.request)).to_dict()
            answers[answer["decision_id"]] = answer
        defaults = {k: with_personal_data(example)[k] for k in ("subject", "resource", "context")}
        items = [{"action": {"name": a}} for a in ("case.interrogate_suspect", "case.unknown")]
        batch = client.check_batch(items, defaults=defaults)
        for item in batch:
            answers[item.answer.decision_id] = item.answer.to_dict()
        listed = client.allowed_actions(
            example["subject"], example["resource"], with_personal_data(example)["context"]
        )
    written = records_in(tmp_path, records.DECISION)
    counts = Counter(r["decision_id"] for r in written)
    assert set(counts.values()) == {1}
    for decision_id, answer in answers.items():
        record = next(r for r in written if r["decision_id"] == decision_id)
        assert record["result"] is answer["decision"]
        assert record["reasons"] == answer["reasons"]
        assert record["accountable"] == answer["accountable"]
        assert record["escalate_to"] == answer["escalate_to"]
        assert record["bundles"]["quanze"]["revision"] == answer["policy_revision"]
        assert record["caller"]["peer"].startswith("ipv4:127.0.0.1:")
        assert record["metrics"]["timer_server_handler_ns"] > 0
        if "error" not in record:  # an invalid item is never evaluated
            assert record["metrics"]["timer_rego_query_eval_ns"] > 0
        assert "/input/context/extensions/suspect_name" in record["erased"]
    invalid = next(r for r in written if r["decision_id"] == batch[1].answer.decision_id)
    assert invalid["error"]["field"] == "evaluations[1].action.name"
    assert [r["batch"]["index"] for r in written if "batch" in r] == [0, 1]
    call_ids = {d.answer.decision_id.split("#")[0] for d in listed}
    (list_record,) = [r for r in written if r["rpc"] == "ListAllowedActions"]
    assert {list_record["decision_id"]} == call_ids
    assert list_record["result"]["allowed"] == [d.action for d in listed if d.answer.allowed]
    assert len(written) == len(answers) + 1
    assert len(all_files(tmp_path)) > 2
    assert any(f.compressed for f in all_files(tmp_path))
    data = raw_bytes(tmp_path)
    for value in PERSONAL.values():
        assert value.encode() not in data


def test_decision_log_settings_are_validated_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_module.load(
            overrides=[
                f"decision_log.directory={tmp_path}",
                "decision_log.mode=sometimes",
                "decision_log.fsync=weekly",
                "decision_log.signing_key_file=/nonexistent/key",
            ],
            environ={},
        )
    text = str(caught.value)
    for key in ("decision_log.mode", "decision_log.fsync", "decision_log.signing_key_file"):
        assert key in text


# ----------------------------------------------------------------------------- real processes


def serve(directory: Path, *settings: str, file_limit: int | None = None) -> subprocess.Popen[str]:
    """`quanze serve --decision-log DIR` in a process, optionally with a file-size limit
    (RLIMIT_FSIZE: writes past it fail with EFBIG, a real disk-full for the writer)."""
    args = ["--address", "127.0.0.1:0", "--workers", "1", "--decision-log", str(directory)]
    for setting in settings:
        args += ["--set", setting]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return start(*args, cwd=directory.parent, preexec_fn=limit if file_limit else None)


def serving_address(process: subprocess.Popen[str]) -> str:
    address = str(wait_event(process, "listening")["address"])
    wait_serving(address)
    return address


Event = dict[str, Any]


def stderr_events(process: subprocess.Popen[str]) -> list[Event]:
    assert process.stderr is not None
    return [json.loads(line) for line in process.stderr.read().splitlines() if line.strip()]


def checks_on_a_full_disk(directory: Path, mode: str) -> tuple[list[Answer], list[Event]]:
    """120 Checks against a sidecar whose log files may not grow past 48 KiB; its log events."""
    request = json.loads(CONTRACT_EXAMPLE)
    with serve(directory, f"decision_log.mode={mode}", file_limit=48 * 1024) as process:
        try:
            address = serving_address(process)
            with Client(address, timeout=10) as client:
                answers = [client.check(request) for _ in range(120)]
        finally:
            stop(process)  # a clean stop writes whatever is still buffered first
        return answers, stderr_events(process)


def test_required_mode_denies_when_the_disk_refuses_the_record(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    answers, events = checks_on_a_full_disk(directory, "required")
    allowed = [a for a in answers if a.allowed]
    refused = [a for a in answers if not a.allowed]
    # The first records fit under the limit, the rest cannot be written and are refused.
    assert allowed
    assert refused
    assert all([r.code for r in a.reasons] == ["audit_unavailable"] for a in refused)
    assert answers.index(refused[0]) == len(allowed)  # once full, nothing more is allowed
    on_disk = {r["decision_id"] for r in records_in(directory, records.DECISION)}
    assert on_disk == {a.decision_id for a in allowed}
    failures = [e for e in events if e["event"] == "decision_log_write_failed"]
    assert failures
    assert "File too large" in failures[0]["error"]
    (closed,) = [e for e in events if e["event"] == "decision_log_closed"]
    assert closed["records_refused"] == len(refused)
    assert closed["decisions_logged"] == len(allowed)


def test_best_effort_answers_and_counts_every_lost_record(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    answers, events = checks_on_a_full_disk(directory, "best_effort")
    assert all(a.allowed for a in answers)
    on_disk = {r["decision_id"] for r in records_in(directory, records.DECISION)}
    missing = {a.decision_id for a in answers} - on_disk
    assert missing
    losses = [e for e in events if e["event"] == "decision_records_lost"]
    assert sum(e["count"] for e in losses) == len(missing)
    assert losses[-1]["total_lost"] == len(missing)
    (closed,) = [e for e in events if e["event"] == "decision_log_closed"]
    assert closed["records_lost"] == len(missing)


def test_sigkill_under_load_leaves_a_record_for_every_answer_received(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    request = json.loads(CONTRACT_EXAMPLE)
    with serve(directory, "decision_log.mode=required", "decision_log.fsync=record") as process:
        address = serving_address(process)
        received: list[str] = []
        lock = threading.Lock()
        stopping = threading.Event()

        def load() -> None:
            with Client(address, timeout=5) as client:
                while not stopping.is_set():
                    try:
                        answer = client.check(request)
                    except QuanzeClientError:
                        return  # the server is gone
                    with lock:
                        received.append(answer.decision_id)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        stopping.set()
        for thread in threads:
            thread.join(10)
    assert len(received) > 50
    on_disk = {r["decision_id"] for r in records_in(directory, records.DECISION)}
    assert set(received) <= on_disk
    assert verify_directory(directory).ok
    # A restart continues the chain and says the previous run did not close.
    with serve(directory) as process:
        try:
            serving_address(process)
        finally:
            stop(process)
    assert records_in(directory, records.START)[-1]["previous"] == "unclosed"
    report = verify_directory(directory)
    assert report.ok, report.render()


# ----------------------------------------------------------------------------- the log taken away


def _current_file(directory: Path) -> Path:
    return all_files(directory)[-1].path


def _delete_file(directory: Path, _earlier: Path) -> None:
    _current_file(directory).unlink()


def _replace_file(directory: Path, earlier: Path) -> None:
    # An older copy put in its place, as someone hiding the latest records would.
    current = _current_file(directory)
    os.replace(earlier / current.name, current)


def _delete_directory(directory: Path, _earlier: Path) -> None:
    shutil.rmtree(directory)


def _replace_directory(directory: Path, earlier: Path) -> None:
    directory.rename(directory.with_name("moved-away"))
    earlier.rename(directory)


FAULTS: dict[str, Callable[[Path, Path], None]] = {
    "file_deleted": _delete_file,
    "file_replaced": _replace_file,
    "directory_deleted": _delete_directory,
    "directory_replaced": _replace_directory,
}


class Load:
    """Callers asking for allows and denies in turn until stopped; every answer kept."""

    def __init__(self, address: str, callers: int = 2) -> None:
        allow = json.loads(CONTRACT_EXAMPLE)
        deny = copy.deepcopy(allow)
        deny["action"]["name"] = "decision.prosecute"
        self.requests = (allow, deny)
        self.answers: list[Answer] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._call, args=(address, n)) for n in range(callers)
        ]
        for thread in self._threads:
            thread.start()

    def _call(self, address: str, offset: int) -> None:
        try:
            with Client(address, timeout=10) as client:
                turn = offset
                while not self._stopping.is_set():
                    answer = client.check(self.requests[turn % 2])
                    turn += 1
                    with self._lock:
                        self.answers.append(answer)
        except BaseException as exc:  # the test fails on it, with the value
            self.errors.append(exc)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def wait_for(self, more: int) -> None:
        target = self.count() + more
        wait_until(lambda: self.count() >= target or bool(self.errors), f"{target} answers", 60)
        assert not self.errors, self.errors

    def stop(self) -> list[Answer]:
        self._stopping.set()
        for thread in self._threads:
            thread.join(30)
        assert not self.errors, self.errors
        return list(self.answers)


@pytest.mark.parametrize("mode", ["required", "best_effort"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_log_taken_away_while_serving_loses_no_record_and_invents_no_deny(
    tmp_path: Path, mode: str, fault: str
) -> None:
    directory = tmp_path / "log"
    earlier = tmp_path / "earlier"
    with serve(directory, f"decision_log.mode={mode}") as process:
        try:
            load = Load(serving_address(process))
            load.wait_for(40)
            shutil.copytree(directory, earlier)  # the log as it was: for the replacements
            load.wait_for(40)
            FAULTS[fault](directory, earlier)
            load.wait_for(80)
            answers = load.stop()
        finally:
            stop(process)
        events = stderr_events(process)

    logged = records_in(directory, records.DECISION)
    # Exactly one record per answer, saying what the answer said: nothing lost, no copy twice.
    assert Counter(r["decision_id"] for r in logged) == Counter(a.decision_id for a in answers)
    results = {r["decision_id"]: r["result"] for r in logged}
    assert all(results[a.decision_id] is a.allowed for a in answers)
    assert {a.allowed for a in answers} == {True, False}
    assert not [a for a in answers if any(r.code == "audit_unavailable" for r in a.reasons)]
    (reopened,) = [e for e in events if e["event"] == "decision_log_reopened"]
    assert reopened["fault"] == fault
    (closed,) = [e for e in events if e["event"] == "decision_log_closed"]
    assert (closed["records_refused"], closed["records_lost"]) == (0, 0)
    reopens = [r for r in records_in(directory, records.START) if r["previous"] == "reopened"]
    assert [r["fault"] for r in reopens] == [fault]
    report = verify_directory(directory)
    assert report.verdict == "reopened", report.render()


def test_required_mode_denies_while_the_log_cannot_be_put_back(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    request = json.loads(CONTRACT_EXAMPLE)
    with serve(directory, "decision_log.mode=required") as process:
        try:
            address = serving_address(process)
            with Client(address, timeout=10) as client:
                before = [client.check(request) for _ in range(5)]
                shutil.rmtree(directory)
                directory.write_text("a file where the log directory was\n")
                during = [client.check(request) for _ in range(5)]
                directory.unlink()
                after = [client.check(request) for _ in range(5)]
        finally:
            stop(process)
        events = stderr_events(process)
    assert all(a.allowed for a in before + after)
    assert all([r.code for r in a.reasons] == ["audit_unavailable"] for a in during)
    logged = {r["decision_id"] for r in records_in(directory, records.DECISION)}
    # Every allow has its record (those before were put back); no denied call left one.
    assert logged == {a.decision_id for a in before + after}
    (closed,) = [e for e in events if e["event"] == "decision_log_closed"]
    assert closed["records_refused"] == len(during)
