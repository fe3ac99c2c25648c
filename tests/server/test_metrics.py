"""The metrics module's own logic: how answers and refusals are tallied into labels, which
state is read at a scrape, and the exporter's HTTP face and directory.

Recording writes real prometheus-client files in a temporary directory and the exporter
serves real HTTP on 127.0.0.1; across real `quanze serve` processes:
tests/integration/test_metrics.py.
"""

from __future__ import annotations

import os
import socket
import tempfile
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import values
from prometheus_client.multiprocess import MultiProcessCollector

from quanze.server import metrics
from quanze.server.errors import QuanzeError
from tests.support import Samples, scrape


def read(directory: Path) -> Samples:
    """What a scrape of `directory`'s files would show."""
    collected = MultiProcessCollector(None, path=str(directory)).collect()
    return {(s.name, frozenset(s.labels.items())): s.value for m in collected for s in m.samples}


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Samples]]:
    """Record into `tmp_path` as a worker does; the process's recorder is put back after."""
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    monkeypatch.setattr(metrics, "_on", None)
    monkeypatch.delenv(metrics.MULTIPROCESS_ENV, raising=False)
    metrics.record_to(str(tmp_path))

    def flushed() -> Samples:
        metrics.flush()
        return read(tmp_path)

    yield flushed
    values.close_all_multiprocess_files()


def answer(decision: bool, *reasons: tuple[str, str]) -> dict[str, Any]:
    return {
        "decision": decision,
        "reasons": [{"code": code, "article": article} for code, article in reasons],
    }


def test_nothing_is_recorded_or_imported_while_metrics_are_off(tmp_path: Path) -> None:
    assert metrics._on is None  # no test left a recorder behind
    metrics.answered("Check", [("case.read", answer(True, ("granted", "十七")))])
    metrics.evaluated("Check", 1000)
    with metrics.call("Check", context=None):
        pass
    metrics.log_written(1, 100)
    assert list(tmp_path.iterdir()) == []


def by(samples: Samples, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    """The samples of `name`, keyed by the values of the labels `keys`, in that order."""
    return {
        tuple(dict(labelled)[k] for k in keys): value
        for (n, labelled), value in samples.items()
        if n == name
    }


def test_answers_count_once_each_and_their_reasons_once_per_code(
    recorded: Callable[[], Samples],
) -> None:
    # An allow citing two provisions, one of them twice; a deny; an invalid batch item.
    allowed = answer(True, ("duty", "十七"), ("duty", "十七"), ("sole", "八"))
    outside = answer(False, ("outside_power_list", "六"))
    invalid = answer(False, ("invalid_request", ""))
    metrics.answered(
        "CheckBatch",
        [("case.interrogate_suspect", allowed), ("case.close", outside), ("", invalid)],
    )
    metrics.answered("Check", [("decision.prosecute", outside)])
    samples = recorded()
    assert by(samples, "quanze_decisions_total", "rpc", "decision", "action_family") == {
        ("CheckBatch", "allow", "case"): 1,
        ("CheckBatch", "deny", "case"): 1,
        ("CheckBatch", "deny", "invalid"): 1,
        ("Check", "deny", "decision"): 1,
    }
    assert by(samples, "quanze_decision_reasons_total", "rpc", "decision", "reason", "article") == {
        ("CheckBatch", "allow", "duty", "十七"): 1,
        ("CheckBatch", "allow", "sole", "八"): 1,
        ("CheckBatch", "deny", "outside_power_list", "六"): 1,
        ("CheckBatch", "deny", "invalid_request", ""): 1,
        ("Check", "deny", "outside_power_list", "六"): 1,
    }


@dataclass
class Context:
    """The status an aborted gRPC call left on its context (`code()`), or None."""

    status: grpc.StatusCode | None = None

    def code(self) -> grpc.StatusCode | None:
        return self.status


class AbortedError(Exception):
    """What `context.abort` raises."""


@pytest.mark.parametrize(
    ("status", "counted"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "quanze_invalid_requests_total"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "quanze_calls_shed_total"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "quanze_calls_expired_total"),
        (grpc.StatusCode.UNAVAILABLE, None),  # shutting down, or no policies yet
        (None, None),  # not an abort: e.g. the caller cancelled
    ],
)
def test_a_refused_call_is_counted_by_its_status_and_not_timed(
    recorded: Callable[[], Samples], status: grpc.StatusCode | None, counted: str | None
) -> None:
    with pytest.raises(AbortedError), metrics.call("ListAllowedActions", Context(status)):
        raise AbortedError
    watched = {
        "quanze_invalid_requests_total",
        "quanze_calls_shed_total",
        "quanze_calls_expired_total",
        "quanze_call_seconds_count",
    }
    refusals = {name: value for (name, _), value in recorded().items() if name in watched}
    assert refusals == ({counted: 1.0} if counted else {})


def test_an_answered_call_is_timed(recorded: Callable[[], Samples]) -> None:
    for _ in range(3):
        with metrics.call("Check", Context()):
            pass
    metrics.evaluated("CheckBatch", 200_000, 3_000_000)  # 0.2 ms and 3 ms
    samples = recorded()
    assert samples["quanze_call_seconds_count", labels(rpc="Check")] == 3
    assert samples["quanze_evaluation_seconds_count", labels(rpc="CheckBatch")] == 2
    assert samples["quanze_evaluation_seconds_sum", labels(rpc="CheckBatch")] == pytest.approx(
        0.0032
    )
    bucket = "quanze_evaluation_seconds_bucket"
    assert samples[bucket, labels(rpc="CheckBatch", le="0.00025")] == 1
    assert samples[bucket, labels(rpc="CheckBatch", le="0.005")] == 2


def test_only_the_decision_services_unreadable_bodies_count_as_invalid_requests(
    recorded: Callable[[], Samples],
) -> None:
    metrics.unreadable("/quanze.v1.DecisionService/CheckBatch")
    metrics.unreadable("/grpc.health.v1.Health/Check")
    invalid = {k: v for k, v in recorded().items() if k[0] == "quanze_invalid_requests_total"}
    assert invalid == {("quanze_invalid_requests_total", labels(rpc="CheckBatch")): 1}


@dataclass
class Status:
    active_revision: str = ""


@dataclass
class Policies:
    """The reloader as the exporter reads it."""

    status: Status = field(default_factory=Status)
    polls: bool = True
    reloads_applied: int = 0
    reloads_refused: int = 0
    polled_at: float | None = None


@pytest.fixture
def exporter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[metrics.Exporter]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with metrics.exporting("127.0.0.1:0") as serving:
        assert serving is not None
        yield serving


def test_the_serving_state_is_read_at_each_scrape(exporter: metrics.Exporter) -> None:
    policies = Policies()
    restarts = [0]
    exporter.watch(policies, lambda: restarts[0])
    first = scrape(exporter.bound)
    assert not [k for k in first if k[0] == "quanze_policy_revision_info"]  # nothing serves yet
    assert ("quanze_policy_last_poll_timestamp_seconds", frozenset()) not in first
    policies.status = Status("rev-2")
    policies.reloads_applied, policies.reloads_refused = 2, 1
    policies.polled_at = 1_700_000_000.5
    restarts[0] = 3
    second = scrape(exporter.bound)
    assert {k: v for k, v in second.items() if k[0] == "quanze_policy_revision_info"} == {
        ("quanze_policy_revision_info", labels(revision="rev-2")): 1
    }
    assert second["quanze_policy_reloads_applied_total", frozenset()] == 2
    assert second["quanze_policy_reloads_refused_total", frozenset()] == 1
    assert second["quanze_policy_last_poll_timestamp_seconds", frozenset()] == 1_700_000_000.5
    assert second["quanze_worker_restarts_total", frozenset()] == 3
    policies.polls = False  # the bundled policies: read once, never polled
    assert ("quanze_policy_last_poll_timestamp_seconds", frozenset()) not in scrape(exporter.bound)


def test_a_dead_workers_counts_stay_and_its_live_gauges_go(
    exporter: metrics.Exporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    monkeypatch.setattr(metrics, "_on", None)
    monkeypatch.delenv(metrics.MULTIPROCESS_ENV, raising=False)
    metrics.record_to(exporter.directory)  # this process plays the worker
    metrics.log_written(3, 900)
    metrics.log_checkpoint("w0", 1_700_000_000.0)
    metrics.log_checkpoint("w1", None)  # no checkpoint yet: no series
    metrics.flush()
    alive = scrape(exporter.bound)
    assert alive["quanze_decision_log_records_written_total", frozenset()] == 3
    assert alive["quanze_decision_log_written_bytes_total", frozenset()] == 900
    checkpoint = "quanze_decision_log_last_checkpoint_timestamp_seconds"
    assert {k: v for k, v in alive.items() if k[0] == checkpoint} == {
        (checkpoint, labels(stream="w0")): 1_700_000_000.0
    }
    exporter.process_gone(os.getpid())
    gone = scrape(exporter.bound)
    values.close_all_multiprocess_files()
    assert gone["quanze_decision_log_records_written_total", frozenset()] == 3
    assert not [k for k in gone if k[0] == checkpoint]


def test_only_the_metrics_path_is_served(exporter: metrics.Exporter) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(exporter.bound, "/")
    assert refused.value.code == 404
    assert b"/metrics" in refused.value.read()


def test_a_busy_address_is_an_error_naming_the_setting_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(QuanzeError, match=r"cannot serve metrics on .* \(metrics\.address\)"):
            metrics.Exporter(address)
    assert list(tmp_path.iterdir()) == []


def test_the_directory_goes_when_the_sidecar_stops_and_none_is_made_when_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with metrics.exporting("") as off:
        assert off is None
        assert list(tmp_path.iterdir()) == []
    with metrics.exporting("127.0.0.1:0") as on:
        assert on is not None
        assert [p.name for p in tmp_path.iterdir()] == [Path(on.directory).name]
    assert list(tmp_path.iterdir()) == []
