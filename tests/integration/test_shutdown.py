"""Graceful shutdown of a real `quanze serve` under load: calls the sidecar received are answered
and recorded, callers that ignore health get answers and then UNAVAILABLE, never CANCELLED."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from quanze.client import Client, QuanzeClientError
from quanze.server.decisionlog import records
from quanze.server.decisionlog.verify import verify_directory
from tests.integration.load import OWN_CONNECTION, CallerThreads, Sidecar, event_time
from tests.integration.support import start, wait_serving
from tests.server.decisionlog.support import records_in
from tests.support import CONTRACT_EXAMPLE

pytestmark = pytest.mark.slow

REQUEST = json.loads(CONTRACT_EXAMPLE)
BATCH = [{"action": {"name": "case.interrogate_suspect"}}] * 50
# server.shutdown_delay_seconds: calls sent before the SIGTERM reach a handler before it ends,
# even on a busy machine where calls wait in gRPC's queue (measured: over 2 s at load 8).
DELAY = 5.0
WAIT = 180.0


@dataclass(frozen=True)
class Call:
    """One call a caller made: when (epoch seconds), and what came back."""

    caller: str
    started: float
    ended: float
    code: str  # "OK" or the status code name
    decision_ids: tuple[str, ...]
    allowed: bool  # every answer is the allow the contract example gets
    error: str = ""


class Callers(CallerThreads):
    """Threads that call until told to stop: `batches` sending slow-ish 50-item CheckBatch
    calls (a connection each), `checks` sending one Check after another on one channel."""

    def __init__(self, address: str, *, batches: int, checks: int) -> None:
        self.address = address
        self.calls: list[Call] = []
        runs = [(f"batch-{n}", True) for n in range(batches)]
        runs += [(f"check-{n}", False) for n in range(checks)]
        super().__init__([(name, functools.partial(self._run, name, b)) for name, b in runs])

    def _run(self, name: str, batch: bool) -> None:
        options = [OWN_CONNECTION] if batch else []
        try:
            with Client(self.address, timeout=60, channel_options=options) as client:
                while not self.stopping.is_set():
                    self._one(name, client, batch)
        except Exception as exc:
            self.failures.append(f"{name}: {exc!r}")

    def _one(self, name: str, client: Client, batch: bool) -> None:
        started = time.time()
        try:
            if batch:
                answers = [item.answer for item in client.check_batch(BATCH, defaults=REQUEST)]
            else:
                answers = [client.check(REQUEST)]
        except QuanzeClientError as exc:
            self.calls.append(Call(name, started, time.time(), exc.code, (), False, str(exc)))
            time.sleep(0.01)  # a stopped sidecar refuses at once: do not spin
            return
        ids = tuple(a.decision_id for a in answers)
        allowed = all(a.decision for a in answers)
        self.calls.append(Call(name, started, time.time(), "OK", ids, allowed))


@contextlib.contextmanager
def two_workers(tmp_path: Path, *args: str) -> Iterator[tuple[Sidecar, str]]:
    """`quanze serve --workers 2 ARGS` on 127.0.0.1:0, SERVING: its events and address.

    The test stops it; one still running at the end is killed.
    """
    process = start("--address", "127.0.0.1:0", "--workers", "2", *args, cwd=tmp_path)
    with process:
        server = Sidecar(process)
        try:
            address = str(server.wait_event("starting_workers", WAIT)["address"])
            wait_serving(address, WAIT)
            yield server, address
        finally:
            if process.poll() is None:
                process.kill()
            server.reader.join(30)


def test_sigterm_under_load_answers_and_records_every_received_call(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    delay = f"server.shutdown_delay_seconds={DELAY}"
    with (
        two_workers(tmp_path, "--decision-log", str(log_dir), "--set", delay) as (server, address),
        Callers(address, batches=4, checks=2) as callers,
    ):
        deadline = time.monotonic() + WAIT
        while len(callers.calls) < 40 and time.monotonic() < deadline:
            time.sleep(0.1)
        signalled = time.time()
        server.process.send_signal(signal.SIGTERM)
        exit_status = server.process.wait(WAIT)
        stopped = time.time()
        time.sleep(0.5)  # calls after the exit: refused
    calls = list(callers.calls)
    assert not callers.failures, callers.failures
    assert exit_status == 0
    # Never CANCELLED, nor any other failure: an answer, or UNAVAILABLE (not evaluated).
    assert {c.code for c in calls} <= {"OK", "UNAVAILABLE"}, {c.code for c in calls}
    answered = [c for c in calls if c.code == "OK"]
    assert all(c.allowed for c in answered)
    before = [c for c in calls if c.started < signalled]
    assert len(before) >= 40
    assert all(c.code == "OK" for c in before), [c for c in before if c.code != "OK"][:5]
    # During the delay callers that ignore health are still answered, then refused.
    assert any(c.started > signalled for c in answered)
    assert any(c.code == "UNAVAILABLE" and c.ended < stopped for c in calls)
    assert all(c.code == "UNAVAILABLE" for c in calls if c.started > stopped)
    # Calls in flight when the workers stopped taking new ones were answered, not cancelled.
    draining = [e for e in server.events if e["event"] == "draining"]
    assert len(draining) == 2
    assert sum(int(e["calls_in_flight"]) for e in draining) > 0
    first_drain = min(event_time(e) for e in draining)
    assert any(c.started < first_drain < c.ended for c in answered)
    # Every answer is recorded, and each worker's stream is sealed.
    logged = {r["decision_id"] for r in records_in(log_dir, records.DECISION)}
    unrecorded = {i for c in answered for i in c.decision_ids} - logged
    assert not unrecorded, sorted(unrecorded)[:5]
    sealed = [r for r in records_in(log_dir, records.CHECKPOINT) if r.get("reason") == "shutdown"]
    assert len(sealed) == 2
    report = verify_directory(log_dir)
    assert report.ok, report.render()


def test_a_second_signal_skips_the_rest_of_the_delay(tmp_path: Path) -> None:
    with two_workers(tmp_path, "--set", "server.shutdown_delay_seconds=600") as (server, address):
        server.process.send_signal(signal.SIGTERM)
        first = server.wait_event("shutting_down", WAIT)
        server.wait_event("shutting_down", WAIT, after=server.events.index(first) + 1)
        with Client(address, timeout=30) as client:
            answer = client.check(REQUEST)  # the delay: still answered
        server.process.send_signal(signal.SIGINT)
        exit_status = server.process.wait(WAIT)
    names = [e["event"] for e in server.events]
    assert exit_status == 0
    assert answer.decision is True
    assert names.count("hurrying_workers") == 1
    assert names.count("shutdown_hurried") == 2
    assert names.count("stopped") == 2
