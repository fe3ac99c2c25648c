"""Worker supervision on real processes: a worker killed with SIGKILL comes back on the revision
its peers serve while they answer; one that keeps crashing stops the sidecar, non-zero."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quanze.client import Answer, Client, QuanzeClientError
from quanze.server.decisionlog import records
from tests.integration.load import (
    CallerThreads,
    LoadRecorder,
    Sidecar,
    marker,
    publish_marker,
    sidecar,
    worker_pids,
)
from tests.integration.support import start, status, stop, wait_until
from tests.server.decisionlog.support import records_in
from tests.support import CONTRACT_EXAMPLE, trimmed_policies

pytestmark = pytest.mark.slow

REQUEST = json.loads(CONTRACT_EXAMPLE)
WAIT = 180.0  # starting a worker compiles the policies; 2 busy cores can take a while


def events(server: Sidecar, name: str) -> list[dict[str, Any]]:
    return [e for e in list(server.events) if e["event"] == name]


class SocketProbe(CallerThreads):
    """Calls one worker's socket, a new connection each time, until the context ends: every
    answer and every refusal is kept (a crashed probe is one of `failures`)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.answers: list[Answer] = []
        self.errors: list[QuanzeClientError] = []
        super().__init__([(f"probe {target}", self._run)])

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        assert not self.failures, self.failures

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                with Client(self.target, timeout=30) as client:
                    try:
                        self.answers.append(client.check(REQUEST))
                    except QuanzeClientError as exc:
                        self.errors.append(exc)
                time.sleep(0.05)
        except Exception as exc:
            self.failures.append(repr(exc))


@contextlib.contextmanager
def unix_workers(tmp_path: Path, *settings: str) -> Iterator[Sidecar]:
    """`quanze serve` with 2 workers on `quanze-w0.sock` and `quanze-w1.sock` in `tmp_path`
    and `--set` each of `settings`, once a revision serves. The test stops it; one still
    running at the end is killed."""
    options = [arg for setting in settings for arg in ("--set", setting)]
    address = f"unix:{tmp_path / 'quanze.sock'}"
    process = start("--address", address, "--workers", "2", *options, cwd=tmp_path)
    with process:
        server = Sidecar(process)
        try:
            server.wait_event("policy_revision_active", WAIT)
            yield server
        finally:
            if process.poll() is None:
                process.kill()
            server.reader.join(30)


def test_a_killed_worker_comes_back_on_the_same_revision_while_the_other_answers(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "log"
    with sidecar(tmp_path, "--workers", "2", "--decision-log", str(log_dir)) as server:
        active = server.wait_event("policy_revision_active", WAIT)
        pids = worker_pids(server)
        assert sorted(pids) == [0, 1]
        first_instances = {r["labels"]["id"] for r in records_in(log_dir, records.START)}
        with LoadRecorder(
            server.address, threads=4, timeout=30, lists=True, own_connections=True
        ) as recorder:
            wait_until(lambda: len(recorder.samples) >= 20, "the sidecar answers", WAIT)
            os.kill(pids[1], signal.SIGKILL)
            restarted = server.wait_event("worker_restarted", WAIT)

            def restarted_worker_answered() -> bool:
                logged = records_in(log_dir, records.DECISION)
                return any(r["labels"]["id"] not in first_instances for r in logged)

            # New connections reach the restarted worker too (a record from a new instance).
            wait_until(restarted_worker_answered, "the restarted worker answers calls", WAIT)
        samples, failures = list(recorder.samples), list(recorder.failures)
    assert server.process.returncode == 0
    (crashed,) = events(server, "worker_crashed")
    assert (crashed["worker"], crashed["pid"]) == (1, pids[1])
    assert crashed["exit"] == "killed by signal SIGKILL"
    assert restarted["worker"] == 1
    assert restarted["pid"] not in pids.values()
    assert restarted["revision"] == active["revision"]
    assert worker_pids(server)[1] == restarted["pid"]
    wrong = [s for s in samples if not s.expected or s.revision != active["revision"]]
    assert not wrong, wrong[:5]
    # A call on a connection to the killed worker fails as a transport error, never an answer.
    unexpected = [f for f in failures if "UnavailableError(" not in f]
    assert not unexpected, unexpected[:5]
    logged = {r["decision_id"] for r in records_in(log_dir, records.DECISION)}
    unrecorded = {i for s in samples for i in s.decision_ids} - logged
    assert not unrecorded, sorted(unrecorded)[:5]


def test_a_restarted_worker_serves_the_active_revision_not_a_newer_refused_one(
    tmp_path: Path,
) -> None:
    # Without the bundled test suite, which no gate here runs: each `policy check` is quicker.
    policies = trimmed_policies(tmp_path / "policies")
    sockets = [f"unix:{tmp_path / f'quanze-w{i}.sock'}" for i in (0, 1)]
    with unix_workers(
        tmp_path,
        f"policies.path={policies}",
        f"policies.cache_dir={tmp_path / 'cache'}",
        "policies.poll_interval_seconds=0.2",
        "policies.require_tests_pass=false",
    ) as server:
        mark = server.count()
        publish_marker(policies, "r1", tmp_path)
        good = server.wait_event("policy_revision_active", WAIT, after=mark)
        mark = server.count()
        (policies / "quanze" / "broken.rego").write_text("package quanze.broken\n\nnot rego\n")
        refused = server.wait_event("policy_revision_refused", WAIT, after=mark)
        killed = worker_pids(server)[1]
        mark = server.count()
        with SocketProbe(sockets[1]) as probe:
            os.kill(killed, signal.SIGKILL)
            restarted = server.wait_event("worker_restarted", WAIT, after=mark)
            back = len(probe.answers)
            wait_until(lambda: len(probe.answers) >= back + 3, "worker 1 answers", WAIT)
        with Client(sockets[0], timeout=30) as other:
            peer = other.check(REQUEST)
        worker_status = status(sockets[1])
        exit_status = stop(server.process)
    assert exit_status == 0
    assert restarted["worker"] == 1
    assert restarted["pid"] != killed
    assert restarted["revision"] == good["revision"] == peer.policy_revision
    assert marker(peer) == "r1"
    # While it was down its socket refused; once back it answers from the active revision.
    assert all(e.code == "UNAVAILABLE" for e in probe.errors), probe.errors
    stale = [a for a in probe.answers if (a.policy_revision, marker(a)) != (good["revision"], "r1")]
    assert not stale, stale
    assert worker_status.active_revision == good["revision"]
    assert worker_status.last_failed_revision == refused["revision"]


def test_a_worker_that_keeps_crashing_stops_the_sidecar_non_zero_while_the_other_serves(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "quanze-w1.sock"
    with unix_workers(tmp_path, "server.worker_restart_limit=2") as server:
        killed = worker_pids(server)[1]
        # A file that is not a socket takes worker 1's path (the live socket's file is gone,
        # its listener unreachable): every worker started there fails to listen.
        blocked.unlink()
        blocked.write_text("not a socket\n")
        with (
            SocketProbe(f"unix:{tmp_path / 'quanze-w0.sock'}") as serving,
            SocketProbe(f"unix:{blocked}") as refusing,
        ):
            os.kill(killed, signal.SIGKILL)
            server.wait_event("worker_crash_loop", WAIT)
        exit_status = server.process.wait(WAIT)
    assert exit_status == 1
    crashes = events(server, "worker_crashed")
    assert [(e["worker"], e["exit"]) for e in crashes] == [
        (1, "killed by signal SIGKILL"),
        (1, "exit code 1"),
        (1, "exit code 1"),
    ]
    assert [e["delay_seconds"] for e in events(server, "worker_restarting")] == [0.5, 1.0]
    (loop,) = events(server, "worker_crash_loop")
    assert (loop["worker"], loop["crashes"], loop["last_exit"]) == (1, 3, "exit code 1")
    fatal = events(server, "fatal")
    assert len(fatal) == 2
    assert all(e["worker"] == 1 and "is not a socket" in e["error"] for e in fatal)
    assert not events(server, "worker_restarted")
    # Worker 0 answered throughout; worker 1's path refused every call.
    assert serving.answers
    assert all(a.decision is True for a in serving.answers)
    assert all(e.code == "UNAVAILABLE" for e in serving.errors), serving.errors
    assert refusing.errors
    assert not refusing.answers
    assert all(e.code == "UNAVAILABLE" for e in refusing.errors)
