"""SIGKILL and SIGTERM under load, on a two-worker sidecar with a `required` decision log.

Callers loop over decision-table cases whose answers are known in-process. A worker is killed
with SIGKILL; separately, the sidecar gets SIGTERM. Afterwards every OK answer's decision id is
in the log (no record of an answered call lost), `quanze logs verify` passes (after a kill, at
most an honest truncation where the worker died), every OK answer is the right one (no allow
on error), and the sidecar keeps serving after losing a worker (issue 11: supervision).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from quanze.server.decisions import Decider
from tests.integration.load import Sidecar
from tests.probe.report import Probe
from tests.probe.sidecars import (
    Load,
    call,
    decision_ids,
    fresh_channel,
    known_requests,
    pb_request,
    raw_stub,
    sidecar,
    stop,
    verify,
    worker_pids,
)
from tests.probe.wire import EXAMPLE

pytestmark = pytest.mark.probe

# How long a killed worker's share may take to answer again (a restart with backoff).
RECOVERY_SECONDS = 30.0


def settings(log_dir: Path, **server: Any) -> dict[str, Any]:
    return {
        "server": {"workers": 2, **server},
        "decision_log": {"directory": str(log_dir), "mode": "required", "fsync": "record"},
    }


def test_sigkill_of_a_worker_under_load_loses_no_record(
    tmp_path: Path, probe: Probe, reference: Decider
) -> None:
    log_dir = tmp_path / "log"
    requests = known_requests(reference)
    with sidecar(tmp_path, settings(log_dir)) as found:
        victim = worker_pids(found)[-1]
        stream = stream_of(victim)
        probe.fact("killed_worker", {"pid": victim, "stream": stream})
        # Calls in flight on the killed worker die with their connection: UNAVAILABLE or
        # CANCELLED, never an answer.
        errors = ("UNAVAILABLE", "CANCELLED")
        with Load(found.address, probe, requests, threads=6, allowed_errors=errors) as load:
            load.wait_answers(150)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            probe.fact("answers_before_kill", load.answers)
            recovered = _serving_again(found, killed_at)
            time.sleep(3)  # load on whatever serves now
            serving = found.process.poll() is None and _every_connection_answered(found)
            probe.fact("serving_again_after_seconds", recovered)
            probe.fact("serving_3_seconds_later", serving)
        if recovered is None or not serving:
            probe.fail(
                "sidecar_stops_serving_when_a_worker_is_killed",
                {"signal": "SIGKILL", "worker_pid": victim},
                {"sidecar_exit_status": found.process.poll(), "waited_seconds": RECOVERY_SECONDS},
            )
    probe.records(load.answered.ids, decision_ids(log_dir), frozenset(load.answered.allowed))
    _verify(probe, log_dir, truncated_stream=stream)
    probe.verdict()


def test_sigterm_under_load_drains_and_loses_no_record(
    tmp_path: Path, probe: Probe, reference: Decider
) -> None:
    log_dir = tmp_path / "log"
    requests = known_requests(reference)
    # The documented defaults: answer for 1 s after the signal, then drain for up to 10 s.
    shutdown = {"shutdown_delay_seconds": 1.0, "shutdown_grace_seconds": 10.0}
    with sidecar(tmp_path, settings(log_dir, **shutdown)) as found:
        with Load(found.address, probe, requests, threads=6) as load:
            load.wait_answers(150)
            probe.fact("answers_before_sigterm", load.answers)
            status = stop(found, signal.SIGTERM)
            probe.fact("sidecar_exit_status", status)
            time.sleep(1)  # callers now find nobody there
        if status != 0:
            probe.fail("sidecar_exit_status_not_0", {"signal": "SIGTERM"}, status)
    probe.records(load.answered.ids, decision_ids(log_dir), frozenset(load.answered.allowed))
    _verify(probe, log_dir)
    probe.verdict()


def stream_of(pid: int) -> str:
    """The decision-log stream a worker writes: the one whose file it holds open."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        name = Path(os.readlink(fd)).name
        if name.startswith("decisions-"):
            return name.split("-")[1]
    return ""


def _serving_again(found: Sidecar, since: float) -> float | None:
    """Seconds after `since` at which every new connection is answered again, or None."""
    deadline = since + RECOVERY_SECONDS
    while time.monotonic() < deadline and found.process.poll() is None:
        if _every_connection_answered(found):
            return round(time.monotonic() - since, 2)
        time.sleep(0.5)
    return None


def _every_connection_answered(found: Sidecar, connections: int = 8) -> bool:
    """Several fresh connections each get an answer: one worker less does not go unseen."""
    for _ in range(connections):
        with fresh_channel(found.address) as channel:
            status, _, _ = call(raw_stub(channel, "Check"), pb_request(EXAMPLE), timeout=5)
        if status != "OK":
            return False
    return True


def _verify(probe: Probe, log_dir: Path, *, truncated_stream: str = "") -> None:
    """`quanze logs verify`: intact, or truncated only where the killed worker was writing."""
    status, report = verify(log_dir)
    problems = report.get("problems", [])
    probe.fact("logs_verify_exit_status", status)
    probe.fact("logs_verify_problems", problems)
    probe.fact("logs_verify_notes", report.get("notes", []))
    honest = all(
        p.get("kind") == "truncated" and p.get("stream") == truncated_stream for p in problems
    )
    if status != 0 and not (truncated_stream and problems and honest):
        probe.fail("logs_verify_fails", {"directory": str(log_dir)}, report)
