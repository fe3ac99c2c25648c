"""Load that records every answer: client threads against a real sidecar, and CPU hogs.

Used by the spurious-deny, supervision and shutdown tests and by `bench/spurious_denies.py`.
Nothing here asserts: each call's answer (or failure) is recorded by the thread that made it,
and the caller checks the record in its own thread once the load has stopped.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from quanze.client import Answer, Client
from quanze.server.app import build_decider
from quanze.server.config import Config
from tests.integration.policy_repo import MESSAGES
from tests.integration.support import start, stop, wait_serving
from tests.support import CLERK_TAKES_RECORD, CONTRACT_EXAMPLE, EXAMPLES

# Three legitimate requests: two allowed, one denied. The first cites MARKED, whose English
# message each published revision ends with its own marker ("... [r3]").
MARKED = "assistant_duty"
ALLOWED = json.loads(CONTRACT_EXAMPLE)
DENIED = json.loads((EXAMPLES / "assistant-unguided.json").read_text())
REQUESTS = (ALLOWED, CLERK_TAKES_RECORD, DENIED)
LISTED = {k: CLERK_TAKES_RECORD[k] for k in ("subject", "resource", "context")}
CALLS_PER_CONNECTION = 20

Verdict = tuple[bool, tuple[str, ...]]  # decision and reason codes


def verdict(answer: Answer) -> Verdict:
    return answer.decision, tuple(r.code for r in answer.reasons)


def marker(answer: Answer) -> str:
    """The marker of the revision that answered ("" for the bundled text)."""
    text = next((r.message_en for r in answer.reasons if r.code == MARKED), "")
    return text.rsplit(" [", 1)[1].rstrip("]") if " [" in text else ""


def expected_verdicts() -> tuple[list[Verdict], list[tuple[str, Verdict]]]:
    """What the bundled policies answer to REQUESTS and to LISTED, decided in-process."""
    decider = build_decider(Config())
    checks = [
        (a["decision"], tuple(r["code"] for r in a["reasons"]))
        for a in map(decider.check, REQUESTS)
    ]
    listed = [
        (action, (a["decision"], tuple(r["code"] for r in a["reasons"])))
        for action, a in decider.allowed_actions(LISTED)
    ]
    return checks, listed


@dataclass(frozen=True)
class Sample:
    """One answered call: when it started (epoch seconds), how long it took, what came back."""

    kind: str  # "check" or "list"
    started: float
    seconds: float
    revision: str
    verdicts: tuple[Verdict, ...]  # one for a Check, one per catalog action for a List
    marker: str
    expected: bool  # every verdict is the one the policies give
    decision_ids: tuple[str, ...] = ()  # what keys the call's decision-log record(s)

    @property
    def codes(self) -> set[str]:
        return {code for _, codes in self.verdicts for code in codes}


# A client option: a connection of its own (gRPC otherwise shares one per target across
# clients), so that the kernel spreads connections over every worker.
OWN_CONNECTION = ("grpc.use_local_subchannel_pool", 1)


class CallerThreads:
    """Threads that call a sidecar until the context ends, each running one of `runs`
    (name, function) until `stopping` is set; a thread still alive after is a failure."""

    def __init__(self, runs: list[tuple[str, Callable[[], None]]]) -> None:
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=run, name=name) for name, run in runs]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(120)
        self.failures.extend(f"{t.name} did not stop" for t in self._threads if t.is_alive())


class LoadRecorder(CallerThreads):
    """`threads` client threads calling Check (and ListAllowedActions with `lists`) until exit.

    Every answer becomes a `Sample`; every failed call or crashed thread a line in `failures`.
    Leaving the context stops and joins the threads; one still alive is a failure too. With
    `own_connections`, each client opens a connection of its own (`OWN_CONNECTION`).
    """

    def __init__(
        self,
        address: str,
        *,
        threads: int,
        timeout: float,
        lists: bool = False,
        own_connections: bool = False,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.lists = lists
        self._options = [OWN_CONNECTION] if own_connections else []
        self.samples: list[Sample] = []
        self._checks, self._listed = expected_verdicts()
        super().__init__([(f"load-{n}", functools.partial(self._run, n)) for n in range(threads)])

    def _run(self, n: int) -> None:
        call = n
        last: Any = None
        try:
            while not self.stopping.is_set():
                # A new connection every few calls, so calls spread over every worker.
                with Client(
                    self.address, timeout=self.timeout, channel_options=self._options
                ) as client:
                    for _ in range(CALLS_PER_CONNECTION):
                        if self.stopping.is_set():
                            break
                        call += 1
                        last = self._one(client, call)
        except Exception as exc:
            self.failures.append(f"{threading.current_thread().name}: {exc!r} after {last!r}")

    def _one(self, client: Client, call: int) -> Sample | str:
        list_call = self.lists and call % 2 == 0
        started, clock = time.time(), time.perf_counter()
        try:
            if list_call:
                listed = client.allowed_actions(
                    LISTED["subject"], LISTED["resource"], LISTED["context"]
                )
            else:
                index = call % len(REQUESTS)
                answer = client.check(REQUESTS[index])
        except Exception as exc:  # a failed call is recorded, never an answer
            failure = f"{'list' if list_call else 'check'} failed: {exc!r}"
            self.failures.append(failure)
            return failure
        seconds = time.perf_counter() - clock
        if list_call:
            got = tuple(verdict(a.answer) for a in listed)
            sample = Sample(
                "list",
                started,
                seconds,
                listed[0].answer.policy_revision if listed else "",
                got,
                "",
                [(a.action, v) for a, v in zip(listed, got, strict=True)] == self._listed,
                # One record for the whole call, keyed by the part of each id before "#".
                tuple({a.answer.decision_id.split("#")[0] for a in listed}),
            )
        else:
            got_one = verdict(answer)
            sample = Sample(
                "check",
                started,
                seconds,
                answer.policy_revision,
                (got_one,),
                marker(answer),
                got_one == self._checks[index],
                (answer.decision_id,),
            )
        self.samples.append(sample)
        return sample


class Sidecar:
    """A `quanze serve` child on 127.0.0.1:0 whose log events are read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._seen = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.address = ""  # known once it listens

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "unparsed", "line": line}
            with self._seen:
                self.events.append(event)
                self._seen.notify_all()
        with self._seen:
            self.events.append({"event": "exited"})
            self._seen.notify_all()

    def wait_event(self, name: str, timeout: float = 60.0, *, after: int = 0) -> dict[str, Any]:
        """The first event `name` at index `after` or later (an AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for event in self.events[after:]:
                    if event.get("event") == name:
                        return event
                    if event.get("event") == "exited":
                        raise AssertionError(f"quanze serve exited before {name!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name!r} event from quanze serve in {timeout} s")
                self._seen.wait(left)

    def count(self) -> int:
        with self._seen:
            return len(self.events)


def worker_pids(server: Sidecar) -> dict[int, int]:
    """Each worker's pid, as its latest `listening` line gives it."""
    return {
        int(e["worker"]): int(e["pid"]) for e in list(server.events) if e["event"] == "listening"
    }


def event_time(event: dict[str, Any]) -> float:
    """An event's timestamp as epoch seconds."""
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


@contextlib.contextmanager
def sidecar(
    cwd: Path, *args: str, core: int | None = None, nice: int = 0, ready_timeout: float = 180.0
) -> Iterator[Sidecar]:
    """`quanze serve --address 127.0.0.1:0 ARGS`, SERVING; stopped (SIGTERM) on exit.

    With `core`, the sidecar (every worker and thread of it) runs on that CPU only; `nice`
    lowers its priority, so that processes at the default priority starve it.
    """
    process = start("--address", "127.0.0.1:0", *args, cwd=cwd, preexec_fn=pin(core, nice))
    with process:  # closes its pipes at the end
        server = Sidecar(process)
        try:
            server.address = str(server.wait_event("listening", 60)["address"])
            wait_serving(server.address, timeout=ready_timeout)
            yield server
        finally:
            stop(process)
            server.reader.join(30)


def pin(core: int | None, nice: int = 0) -> Callable[[], None]:
    """A `preexec_fn` that keeps a child process on CPU `core` (any if None), `nice` lower."""

    def run_on_core() -> None:
        if core is not None:
            os.sched_setaffinity(0, {core})
        os.nice(nice)

    return run_on_core


@contextlib.contextmanager
def busy_loops(count: int, core: int | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` processes spinning at the default priority (nice 0), all on `core` if given."""
    spin = "while True: pass"
    hogs = [
        subprocess.Popen(
            [sys.executable, "-c", spin],
            preexec_fn=pin(core),  # noqa: PLW1509 - affinity only
        )
        for _ in range(count)
    ]
    try:
        time.sleep(0.5)  # they are running before the caller measures anything
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def publish_marker(policies: Path, mark: str, scratch: Path) -> None:
    """End MARKED's English message with `[mark]` in a policy directory, in one rename."""
    path = policies / MESSAGES
    messages = json.loads(path.read_text())
    entry = messages[MARKED]
    entry["en"] = entry["en"].split(" [")[0] + f" [{mark}]"
    staged = scratch / f"messages-{os.getpid()}.json"
    staged.write_text(json.dumps(messages, ensure_ascii=False, indent=1) + "\n")
    os.replace(staged, path)
