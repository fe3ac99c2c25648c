"""`WorkerSlot`: what the reloader tells a worker's slot reaches the process that holds it, and a
process that comes later is brought to it. The other end of the pipe is the real
`follow_supervisor` a worker runs, in front of a worker that records what it is asked."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from quanze.server.policy.candidate import Candidate
from quanze.server.policy.reloader import PolicyStatus
from quanze.server.supervisor import WorkerSlot
from quanze.server.workers import follow_supervisor


def candidate(revision: str) -> Candidate:
    return Candidate(revision, Path(f"/snapshots/{revision}"), f"test revision {revision}")


class RecordingWorker:
    """Answers like a worker that prepares everything, except the revisions in `refuse`."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str]] = []
        self._refuse = refuse

    async def prepare(self, candidate: Candidate) -> str:
        self.calls.append(("prepare", candidate.revision))
        return "it does not compile" if candidate.revision in self._refuse else ""

    async def commit(self, revision: str) -> None:
        self.calls.append(("commit", revision))

    async def abort(self, revision: str) -> None:
        self.calls.append(("abort", revision))

    async def publish(self, status: PolicyStatus) -> None:
        self.calls.append(("publish", status.active_revision))


@pytest.fixture
async def process_end() -> AsyncIterator[tuple[Connection, RecordingWorker, asyncio.Event]]:
    """A pipe whose far end a worker's `follow_supervisor` serves: (near end, worker, stop)."""
    near, far = multiprocessing.Pipe()
    worker, stop = RecordingWorker(), asyncio.Event()
    follower = asyncio.create_task(follow_supervisor(far, worker, stop))
    yield near, worker, stop
    stop.set()
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    far.close()


async def test_an_empty_slot_remembers_and_the_next_process_catches_up(
    process_end: tuple[Connection, RecordingWorker, asyncio.Event],
) -> None:
    pipe, worker, _ = process_end
    slot = WorkerSlot(1, "127.0.0.1:8600")
    # No process holds the slot: it serves nothing, so it holds no revision up.
    assert await slot.prepare(candidate("a")) == ""
    await slot.commit("a")
    await slot.publish(PolicyStatus(active_revision="a"))
    assert await slot.prepare(candidate("b")) == ""  # b is being prepared everywhere
    assert slot.revision == "a"
    assert await slot.attach(pipe) == ""
    assert worker.calls == [("publish", "a"), ("prepare", "a"), ("commit", "a"), ("prepare", "b")]
    # From now on the reloader talks to the process itself.
    await slot.commit("b")
    assert worker.calls[-1] == ("commit", "b")
    assert slot.revision == "b"
    assert await slot.prepare(candidate("c")) == ""
    await slot.abort("c")
    assert await slot.prepare(candidate("d")) == ""  # answered after the abort is carried out
    assert worker.calls[-3:] == [("prepare", "c"), ("abort", "c"), ("prepare", "d")]


async def test_a_process_that_cannot_prepare_the_revision_served_is_not_attached_quietly() -> None:
    near, far = multiprocessing.Pipe()
    worker, stop = RecordingWorker(refuse=frozenset({"a"})), asyncio.Event()
    follower = asyncio.create_task(follow_supervisor(far, worker, stop))
    slot = WorkerSlot(0, "127.0.0.1:8600")
    await slot.prepare(candidate("a"))
    await slot.commit("a")
    try:
        assert await slot.attach(near) == "cannot prepare revision a: it does not compile"
        assert ("commit", "a") not in worker.calls
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower


async def test_a_process_gone_while_catching_up_holds_nothing_up() -> None:
    near, far = multiprocessing.Pipe()
    far.close()  # the process exited before it read anything
    slot = WorkerSlot(0, "127.0.0.1:8600")
    await slot.prepare(candidate("a"))
    await slot.commit("a")
    assert await slot.attach(near) == "the worker process exited before it served"
    await slot.detach()
    # The reloader goes on without it; the slot remembers for the next process.
    assert await slot.prepare(candidate("b")) == ""
    await slot.commit("b")
    assert slot.revision == "b"
