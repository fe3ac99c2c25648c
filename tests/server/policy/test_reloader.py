"""The reloader's decisions, isolated with a scripted source, gate and workers.

Real git, real gates and real servers: tests/integration/test_policy_reload.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from quanze.server.errors import QuanzeError
from quanze.server.policy.reloader import PolicyStatus, Reloader
from quanze.server.policy.source import Candidate, UnsignedRevisionError


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
