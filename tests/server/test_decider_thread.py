"""A worker's Deciders live on one thread: built, used and dropped there, never on the loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import traceback
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest

from quanze.server import app
from quanze.server.config import Config
from quanze.server.decider_thread import (
    DeciderSteps,
    DeciderThread,
    DeciderThreadError,
    ExpiredError,
    NotServingError,
)
from quanze.server.decisions import Decider
from quanze.server.errors import InvalidRequestError, PolicyError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.policy.testing import DecisionCase


@pytest.fixture
async def deciders(bundle: PolicyBundle) -> AsyncIterator[DeciderThread]:
    """A DeciderThread serving the bundled policies as revision r1."""
    thread = DeciderThread()
    await app.prepare_decider(Config(), None, bundle, thread, "r1")
    await thread.commit("r1")
    yield thread
    await thread.close()


async def test_decisions_run_on_one_thread_that_is_not_the_loops(
    deciders: DeciderThread, decision_cases: list[DecisionCase], bundle: PolicyBundle
) -> None:
    case = decision_cases[0]
    answer, first = await deciders.decide(lambda d: (d.check(case.request), threading.get_ident()))
    second = await deciders.decide(lambda d: threading.get_ident())
    assert answer["decision"] is case.decision
    assert answer["policy_revision"] == deciders.revision == bundle.revision
    assert first == second != threading.get_ident()


async def test_the_thread_is_kept_on_one_cpu_the_process_may_use(
    deciders: DeciderThread,
) -> None:
    loops = os.sched_getaffinity(0)  # this (the event loop's) thread's CPUs
    for _ in range(20):
        # sched_getaffinity(0) on the decider thread: that thread's own CPUs.
        where = await deciders.decide(lambda d: os.sched_getaffinity(0))
        assert len(where) == 1
        assert where <= loops
    # The loop's thread is left free to move.
    assert os.sched_getaffinity(0) == loops


async def test_a_replaced_decider_is_dropped_on_its_thread(
    deciders: DeciderThread, bundle: PolicyBundle
) -> None:
    dropped_on: list[int] = []

    def watch(decider: Decider) -> tuple[int, Any]:
        # The callback runs on the thread that drops the last reference.
        ref = weakref.ref(decider, lambda _: dropped_on.append(threading.get_ident()))
        return threading.get_ident(), ref

    owner, ref = await deciders.decide(watch)
    await app.prepare_decider(Config(), None, bundle, deciders, "r2")
    await deciders.commit("r2")
    assert dropped_on == [owner]
    assert ref() is None


async def test_a_call_whose_deadline_passed_is_not_run(deciders: DeciderThread) -> None:
    ran: list[str] = []
    with pytest.raises(ExpiredError):
        await deciders.decide(lambda d: ran.append("ran"), deadline=time.monotonic() - 0.001)
    assert ran == []


async def test_a_call_cancelled_while_it_waits_is_never_run(deciders: DeciderThread) -> None:
    busy, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def hold(_: Decider) -> None:
        busy.set()
        release.wait(30)

    holding = asyncio.ensure_future(deciders.decide(hold))
    assert await asyncio.to_thread(busy.wait, 30)
    waiting = asyncio.ensure_future(deciders.decide(lambda d: ran.append("waiting")))
    await asyncio.sleep(0)  # its job is queued behind `hold`
    waiting.cancel()
    await asyncio.sleep(0)  # the cancellation reaches the queued job
    release.set()
    await holding
    await deciders.decide(lambda d: ran.append("after"))
    assert ran == ["after"]
    assert waiting.cancelled()


async def test_nothing_is_decided_before_the_first_commit(bundle: PolicyBundle) -> None:
    thread = DeciderThread()
    try:
        with pytest.raises(NotServingError, match="not loaded yet"):
            await thread.decide(lambda d: d.revision)
        await app.prepare_decider(Config(), None, bundle, thread, "r1")
        assert not thread.serving
        with pytest.raises(NotServingError):
            await thread.decide(lambda d: d.revision)
    finally:
        await thread.close()


async def test_errors_come_back_without_the_threads_frames(
    deciders: DeciderThread, bundle: PolicyBundle
) -> None:
    with pytest.raises(InvalidRequestError) as invalid:
        await deciders.decide(lambda d: d.check({"subject": "nobody"}))
    # The frames of the job (which hold the Decider) stayed on the thread.
    where = {frame.filename for frame in traceback.extract_tb(invalid.value.__traceback__)}
    assert not any(name.endswith(("decisions.py", "validation.py")) for name in where), where
    assert invalid.value.__cause__ is None
    assert invalid.value.__context__ is None

    def broken(decider: Decider) -> None:
        decider.no_such_thing  # type: ignore[attr-defined] # noqa: B018

    with pytest.raises(DeciderThreadError, match=r"^AttributeError: 'Decider' object has no"):
        await deciders.decide(broken)
    # The thread serves on.
    assert await deciders.decide(lambda d: d.revision) == bundle.revision


async def test_calls_are_decided_between_the_steps_of_a_build(deciders: DeciderThread) -> None:
    running, release = threading.Event(), threading.Event()
    order: list[str] = []

    def steps() -> DeciderSteps:
        running.set()
        release.wait(30)
        order.append("step 1")
        yield
        order.append("step 2")
        return app.build_decider(Config())

    preparing = asyncio.ensure_future(deciders.prepare("r2", steps))
    assert await asyncio.to_thread(running.wait, 30)
    deciding = asyncio.ensure_future(deciders.decide(lambda d: order.append("decided")))
    await asyncio.sleep(0)  # its job is queued behind step 1
    release.set()
    await asyncio.gather(preparing, deciding)
    assert order == ["step 1", "decided", "step 2"]


async def test_a_build_that_fails_leaves_nothing_to_commit(
    deciders: DeciderThread, bundle: PolicyBundle
) -> None:
    def steps() -> DeciderSteps:
        yield
        raise PolicyError("policies at /p do not compile: boom")

    with pytest.raises(PolicyError, match="boom"):
        await deciders.prepare("bad", steps)
    with pytest.raises(DeciderThreadError, match="KeyError: 'bad'"):
        await deciders.commit("bad")
    assert deciders.revision == bundle.revision
