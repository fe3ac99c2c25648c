"""The reloader's decisions, isolated with a scripted source, gate and workers.

Real git, real gates and real servers: tests/integration/test_policy_reload.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from quanze.server.errors import QuanzeError, UnsignedRevisionError
from quanze.server.policy.candidate import Candidate, combine
from quanze.server.policy.reloader import CombinedGate, PolicyStatus, Reloader


class ScriptedSource:
    description = "scripted"

    def __init__(self) -> None:
        self.next: Candidate | BaseException = candidate("r1")

    def poll(self) -> Candidate:
        if isinstance(self.next, BaseException):
            raise self.next
        return self.next


class RecordingWorker:
    def __init__(self) -> None:
        self.serving = ""
        self.prepare_problem = ""
        self.status = PolicyStatus()

    async def prepare(self, candidate: Candidate) -> str:
        return self.prepare_problem

    async def commit(self, revision: str) -> None:
        self.serving = revision

    async def abort(self, revision: str) -> None:
        pass

    async def publish(self, status: PolicyStatus) -> None:
        self.status = status


def candidate(revision: str) -> Candidate:
    return Candidate(revision, Path("/nonexistent") / revision, f"scripted {revision}")


class CountingGate:
    def __init__(self) -> None:
        self.verdicts: dict[str, str | BaseException] = {}
        self.calls: list[str] = []

    async def __call__(self, c: Candidate) -> str:
        self.calls.append(c.revision)
        verdict = self.verdicts.get(c.revision, "")
        if isinstance(verdict, BaseException):
            raise verdict
        return verdict


def reloader(
    source: ScriptedSource, workers: list[RecordingWorker], gate: CountingGate
) -> Reloader:
    return Reloader(source, workers, poll_interval_s=0.01, gate=gate)


async def test_a_revision_serves_on_every_worker_only_when_all_prepared_it() -> None:
    source, gate = ScriptedSource(), CountingGate()
    workers = [RecordingWorker(), RecordingWorker()]
    workers[1].prepare_problem = "too many open files"
    subject = reloader(source, workers, gate)
    assert await subject.poll_once() is False
    assert [w.serving for w in workers] == ["", ""]
    assert workers[0].status.last_error == "too many open files"
    workers[1].prepare_problem = ""  # the passing cause is gone: retried, not gated again
    assert await subject.poll_once() is True
    assert [w.serving for w in workers] == ["r1", "r1"]
    assert gate.calls == ["r1"]
    assert workers[0].status.last_failed_revision == ""


async def test_a_revision_the_gate_refused_is_never_gated_again_but_a_timeout_is() -> None:
    source, gate = ScriptedSource(), CountingGate()
    worker = RecordingWorker()
    subject = reloader(source, [worker], gate)
    await subject.poll_once()
    source.next = candidate("r2")
    gate.verdicts["r2"] = "`quanze policy test` failed"
    for _ in range(3):
        assert await subject.poll_once() is False
    assert gate.calls == ["r1", "r2"]
    assert worker.serving == "r1"
    source.next = candidate("r3")
    gate.verdicts["r3"] = QuanzeError("did not finish within 600 s")
    assert await subject.poll_once() is False
    del gate.verdicts["r3"]
    assert await subject.poll_once() is True
    assert worker.serving == "r3"


async def test_an_unsigned_commit_is_admitted_once_its_key_is_allowed() -> None:
    source, gate = ScriptedSource(), CountingGate()
    worker = RecordingWorker()
    subject = reloader(source, [worker], gate)
    await subject.poll_once()
    source.next = UnsignedRevisionError("r2", "r2 is not signed by an allowed key")
    assert await subject.poll_once() is False
    assert worker.status.last_failed_revision == "r2"
    source.next = candidate("r2")  # the key was added to the allowed signers
    assert await subject.poll_once() is True
    assert worker.serving == "r2"


async def test_any_failure_to_read_the_source_keeps_serving_and_polling() -> None:
    source, gate = ScriptedSource(), CountingGate()
    worker = RecordingWorker()
    subject = reloader(source, [worker], gate)
    await subject.poll_once()
    source.next = OSError(28, "No space left on device")
    stop = asyncio.Event()
    polling = asyncio.create_task(subject.run(stop))
    await asyncio.sleep(0.05)
    assert "No space left on device" in worker.status.source_error
    source.next = candidate("r2")
    await asyncio.sleep(0.05)
    stop.set()
    await polling
    assert worker.serving == "r2"
    assert worker.status.source_error == ""


# ============================================= policies with a directory of their own


class CountingDirectoryGate:
    def __init__(self) -> None:
        self.verdicts: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, directory: Candidate, policies: Candidate) -> str:
        self.calls.append((policies.revision, directory.revision))
        return self.verdicts.get(directory.revision, "")


def pair(policies: str, directory: str) -> Candidate:
    return combine(candidate(policies), candidate(directory))


async def test_a_directory_change_is_gated_without_the_policy_tests() -> None:
    source, policy_gate, directory_gate = ScriptedSource(), CountingGate(), CountingDirectoryGate()
    worker = RecordingWorker()
    subject = Reloader(
        source,
        [worker],
        poll_interval_s=0.01,
        gate=CombinedGate(policy_gate, directory_gate),
    )
    source.next = pair("p1", "d1")
    assert await subject.poll_once() is True
    assert worker.serving == "p1+directory.d1"

    source.next = pair("p1", "d2")  # HR changed the directory
    directory_gate.verdicts["d2"] = "`quanze directory check` failed"
    assert await subject.poll_once() is False
    source.next = pair("p1", "d3")
    assert await subject.poll_once() is True

    assert policy_gate.calls == ["p1"]  # the policy tests ran once
    assert directory_gate.calls == [("p1", "d1"), ("p1", "d2"), ("p1", "d3")]
    assert worker.serving == "p1+directory.d3"
    assert worker.status.last_failed_revision == "p1+directory.d2"
    assert worker.status.last_error == "`quanze directory check` failed"


async def test_new_policies_check_the_serving_directory_again() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    gate = CombinedGate(policy_gate, directory_gate)
    assert await gate(pair("p1", "d1")) == ""
    assert await gate(pair("p2", "d1")) == ""  # p2 may have changed the schema
    assert await gate(pair("p1", "d1")) == ""  # back again: both verdicts remembered
    assert policy_gate.calls == ["p1", "p2"]
    assert directory_gate.calls == [("p1", "d1"), ("p2", "d1")]


async def test_refused_policies_are_not_checked_with_the_directory() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    policy_gate.verdicts["p2"] = "`quanze policy test` failed"
    gate = CombinedGate(policy_gate, directory_gate)
    assert await gate(pair("p2", "d1")) == "`quanze policy test` failed"
    assert await gate(pair("p2", "d2")) == "`quanze policy test` failed"
    assert policy_gate.calls == ["p2"]
    assert directory_gate.calls == []


async def test_a_gate_without_a_verdict_is_asked_again_and_verdicts_are_bounded() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    policy_gate.verdicts["p1"] = QuanzeError("did not finish within 600 s")
    gate = CombinedGate(policy_gate, directory_gate, remembered=2)
    with pytest.raises(QuanzeError):
        await gate(pair("p1", "d1"))
    del policy_gate.verdicts["p1"]
    assert await gate(pair("p1", "d1")) == ""
    assert policy_gate.calls == ["p1", "p1"]
    await gate(pair("p2", "d1"))  # two verdicts kept, the latest used: p2's and (p2, d1)'s
    await gate(pair("p1", "d1"))
    assert policy_gate.calls == ["p1", "p1", "p2", "p1"]


async def test_without_a_directory_of_its_own_the_policy_gate_decides_alone() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    gate = CombinedGate(policy_gate, directory_gate)
    assert await gate(candidate("r1")) == ""
    assert await gate(candidate("r1")) == ""
    assert policy_gate.calls == ["r1", "r1"]  # the reloader remembers plain revisions itself
    assert directory_gate.calls == []
