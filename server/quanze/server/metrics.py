"""Prometheus metrics: every metric's definition, the calls that record them, and `/metrics`.

Off unless `metrics.address` is set. Then `quanze serve` (the supervisor, or its one worker)
makes a private directory and serves `/metrics` on that address (`exporting`). Each worker
process counts in memory and adds its counts every second to memory-mapped files of its own
there (prometheus-client's multiprocess mode, `record_to`); each scrape adds up the files of
every worker that ever ran, so a worker's counts outlive it: totals never go backwards when
one dies and is restarted. What the serving process knows itself (the policy revision,
reloads, the last poll, worker restarts) it reads when scraped (`Exporter.watch`), so a
replaced revision leaves no stale series.

Recording is about 4 µs a Check (docs/benchmarks.md, "Metrics (issue 13)"); while off, every
recording function returns at once and prometheus-client is not even imported.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, make_server

import structlog

from quanze.server.errors import QuanzeError

log = structlog.get_logger("quanze.metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PATH = "/metrics"
# Seconds: a decision takes 0.05-0.3 ms to evaluate, a call 1-15 ms end to end; the engine's
# wall-clock ceiling is 5 s, but anything past 1 s is already an incident.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
# The `action_family` of a batch item that was invalid: its action name was never checked.
INVALID_ITEM = "invalid"
# How often a worker adds what it recorded to its files.
FLUSH_SECONDS = 1.0
# The decision service, whose unreadable request bodies count as invalid requests.
_DECISION_SERVICE = "/quanze.v1.DecisionService/"


class _Recorder:
    """One worker process's metrics: counts kept in memory, added to its files every second.

    A call's recording is a few dict updates under one lock (about 4 µs a Check); writing
    through the library's file-backed values costs about 1.5 µs a counter and 3 µs a histogram
    observation, 13-19 µs a Check (docs/benchmarks.md, "Metrics (issue 13)"). `flush` runs on
    a thread of its own every `FLUSH_SECONDS` and once more when the worker stops: a worker
    killed with SIGKILL loses at most that last second of counts; the totals never go back.
    """

    def __init__(self) -> None:
        # Imported here: only a process that records needs the library (see `record_to`).
        from prometheus_client import Counter, Gauge, Histogram  # noqa: PLC0415

        def total(name: str, text: str, *labels: str) -> Any:
            return Counter(name, text, labels, registry=None)

        def latency(name: str, text: str) -> Any:
            return Histogram(name, text, ["rpc"], buckets=LATENCY_BUCKETS, registry=None)

        self.decisions = total(
            "quanze_decisions",
            "Answers given, one per decision (a batch item, an action of a list).",
            "rpc", "decision", "action_family",
        )  # fmt: skip
        self.reasons = total(
            "quanze_decision_reasons",
            "Reasons cited by the answers given: each distinct code of an answer once.",
            "rpc", "decision", "reason", "article",
        )  # fmt: skip
        self.evaluation = latency(
            "quanze_evaluation_seconds",
            "The engine's time for one evaluation (a Check, a batch item, a whole list).",
        )
        self.handling = latency(
            "quanze_call_seconds",
            "Decision calls answered, from the handler's start to its answer.",
        )
        self.refusals = {
            "INVALID_ARGUMENT": total(
                "quanze_invalid_requests",
                "Calls refused as bad input: a field failed validation, or the body was not a "
                "message or was over server.max_request_bytes. Nothing was evaluated.",
                "rpc",
            ),
            "RESOURCE_EXHAUSTED": total(
                "quanze_calls_shed",
                "Calls shed unevaluated: the worker already held server.max_concurrent_calls.",
                "rpc",
            ),
            "DEADLINE_EXCEEDED": total(
                "quanze_calls_expired",
                "Calls answered DEADLINE_EXCEEDED unevaluated: the deadline had passed or "
                "left less time than such a call takes.",
                "rpc",
            ),
        }
        self.fallbacks = total(
            "quanze_engine_fallbacks",
            "Evaluations the compiled RVM could not finish, re-run on the tree-walking engine.",
        )
        self.log_records = total(
            "quanze_decision_log_records_written", "Decision records written to the log."
        )
        self.log_bytes = total(
            "quanze_decision_log_written_bytes", "Bytes written to the decision log."
        )
        self.log_lost = total(
            "quanze_decision_log_records_lost",
            "best_effort: decision records that never reached the log.",
        )
        self.log_refused = total(
            "quanze_decision_log_records_refused",
            "required: decision records that could not be written; their answers became denies.",
        )
        self.log_failures = total(
            "quanze_decision_log_write_failures", "Failed writes to the decision log."
        )
        self.log_checkpoint = Gauge(
            "quanze_decision_log_last_checkpoint_timestamp_seconds",
            "Unix time of the last checkpoint of each decision-log stream (one per live worker).",
            ["stream"],
            multiprocess_mode="livemax",
            registry=None,
        )
        self._bounds = [*LATENCY_BUCKETS, math.inf]
        # Since the last flush, by (metric, labels): a count, a gauge's value, or a histogram's
        # observations per bucket followed by their sum.
        self._lock = threading.Lock()
        self._counts: dict[_Key, float] = {}
        self._values: dict[_Key, float] = {}
        self._observed: dict[_Key, list[float]] = {}
        self._flushing = threading.Lock()
        self._children: dict[_Key, Any] = {}  # touched only while flushing

    def count(self, family: Any, labels: tuple[str, ...], amount: float = 1) -> None:
        key = (family, labels)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + amount

    def observe(self, family: Any, labels: tuple[str, ...], *seconds: float) -> None:
        key = (family, labels)
        with self._lock:
            observed = self._observed.get(key)
            if observed is None:
                observed = self._observed[key] = [0.0] * (len(self._bounds) + 1)
            for value in seconds:
                observed[bisect.bisect_left(self._bounds, value)] += 1
                observed[-1] += value

    def set(self, family: Any, labels: tuple[str, ...], value: float) -> None:
        with self._lock:
            self._values[family, labels] = value

    def answered(self, rpc: str, answers: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        decisions, reasons = self.decisions, self.reasons
        with self._lock:
            counts = self._counts
            for action, answer in answers:
                decision = "allow" if answer["decision"] is True else "deny"
                key: _Key = (decisions, (rpc, decision, action.partition(".")[0] or INVALID_ITEM))
                counts[key] = counts.get(key, 0) + 1
                for code, article in {(r["code"], r["article"]) for r in answer["reasons"]}:
                    key = (reasons, (rpc, decision, code, article))
                    counts[key] = counts.get(key, 0) + 1

    def flush(self) -> None:
        """Add what was recorded since the last flush to this process's files."""
        with self._flushing:
            with self._lock:
                counts, values, observed = self._counts, self._values, self._observed
                self._counts, self._values, self._observed = {}, {}, {}
            for key, amount in counts.items():
                self._child(key).inc(amount)
            for key, value in values.items():
                self._child(key).set(value)
            for key, tally in observed.items():
                # The library observes one value at a time; its child's parts take them all.
                child = self._child(key)
                child._sum.inc(tally[-1])
                for bucket, hits in zip(child._buckets, tally[:-1], strict=True):
                    if hits:
                        bucket.inc(hits)

    def _child(self, key: _Key) -> Any:
        found = self._children.get(key)
        if found is None:
            family, labels = key
            found = self._children[key] = family.labels(*labels) if labels else family
        return found

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # e.g. the disk is full: those counts are lost, not the next
                log.exception("metrics_flush_failed", directory=os.environ[MULTIPROCESS_ENV])


_Key = tuple[Any, tuple[str, ...]]
_on: _Recorder | None = None


def record_to(directory: str) -> None:
    """Record this process's metrics into `directory`, as files the exporter adds up.

    Called once by each worker of a `quanze serve` with `metrics.address`, before anything
    is recorded. The library picks file-backed values by the environment variable when it
    is imported; the value class is set here too, whatever imported it first.
    """
    global _on  # noqa: PLW0603 - one recorder per process, on for the process's life
    os.environ[MULTIPROCESS_ENV] = directory
    from prometheus_client import values  # noqa: PLC0415

    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _on = _Recorder()
    threading.Thread(target=_on.flush_forever, name="quanze-metrics-flush", daemon=True).start()


def flush() -> None:
    """Write what was recorded to the files now (a worker that stops does, last)."""
    on = _on
    if on is not None:
        on.flush()


# ---------------------------------------------------------------------- recording


def answered(rpc: str, answers: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """Count the answers a call gave, as (action name, answer); "" for an invalid batch item."""
    on = _on
    if on is not None:
        on.answered(rpc, answers)


def evaluated(rpc: str, *nanoseconds: int) -> None:
    """The engine's time for each evaluation a call made."""
    on = _on
    if on is not None:
        on.observe(on.evaluation, (rpc,), *(elapsed / 1e9 for elapsed in nanoseconds))


class _Call:
    """Times a decision call that is answered; counts one refused with a status it names."""

    __slots__ = ("_context", "_on", "_rpc", "_started")

    def __init__(self, on: _Recorder, rpc: str, context: Any) -> None:
        self._on, self._rpc, self._context = on, rpc, context
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        on = self._on
        if kind is None:
            on.observe(on.handling, (self._rpc,), time.perf_counter() - self._started)
            return
        # An abort raises; the status it set is on the context (None for anything else).
        code = getattr(self._context.code(), "name", "")
        family = on.refusals.get(code)
        if family is not None:
            on.count(family, (self._rpc,))


def call(rpc: str, context: Any) -> contextlib.AbstractContextManager[None]:
    """Around a decision call's handler: its time when answered, or its refusal."""
    on = _on
    return _IDLE if on is None else _Call(on, rpc, context)


_IDLE = contextlib.nullcontext()


def unreadable(method: str) -> None:
    """A request body refused before parsing (too large) or by the parser, for `method`."""
    if method.startswith(_DECISION_SERVICE):
        refused(method[len(_DECISION_SERVICE) :])


def refused(rpc: str) -> None:
    """A call of `rpc` refused before the decision service saw it (unreadable, too large, or
    refused by another binding such as AuthZEN HTTP): counted as INVALID_ARGUMENT."""
    on = _on
    if on is not None:
        on.count(on.refusals["INVALID_ARGUMENT"], (rpc,))


def engine_fallback() -> None:
    on = _on
    if on is not None:
        on.count(on.fallbacks, ())


def log_written(records: int, size: int) -> None:
    on = _on
    if on is not None:
        on.count(on.log_records, (), records)
        on.count(on.log_bytes, (), size)


def log_lost(records: int) -> None:
    on = _on
    if on is not None:
        on.count(on.log_lost, (), records)


def log_refused(records: int) -> None:
    on = _on
    if on is not None:
        on.count(on.log_refused, (), records)


def log_write_failed() -> None:
    on = _on
    if on is not None:
        on.count(on.log_failures, ())


def log_checkpoint(stream: str, at: float | None) -> None:
    """The time of `stream`'s last checkpoint (None: none yet)."""
    on = _on
    if on is not None and at is not None:
        on.set(on.log_checkpoint, (stream,), at)


# ---------------------------------------------------------------------- exporting


class _Revision(Protocol):
    @property
    def active_revision(self) -> str: ...


class PolicyFollower(Protocol):
    """What the exporter reads of the reloader in the serving process (`Reloader`)."""

    @property
    def status(self) -> _Revision: ...
    @property
    def polls(self) -> bool: ...
    @property
    def reloads_applied(self) -> int: ...
    @property
    def reloads_refused(self) -> int: ...
    @property
    def polled_at(self) -> float | None: ...


class _ServingState:
    """The metrics of the serving process's own state, read at each scrape."""

    def __init__(self, policies: PolicyFollower, restarts: Callable[[], int]) -> None:
        self._policies = policies
        self._restarts = restarts

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (  # noqa: PLC0415
            CounterMetricFamily,
            GaugeMetricFamily,
        )

        policies = self._policies
        revision = policies.status.active_revision
        info = GaugeMetricFamily(
            "quanze_policy_revision_info",
            "1 for the policy revision that serves (none before the first one).",
            labels=["revision"],
        )
        if revision:
            info.add_metric([revision], 1)
        yield info
        yield CounterMetricFamily(
            "quanze_policy_reloads_applied",
            "New policy revisions that went into service (the first one included).",
            policies.reloads_applied,
        )
        yield CounterMetricFamily(
            "quanze_policy_reloads_refused",
            "New policy revisions refused: unsigned, failing their gate, or failing to load.",
            policies.reloads_refused,
        )
        polled = policies.polled_at
        if policies.polls and polled is not None:
            yield GaugeMetricFamily(
                "quanze_policy_last_poll_timestamp_seconds",
                "Unix time of the last poll that read the policy source.",
                polled,
            )
        yield CounterMetricFamily(
            "quanze_worker_restarts",
            "Worker processes restarted by the supervisor after a crash (0 with one worker).",
            self._restarts(),
        )


class Exporter:
    """`/metrics` on `address`: the workers' files in `directory`, and the serving state."""

    def __init__(self, address: str) -> None:
        from prometheus_client import CollectorRegistry, make_wsgi_app  # noqa: PLC0415
        from prometheus_client.exposition import ThreadingWSGIServer  # noqa: PLC0415
        from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        self.directory = tempfile.mkdtemp(prefix="quanze-metrics-")
        self._registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(self._registry, path=self.directory)  # type: ignore[no-untyped-call]
        scrape = make_wsgi_app(self._registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == PATH:
                result: Iterable[bytes] = scrape(environ, start_response)
                return result
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"Quanze serves its metrics at {PATH}\n".encode()]

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        try:
            self._server = make_server(host, int(port), app, Server, handler_class=_Quiet)
        except OSError as exc:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise QuanzeError(
                f"cannot serve metrics on {address} (metrics.address): {exc.strerror or exc}; "
                "is another process using it? Choose another HOST:PORT, or leave "
                "metrics.address empty to turn metrics off"
            ) from exc
        shown = f"[{host}]" if ":" in host else host
        self.bound = f"{shown}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="quanze-metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics_listening", address=self.bound, path=PATH)

    def watch(self, policies: PolicyFollower, restarts: Callable[[], int] = lambda: 0) -> None:
        """Report `policies`' state and the `restarts` count at each scrape."""
        self._registry.register(_ServingState(policies, restarts))

    def process_gone(self, pid: int) -> None:
        """A worker died: drop its gauges of live state (its counts stay, as they should)."""
        from prometheus_client.multiprocess import mark_process_dead  # noqa: PLC0415

        mark_process_dead(pid, self.directory)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def exporting(address: str) -> Iterator[Exporter | None]:
    """An `Exporter` on `address` for as long as the sidecar serves; None when it is ""."""
    if not address:
        yield None
        return
    exporter = Exporter(address)
    try:
        yield exporter
    finally:
        exporter.close()


class _Quiet(WSGIRequestHandler):
    """Scrapes are not logged: one every few seconds would drown the sidecar's own lines."""

    def log_message(self, format: str, *args: Any) -> None:
        pass
