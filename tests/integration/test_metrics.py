"""Prometheus metrics on real `quanze serve` processes, scraped over real HTTP.

`/metrics` adds up every worker: the counters move by exactly the answers and refusals the
callers received, across two workers; a worker killed with SIGKILL takes none of its counts
with it and its restart is counted. Without `metrics.address` nothing listens and no
directory is made.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from quanze.client import Answer, Client, InvalidRequestError
from quanze.server.decisionlog import records
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc
from tests.integration.load import (
    ALLOWED,
    DENIED,
    LISTED,
    OWN_CONNECTION,
    REQUESTS,
    publish_marker,
    sidecar,
    worker_pids,
)
from tests.integration.support import wait_until
from tests.server.decisionlog.support import records_in
from tests.support import Samples, scrape, trimmed_policies

pytestmark = pytest.mark.slow

WAIT = 180.0  # starting a worker compiles the policies; 2 busy cores can take a while
TIMEOUT = 60.0  # per call: generous, so that no call runs out of time on a loaded machine
UNKNOWN_ACTION = "case.no_such_action"


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def labelled(counts: Counter[tuple[str, ...]], *names: str) -> dict[frozenset[Any], float]:
    """`counts` as `series` gives them: label sets to values, zeros left out."""
    return {frozenset(zip(names, key, strict=True)): float(n) for key, n in counts.items() if n}


class Seen:
    """What the callers received, tallied the way the metrics should count it."""

    def __init__(self, *, logged: bool = True) -> None:
        self.logged = logged  # with a decision log
        self.decisions: Counter[tuple[str, ...]] = Counter()
        self.reasons: Counter[tuple[str, ...]] = Counter()
        self.answered: Counter[tuple[str, ...]] = Counter()  # calls answered, by rpc
        self.evaluated: Counter[tuple[str, ...]] = Counter()  # engine evaluations, by rpc
        self.refused: Counter[tuple[str, ...]] = Counter()  # (status code, rpc)
        self.records = 0  # decision records the log should hold

    def answer(self, rpc: str, action: str, decision: bool, reasons: Iterable[Any]) -> None:
        verdict = "allow" if decision else "deny"
        self.decisions[rpc, verdict, action.partition(".")[0] or "invalid"] += 1
        for code, article in {(r.code, r.article) for r in reasons}:
            self.reasons[rpc, verdict, code, article] += 1

    def check(self, request: dict[str, Any], answer: Answer | pb.CheckResponse) -> None:
        self.answer("Check", request["action"]["name"], answer.decision, answer.reasons)
        self.answered["Check",] += 1
        self.evaluated["Check",] += 1
        self.records += 1

    def expected(self, samples: Samples) -> None:
        """Every metric of calls and answers equals what was seen (an AssertionError if not)."""
        assert series(samples, "quanze_decisions_total") == labelled(
            self.decisions, "rpc", "decision", "action_family"
        )
        assert series(samples, "quanze_decision_reasons_total") == labelled(
            self.reasons, "rpc", "decision", "reason", "article"
        )
        assert series(samples, "quanze_call_seconds_count") == labelled(self.answered, "rpc")
        assert series(samples, "quanze_evaluation_seconds_count") == labelled(self.evaluated, "rpc")
        for code, name in (
            ("INVALID_ARGUMENT", "quanze_invalid_requests_total"),
            ("RESOURCE_EXHAUSTED", "quanze_calls_shed_total"),
            ("DEADLINE_EXCEEDED", "quanze_calls_expired_total"),
        ):
            wanted = Counter({(rpc,): n for (c, rpc), n in self.refused.items() if c == code})
            assert series(samples, name) == labelled(wanted, "rpc"), name
        written = samples["quanze_decision_log_records_written_total", frozenset()]
        assert written == (self.records if self.logged else 0)


def settled(address: str, seen: Seen) -> Samples:
    """The scrape once it shows what `seen` holds: workers add their counts every second."""
    deadline = time.monotonic() + WAIT
    while True:
        samples = scrape(address)
        try:
            seen.expected(samples)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        else:
            return samples


def one_check(address: str, request: dict[str, Any], seen: Seen) -> None:
    """A Check on a connection of its own, so that the kernel spreads them over the workers."""
    with Client(address, timeout=TIMEOUT, channel_options=[OWN_CONNECTION]) as client:
        seen.check(request, client.check(request))


def varied_calls(address: str, seen: Seen) -> None:
    """Checks, a batch with an invalid item, a list and an invalid Check, each on its own
    connection."""
    for index in range(12):
        one_check(address, REQUESTS[index % len(REQUESTS)], seen)
    unknown = copy.deepcopy(DENIED)
    unknown["action"]["name"] = UNKNOWN_ACTION
    with Client(address, timeout=TIMEOUT, channel_options=[OWN_CONNECTION]) as client:
        items = [ALLOWED, DENIED, unknown]
        for request, item in zip(items, client.check_batch(items), strict=True):
            invalid = item.error is not None
            action = "" if invalid else request["action"]["name"]
            seen.answer("CheckBatch", action, item.answer.decision, item.answer.reasons)
            seen.evaluated["CheckBatch",] += 0 if invalid else 1
        seen.answered["CheckBatch",] += 1
        seen.records += len(items)
    with Client(address, timeout=TIMEOUT, channel_options=[OWN_CONNECTION]) as client:
        listed = client.allowed_actions(LISTED["subject"], LISTED["resource"], LISTED["context"])
        for each in listed:
            seen.answer(
                "ListAllowedActions", each.action, each.answer.decision, each.answer.reasons
            )
        seen.answered["ListAllowedActions",] += 1
        seen.evaluated["ListAllowedActions",] += 1
        seen.records += 1
    with Client(address, timeout=TIMEOUT, channel_options=[OWN_CONNECTION]) as client:
        with pytest.raises(InvalidRequestError, match=UNKNOWN_ACTION):
            client.check(unknown)
        seen.refused["INVALID_ARGUMENT", "Check"] += 1


async def burst(address: str, calls: int, seen: Seen) -> None:
    """`calls` concurrent Checks on one connection: more than one call slot holds."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.DecisionServiceStub(channel)

        async def one(index: int) -> tuple[dict[str, Any], Any]:
            request = REQUESTS[index % len(REQUESTS)]
            try:
                message = json_format.ParseDict(request, pb.CheckRequest())
                return request, await stub.Check(message, timeout=TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                return request, exc

        for request, answer in await asyncio.gather(*(one(i) for i in range(calls))):
            if isinstance(answer, grpc.aio.AioRpcError):
                seen.refused[answer.code().name, "Check"] += 1
            else:
                seen.check(request, answer)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (its sockets in state LISTEN)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory of the sidecars the test starts (TMPDIR), empty at first."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setenv("TMPDIR", str(where))
    return where


def metrics_dirs(scratch: Path) -> list[Path]:
    return sorted(scratch.glob("quanze-metrics-*"))


def test_metrics_add_up_both_workers_and_outlive_a_killed_one(
    tmp_path: Path, scratch: Path
) -> None:
    log_dir = tmp_path / "log"
    seen = Seen()
    with sidecar(
        tmp_path,
        "--workers=2",
        f"--decision-log={log_dir}",
        "--set=metrics.address=127.0.0.1:0",
        # One call slot a worker: a burst of concurrent calls is shed at once.
        "--set=server.max_concurrent_calls=1",
    ) as server:
        metrics_at = str(server.wait_event("metrics_listening")["address"])
        active = server.wait_event("policy_revision_active", WAIT)
        pids = worker_pids(server)
        assert listening_ports(server.process.pid) == {int(metrics_at.rsplit(":", 1)[1])}
        assert len(metrics_dirs(scratch)) == 1

        varied_calls(server.address, seen)
        for _ in range(5):  # how many calls overlap depends on the machine's load
            asyncio.run(burst(server.address, 200, seen))
            if seen.refused["RESOURCE_EXHAUSTED", "Check"]:
                break
        assert seen.refused["RESOURCE_EXHAUSTED", "Check"], seen.refused
        before = settled(metrics_at, seen)
        logged = records_in(log_dir, records.DECISION)
        assert len(logged) == seen.records
        streams = {r["labels"]["stream"] for r in logged}
        assert len(streams) == 2, streams  # both workers answered
        checkpoints = series(before, "quanze_decision_log_last_checkpoint_timestamp_seconds")
        assert {dict(labels)["stream"] for labels in checkpoints} == streams
        assert series(before, "quanze_policy_revision_info") == {
            frozenset({("revision", active["revision"])}): 1.0
        }
        assert before["quanze_policy_reloads_applied_total", frozenset()] == 1
        assert before["quanze_policy_reloads_refused_total", frozenset()] == 0
        assert before["quanze_worker_restarts_total", frozenset()] == 0

        first_instances = {r["labels"]["id"] for r in logged}
        mark = server.count()
        os.kill(pids[1], signal.SIGKILL)
        server.wait_event("worker_restarted", WAIT, after=mark)
        after_kill = scrape(metrics_at)
        went_back = {
            key: (value, after_kill.get(key))
            for key, value in before.items()
            if key[0].endswith(("_total", "_count", "_sum", "_bucket"))
            and not after_kill.get(key, -1.0) >= value
        }
        assert not went_back, went_back
        seen.expected(after_kill)  # nothing was called meanwhile: nothing moved
        assert after_kill["quanze_worker_restarts_total", frozenset()] == 1

        def restarted_worker_answered() -> bool:
            one_check(server.address, REQUESTS[seen.records % len(REQUESTS)], seen)
            newest = records_in(log_dir, records.DECISION)
            return any(r["labels"]["id"] not in first_instances for r in newest)

        wait_until(restarted_worker_answered, "the restarted worker answers calls", WAIT)
        settled(metrics_at, seen)
    assert server.process.returncode == 0
    assert not metrics_dirs(scratch)


def test_without_metrics_address_nothing_listens_and_no_directory_is_made(
    tmp_path: Path, scratch: Path
) -> None:
    with sidecar(tmp_path, "--workers=2") as server:
        server.wait_event("policy_revision_active", WAIT)
        grpc_port = int(server.address.rsplit(":", 1)[1])
        workers = worker_pids(server)
        one_check(server.address, ALLOWED, Seen())
        assert listening_ports(server.process.pid) == set()
        assert [listening_ports(pid) for pid in workers.values()] == [{grpc_port}] * 2
        assert not [e for e in list(server.events) if e["event"] == "metrics_listening"]
        assert list(scratch.iterdir()) == []


def test_one_worker_serves_its_own_metrics_and_the_policy_reloads(
    tmp_path: Path, scratch: Path
) -> None:
    # Without the bundled test suite, which no gate here runs: each `policy check` is quicker.
    policies = trimmed_policies(tmp_path / "policies")
    seen = Seen(logged=False)
    with sidecar(
        tmp_path,
        "--workers=1",
        "--set=metrics.address=127.0.0.1:0",
        f"--set=policies.path={policies}",
        f"--set=policies.cache_dir={tmp_path / 'cache'}",
        "--set=policies.poll_interval_seconds=0.2",
        "--set=policies.require_tests_pass=false",
    ) as server:
        metrics_at = str(server.wait_event("metrics_listening")["address"])
        first = server.wait_event("policy_revision_active", WAIT)
        one_check(server.address, DENIED, seen)
        mark = server.count()
        publish_marker(policies, "r1", tmp_path)
        second = server.wait_event("policy_revision_active", WAIT, after=mark)
        mark = server.count()
        (policies / "quanze" / "broken.rego").write_text("package quanze.broken\n\nnot rego\n")
        server.wait_event("policy_revision_refused", WAIT, after=mark)
        polled_since = scrape(metrics_at)["quanze_policy_last_poll_timestamp_seconds", frozenset()]

        def polled_again() -> bool:
            polled = scrape(metrics_at)["quanze_policy_last_poll_timestamp_seconds", frozenset()]
            return polled > polled_since

        wait_until(polled_again, "the source is polled again", WAIT)
        samples = settled(metrics_at, seen)
    assert server.process.returncode == 0
    assert second["revision"] != first["revision"]
    # Only the revision that serves, not the one it replaced.
    assert series(samples, "quanze_policy_revision_info") == {
        frozenset({("revision", second["revision"])}): 1.0
    }
    assert samples["quanze_policy_reloads_applied_total", frozenset()] == 2
    assert samples["quanze_policy_reloads_refused_total", frozenset()] == 1
    assert samples["quanze_worker_restarts_total", frozenset()] == 0
    assert not metrics_dirs(scratch)
