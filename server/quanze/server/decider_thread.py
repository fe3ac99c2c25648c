"""A worker's Deciders on the one thread that builds, uses and drops them.

Why a thread of their own: a worker used to evaluate on its event loop's thread, and grpc.aio
takes the next call from gRPC only when the loop gets to it, so under overload calls queued
inside gRPC, where the decision service could neither count nor shed them. Evaluating here, the
loop takes calls as they arrive and every call waiting for this thread is one the decision
service counts (`server.max_concurrent_calls`). regorus holds the GIL while it evaluates
(measured: docs/benchmarks.md, "Overload"), so the loop runs between evaluations rather than
beside them; that is enough to take and shed calls.

Where it runs: on Linux the thread is kept on the CPU its event loop last ran on (`_Beside`).
Handing a call over and back is then a switch on one core; left to the scheduler, the thread
is often woken on the other core, and each hand-off waits for a wake-up across cores (measured:
docs/benchmarks.md, "The gRPC path"). The loop itself stays free to move. A thread or process
started from the decider thread would inherit that one CPU: jobs start none.

Ownership: regorus objects belong to the thread that built them (touching one elsewhere
panics, dropping one elsewhere leaks it). Deciders therefore live only in this object's private
fields, touched only by jobs on the thread; what comes back to the loop is plain data (answers,
records, `Denials`), and errors come back without their tracebacks, whose frames could hold a
Decider. So the last reference to a Decider is always dropped here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
import queue
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import structlog

from quanze.server.decisions import Decider
from quanze.server.errors import QuanzeError

_T = TypeVar("_T")
DeciderSteps = Generator[None, None, Decider]
# A job for the thread: the future that waits for it on the event loop, and what to run.
_Job = tuple["asyncio.Future[tuple[bool, Any]]", Callable[[], Any]]

log = structlog.get_logger("quanze.decider_thread")


class NotServingError(QuanzeError):
    """No revision of the policies serves yet."""


class ExpiredError(QuanzeError):
    """The caller's deadline passed while the call waited for the thread: nothing was run."""


class DeciderThreadError(QuanzeError):
    """A job failed unexpectedly; its traceback was logged on the thread."""


class DeciderThread:
    """Builds Deciders in steps, swaps the serving one, and runs decisions, all on one thread."""

    def __init__(self) -> None:
        # A queue and a thread of our own rather than a ThreadPoolExecutor: 26 against 38 µs a
        # hand-off (p50, measured), on every call.
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="quanze-decider", daemon=True)
        self._thread.start()
        self._beside = _Beside(self._thread.native_id)
        # Touched only by jobs on the thread.
        self._serving: Decider | None = None
        self._prepared: dict[str, Decider] = {}
        self._building: dict[str, DeciderSteps] = {}
        # What serves: plain data, read on any thread.
        self.serving = False
        self.revision = ""

    async def decide(self, job: Callable[[Decider], _T], *, deadline: float | None = None) -> _T:
        """`job(the serving Decider)` on the thread, unless `deadline` (`time.monotonic()`)
        passed while it waited (`ExpiredError`) or nothing serves yet (`NotServingError`).

        A job the caller stops awaiting before it started (its call was cancelled) never runs.
        """

        def run() -> _T:
            if deadline is not None and time.monotonic() >= deadline:
                raise ExpiredError("the caller's deadline passed before evaluation")
            if self._serving is None:
                raise NotServingError("policies are not loaded yet; retry shortly")
            return job(self._serving)

        return await self._run(run)

    async def prepare(self, revision: str, steps: Callable[[], DeciderSteps]) -> None:
        """Build a Decider for `revision` from `steps` (a generator returning it), one step per
        job, so calls are decided between steps; keep it for `commit`. Raises what a step raises.
        """

        def start() -> None:
            self._building[revision] = steps()

        def step() -> bool:
            try:
                next(self._building[revision])
            except StopIteration as built:
                del self._building[revision]
                self._prepared[revision] = built.value
                return True
            except BaseException:
                del self._building[revision]
                raise
            return False

        await self._run(start)
        while not await self._run(step):
            pass

    async def commit(self, revision: str) -> str:
        """Serve the Decider prepared for `revision`; the policies' directory, for the log.

        A call already running keeps the Decider it started with.
        """

        def swap() -> str:
            self._serving = self._prepared.pop(revision)
            self.revision = self._serving.revision
            self.serving = True
            return str(self._serving.bundle.root)

        return await self._run(swap)

    async def abort(self, revision: str) -> None:
        """Drop what was prepared (or half built) for `revision`."""

        def drop() -> None:
            self._prepared.pop(revision, None)
            self._building.pop(revision, None)

        await self._run(drop)

    async def close(self) -> None:
        """Drop every Decider here, including any left in reference cycles; end the thread."""

        def drop_all() -> None:
            self._serving = None
            self._prepared.clear()
            self._building.clear()
            gc.collect()

        self.serving = False
        self.revision = ""
        await self._run(drop_all)
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    async def _run(self, function: Callable[[], _T]) -> _T:
        self._beside.follow()
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._jobs.put((future, function))
        done, value = await future
        if not done:
            raise value
        return value  # type: ignore[no-any-return]

    def _serve(self) -> None:
        """The thread: each job in turn, its outcome handed to the loop waiting for it."""
        while (job := self._jobs.get()) is not None:
            future, function = job
            if future.cancelled():  # its call was cancelled while it waited
                continue
            outcome = _detached(function)
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                future.get_loop().call_soon_threadsafe(_settle, future, outcome)


class _Beside:
    """Keeps a thread on the CPU the calling thread runs on (Linux; elsewhere it does nothing)."""

    def __init__(self, thread_id: int | None) -> None:
        self._thread_id = thread_id
        self._cpu = -1
        self._where = _sched_getcpu()

    def follow(self) -> None:
        """Move the thread to this thread's CPU, if it is not there yet (one system call)."""
        if self._where is None or self._thread_id is None:
            return
        cpu = self._where()
        if cpu == self._cpu or cpu < 0:
            return
        try:
            os.sched_setaffinity(self._thread_id, {cpu})
        except OSError as exc:  # e.g. that CPU was taken from this process: stop following
            log.warning("decider_thread_affinity_failed", cpu=cpu, error=str(exc))
            self._where = None
        else:
            self._cpu = cpu


def _sched_getcpu() -> Callable[[], int] | None:
    """glibc's or musl's `sched_getcpu` (the CPU the calling thread runs on), if there is one."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        where: Callable[[], int] = ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (OSError, AttributeError):
        return None
    return where


def _settle(future: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not future.cancelled():
        future.set_result(outcome)


def _detached(function: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, what `function` returned) or (False, what it raised, without tracebacks).

    An error of ours goes back as it is, minus its frames and the errors it came from; anything
    else is logged here, with its traceback, and goes back as a `DeciderThreadError` naming it
    (an `AttributeError`, for one, holds the object it was raised about).
    """
    try:
        return True, function()
    except QuanzeError as exc:
        # The message says what failed (a PolicyError quotes the compile error it came from).
        exc.__traceback__ = exc.__cause__ = exc.__context__ = None
        return False, exc
    except BaseException as exc:  # a bug, a resource limit, a Rust panic: still fail closed
        log.exception("decider_thread_job_failed")
        return False, DeciderThreadError(f"{type(exc).__name__}: {exc}")
