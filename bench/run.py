"""Benchmark harness: latency and throughput of the real Quanze sidecar, and the engine floor.

Starts `quanze serve` on 127.0.0.1, drives it from separate client processes (spawned) with
generated gRPC stubs, measures the same inputs in-process as the floor, prints a table and
writes JSON to bench/results/. `--quick` is a smoke run of a few seconds.

    python bench/run.py                 # full run (workers 2, 3 repeats, ~3 minutes)
    python bench/run.py --quick         # smoke run
    python bench/run.py --workers 1 --phases single

See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import queue
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quanze.client._connections import DEFAULT_CONNECTIONS, OWN_CONNECTION, Spread
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

Json = dict[str, Any]
Message = Any  # a generated protobuf message

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PHASES = ("engine", "single", "concurrent", "open", "profile", "overload")
OVERLOAD_CALLERS = (16, 256, 2048)
OVERLOAD_DEADLINE = 0.5  # seconds: the Python client's usual timeout
OVERLOAD_BACKOFF = 0.05  # seconds a caller waits after RESOURCE_EXHAUSTED before its next call
DEFAULT_PHASES = ("engine", "single", "concurrent", "open")
KINDS = ("check", "batch", "list", "health")
# The single-client measurements: Check and the null RPC take turns, then batch, then list.
SINGLE = ("check+health", "batch", "list")
BATCH_SIZE = 10
PACED_PAUSE = 0.001  # seconds between calls of the ".paced" floor measurements

# Targets the numbers are judged against (issue 12, docs/benchmarks.md).
TARGET_CHECK_P50_MS = 1.0
TARGET_CHECK_OVER_NULL = 2.0
TARGET_DECIDER_P50_MS = 0.2
TARGET_CLOSED_LOOP_RATE = 2000.0
TARGET_OPEN_P99_MS = 5.0
TARGET_OPEN_RATE = 1000.0
TARGET_LIST_P50_MS = 5.0
TARGET_BATCH_P50_MS = 3.0


class BenchError(Exception):
    """The benchmark could not run (server did not start, a client failed, time ran out)."""


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """How big every phase is. Every measurement is bounded by a call count and by time."""

    workers: int
    repeat: int
    warmup_calls: int
    warmup_seconds: float
    calls: int
    seconds: float
    concurrency: int
    concurrent_seconds: float
    rate: float
    open_seconds: float
    open_clients: int
    engine_calls: int
    engine_seconds: float
    call_timeout: float
    time_limit: float
    # Connections per client process, each call taking one as the Python client does.
    connections: int = DEFAULT_CONNECTIONS
    # ListAllowedActions requests the corpus summary decides (None: all): each takes ~10 ms.
    corpus_lists: int | None = None


FULL = Plan(
    workers=2,
    repeat=3,
    warmup_calls=500,
    warmup_seconds=2.0,
    calls=20_000,
    seconds=5.0,
    concurrency=4,
    concurrent_seconds=5.0,
    rate=TARGET_OPEN_RATE,
    open_seconds=10.0,
    open_clients=4,
    engine_calls=20_000,
    engine_seconds=2.0,
    call_timeout=10.0,
    time_limit=900.0,
)

QUICK = Plan(
    workers=2,
    repeat=1,
    warmup_calls=30,
    warmup_seconds=0.2,
    calls=400,
    seconds=0.4,
    concurrency=2,
    concurrent_seconds=0.8,
    rate=300.0,
    open_seconds=1.0,
    open_clients=2,
    engine_calls=300,
    engine_seconds=0.2,
    call_timeout=5.0,
    time_limit=90.0,
    corpus_lists=30,
)


# --------------------------------------------------------------------------- inputs


@functools.cache
def check_requests() -> list[Json]:
    """The Check requests every phase cycles through: those of the shared decision table."""
    return [case.request for case in load_decision_table(load_bundle().root)]


@functools.cache
def _shared_parts() -> list[Json]:
    """Distinct (subject, resource, context) of the corpus, in first-seen order."""
    seen: dict[str, Json] = {}
    for request in check_requests():
        parts = {k: v for k, v in request.items() if k != "action"}
        seen.setdefault(json.dumps(parts, sort_keys=True), parts)
    return list(seen.values())


def batch_requests() -> list[tuple[Json, list[Json]]]:
    """(defaults, items) per batch: 10 items sharing subject/resource/context, varied actions."""
    actions = sorted(load_bundle().actions)
    batches = []
    for index, parts in enumerate(_shared_parts()):
        start = index * BATCH_SIZE
        items = [
            {"action": {"name": actions[(start + k) % len(actions)]}} for k in range(BATCH_SIZE)
        ]
        batches.append((parts, items))
    return batches


def list_requests() -> list[Json]:
    """ListAllowedActions requests: the corpus's distinct subject/resource/context."""
    return _shared_parts()


def _messages() -> tuple[list[Message], list[Message], list[Message]]:
    checks = [json_format.ParseDict(r, pb.CheckRequest()) for r in check_requests()]
    batches = [
        json_format.ParseDict({**defaults, "evaluations": items}, pb.CheckBatchRequest())
        for defaults, items in batch_requests()
    ]
    lists = [json_format.ParseDict(r, pb.ListAllowedActionsRequest()) for r in list_requests()]
    return checks, batches, lists


# --------------------------------------------------------------------------- statistics


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def latency_stats(latencies: Sequence[float]) -> Json:
    """n, p50/p95/p99/mean/max in milliseconds of latencies given in seconds."""
    if not latencies:
        return {"n": 0}
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "p50_ms": round(_percentile(ordered, 0.50) * 1000, 4),
        "p95_ms": round(_percentile(ordered, 0.95) * 1000, 4),
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 4),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 4),
        "max_ms": round(ordered[-1] * 1000, 4),
    }


def aggregate(runs: Sequence[Json]) -> Json:
    """The median over repeats of every numeric statistic, with the runs kept."""
    keys = [
        k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    median = {k: round(statistics.median(r[k] for r in runs if k in r), 4) for k in keys}
    return {"median": median, "runs": list(runs)}


# --------------------------------------------------------------------------- server


class Server:
    """`quanze serve` as a subprocess in its own process group; always stopped by `stop`."""

    def __init__(
        self,
        workers: int,
        timeout: float = 30.0,
        prefix: Sequence[str] = (),
        extra: Sequence[str] = (),
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        program = list(prefix) or _quanze_command()
        self.command = [
            *program,
            "serve",
            "--address",
            "127.0.0.1:0",
            "--workers",
            str(workers),
            *extra,
        ]
        self.address = ""
        self.pids: list[int] = []
        self.revision = ""
        self.events: Counter[str] = Counter()
        self.tail: list[str] = []
        self._loaded = 0
        self._changed = threading.Condition()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "RUST_BACKTRACE"}
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name="server-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.timeout
        with self._changed:
            ready = self._changed.wait_for(
                lambda: self._loaded >= self.workers or self._process_exited(),
                timeout=max(0.0, deadline - time.monotonic()),
            )
        if not ready or self._process_exited() or not self.address:
            raise BenchError(f"the server did not load its policies: {self._describe()}")
        self._wait_serving(deadline)
        # Workers are the server's descendants; the parent (idle with N > 1) is counted too.
        assert self._process is not None
        found = [self._process.pid, *descendants(self._process.pid)]
        self.pids = sorted(set(found) | set(self.pids))

    def stop(self) -> None:
        """SIGTERM the server (it forwards to its workers), then SIGKILL the group if needed."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        # Workers share the server's process group; make sure none outlives it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        for raw in self._process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.tail = [*self.tail[-19:], line]
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(event, dict):
                continue
            name = str(event.get("event", ""))
            with self._changed:
                self.events[name] += 1
                if name in ("starting_workers", "listening") and not self.address:
                    self.address = str(event["address"])
                if name == "listening":
                    self.pids.append(int(event["pid"]))
                if name == "policies_loaded":
                    self._loaded += 1
                    self.revision = str(event.get("revision", ""))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _process_exited(self) -> bool:
        return self._process is not None and self._process.poll() is not None

    def _wait_serving(self, deadline: float) -> None:
        request = health_pb2.HealthCheckRequest(service="")
        last = ""
        while time.monotonic() < deadline:
            with grpc.insecure_channel(self.address) as channel:
                try:
                    answer = _health_stub(channel).Check(request, timeout=1.0)
                except grpc.RpcError as exc:
                    last = str(exc.code())
                else:
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                    last = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            time.sleep(0.05)
        raise BenchError(f"the server at {self.address} never answered SERVING (last: {last})")

    def _describe(self) -> str:
        code = self._process.poll() if self._process else None
        return f"exit code {code}; last log lines:\n" + "\n".join(self.tail)


def _health_stub(channel: grpc.Channel) -> Any:
    """The standard grpc.health.v1 stub (grpc_health ships no types)."""
    return health_pb2_grpc.HealthStub(channel)


def _quanze_command() -> list[str]:
    beside = Path(sys.executable).parent / "quanze"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("quanze")
    return [found] if found else [sys.executable, "-m", "quanze.server.cli"]


def descendants(root: int) -> list[int]:
    """Every process below `root`, found through the parent ids in /proc/PID/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def cpu_times(pids: Sequence[int]) -> list[float]:
    """CPU seconds used so far by each of `pids`, all its threads.

    Exact (nanoseconds, /proc/PID/task/TID/schedstat) where the kernel keeps it, so that a
    block of a few hundred calls can be charged its own CPU; else user + system time from
    /proc/PID/stat, in clock ticks (10 ms).
    """
    return [_schedstat(pid) if _SCHEDSTAT else _stat_ticks(pid) for pid in pids]


_SCHEDSTAT = Path("/proc/self/schedstat").exists()


def _schedstat(pid: int) -> float:
    used = 0
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(OSError, IndexError, ValueError),
                open(f"/proc/{pid}/task/{task}/schedstat", "rb") as stat,
            ):
                used += int(stat.read().split()[0])
    return used / 1e9


def _stat_ticks(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _cpu_delta(before: Sequence[float], pids: Sequence[int]) -> list[float]:
    return [round(after - was, 6) for after, was in zip(cpu_times(pids), before, strict=True)]


# --------------------------------------------------------------------------- client processes


@dataclass(frozen=True)
class Job:
    """What every process of one phase is asked to do."""

    plan: Plan
    address: str = ""
    server_pids: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()


if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    Target = Callable[[Job, Barrier, "Queue[Json]", int], None]


def _closed_loop(
    method: Callable[..., Any],
    messages: Sequence[Message],
    *,
    offset: int,
    calls: int,
    seconds: float,
    timeout: float,
) -> tuple[list[float], Counter[str], float]:
    """Call `method` back to back; returns (latencies of successes, errors by code, elapsed)."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    count = len(messages)
    started = time.perf_counter()
    deadline = started + seconds
    for i in range(calls):
        message = messages[(offset + i) % count]
        sent = time.perf_counter()
        try:
            method(message, timeout=timeout)
        except grpc.RpcError as exc:
            errors[str(exc.code())] += 1
        else:
            latencies.append(time.perf_counter() - sent)
        if sent >= deadline:
            break
    return latencies, errors, time.perf_counter() - started


def closed_loop_client(job: Job, barrier: Barrier, out: Queue[Json], index: int) -> None:
    """One client process: for each measurement, warm up, wait for the others, then measure.

    A measurement is a kind ("check") or kinds that take turns ("check+health"): blocks of
    `ALTERNATE_BLOCK` calls of each in turn, so drift on a noisy machine falls on all alike;
    the client's and the server's CPU are read when the kind changes, and charged to it.
    """
    plan = job.plan
    try:
        checks, batches, lists = _messages()
        with _channels(job.address, plan.connections) as channels:
            calls = {kind: _call_of(kind, channels, checks, batches, lists) for kind in KINDS}
            offset = index * 13
            for measurement in job.kinds:
                kinds = measurement.split("+")
                for kind in kinds:
                    method, messages = calls[kind]
                    _closed_loop(
                        method,
                        messages,
                        offset=offset,
                        calls=plan.warmup_calls,
                        seconds=plan.warmup_seconds,
                        timeout=plan.call_timeout,
                    )
                barrier.wait(timeout=120)
                for kind, measured in _alternate(kinds, calls, job, offset).items():
                    out.put({"index": index, "kind": kind, **measured})
    except BaseException:  # report any failure to the parent instead of hanging it
        out.put({"index": index, "error": traceback.format_exc()})


ALTERNATE_BLOCK = 20  # calls of one kind before the next kind's turn


def _alternate(
    kinds: Sequence[str],
    calls: dict[str, tuple[Callable[..., Any], Sequence[Message]]],
    job: Job,
    offset: int,
) -> dict[str, Json]:
    """`kinds` in turn, blocks of ALTERNATE_BLOCK calls (one kind: one long block), until each
    made `plan.calls` calls or `plan.seconds` passed: per kind its latencies, errors, elapsed
    time and the client's and server's CPU seconds during its blocks."""
    plan = job.plan
    block = ALTERNATE_BLOCK if len(kinds) > 1 else plan.calls
    measured: dict[str, Json] = {
        kind: {
            "latencies": [],
            "errors": Counter(),
            "elapsed": 0.0,
            "client_cpu": 0.0,
            "server_cpu": [0.0] * len(job.server_pids),
        }
        for kind in kinds
    }
    deadline = time.perf_counter() + plan.seconds * len(kinds)
    turn = 0
    while time.perf_counter() < deadline and any(
        len(m["latencies"]) + sum(m["errors"].values()) < plan.calls for m in measured.values()
    ):
        kind = kinds[turn % len(kinds)]
        method, messages = calls[kind]
        into = measured[kind]
        done = len(into["latencies"]) + sum(into["errors"].values())
        client_cpu, server_cpu = time.process_time(), cpu_times(job.server_pids)
        latencies, errors, elapsed = _closed_loop(
            method,
            messages,
            offset=offset + done,
            calls=min(block, plan.calls - done),
            seconds=min(plan.seconds, deadline - time.perf_counter()),
            timeout=plan.call_timeout,
        )
        into["client_cpu"] += time.process_time() - client_cpu
        spent = _cpu_delta(server_cpu, job.server_pids)
        into["server_cpu"] = [a + b for a, b in zip(into["server_cpu"], spent, strict=True)]
        into["latencies"].extend(latencies)
        into["errors"].update(errors)
        into["elapsed"] += elapsed
        turn += 1
    for into in measured.values():
        into["errors"] = dict(into["errors"])
    return measured


def _call_of(
    kind: str,
    channels: Sequence[grpc.Channel],
    checks: Sequence[Message],
    batches: Sequence[Message],
    lists: Sequence[Message],
) -> tuple[Callable[..., Any], Sequence[Message]]:
    """The method for `kind` (spread over `channels` as the Python client does) and its inputs."""
    if kind == "health":
        # The standard health check of the same server: a gRPC call doing no work.
        stubs = [_health_stub(c) for c in channels]
        return _spread([s.Check for s in stubs]), [health_pb2.HealthCheckRequest()]
    decision = [pb_grpc.DecisionServiceStub(c) for c in channels]
    if kind == "check":
        return _spread([s.Check for s in decision]), checks
    if kind == "batch":
        return _spread([s.CheckBatch for s in decision]), batches
    return _spread([s.ListAllowedActions for s in decision]), lists


def _spread(methods: Sequence[Callable[..., Any]]) -> Callable[..., Any]:
    """One method over several connections, each call taking one as the Python client does."""
    if len(methods) == 1:
        return methods[0]
    spread = Spread(methods)

    def call(message: Message, *, timeout: float) -> Any:
        index, method = spread.take()
        try:
            return method(message, timeout=timeout)
        finally:
            spread.give(index)

    return call


@contextlib.contextmanager
def _channels(address: str, connections: int) -> Iterator[list[grpc.Channel]]:
    """`connections` channels to `address`, each on a connection of its own, all ready."""
    options = [OWN_CONNECTION] if connections > 1 else []
    channels = [grpc.insecure_channel(address, options=options) for _ in range(connections)]
    try:
        for channel in channels:
            grpc.channel_ready_future(channel).result(timeout=10)
        yield channels
    finally:
        for channel in channels:
            channel.close()


@dataclass(frozen=True)
class Schedule:
    """When one open-loop client sends: start + i * interval for i < total."""

    start: float
    interval: float
    total: int
    timeout: float
    offset: int


async def _open_loop(job: Job, barrier: Barrier, index: int) -> list[Json]:
    plan = job.plan
    checks, _, _ = _messages()
    rate = plan.rate / plan.open_clients
    interval = 1.0 / rate
    runs = []
    options = [OWN_CONNECTION] if plan.connections > 1 else []
    channels = [
        grpc.aio.insecure_channel(job.address, options=options) for _ in range(plan.connections)
    ]
    try:
        stub = _AsyncSpread([pb_grpc.DecisionServiceStub(c) for c in channels])
        for i in range(plan.warmup_calls):
            await stub.Check(checks[i % len(checks)], timeout=plan.call_timeout)
        for _ in range(plan.repeat):
            barrier.wait(timeout=120)
            # Clients interleave: client k sends at start + (i + k/P) * interval.
            schedule = Schedule(
                start=time.perf_counter() + 0.2 + index * interval / plan.open_clients,
                interval=interval,
                total=max(1, int(plan.open_seconds * rate)),
                timeout=plan.call_timeout,
                offset=index * 13,
            )
            client_cpu, server_cpu = time.process_time(), cpu_times(job.server_pids)
            run = await _open_loop_run(stub, checks, schedule)
            run["index"] = index
            run["client_cpu"] = time.process_time() - client_cpu
            run["server_cpu"] = _cpu_delta(server_cpu, job.server_pids)
            runs.append(run)
    finally:
        for channel in channels:
            await channel.close()
    return runs


class _AsyncSpread:
    """`Check` over several grpc.aio stubs, each call taking one as the Python client does."""

    def __init__(self, stubs: Sequence[Any]) -> None:
        self._spread = Spread(stubs)

    async def Check(self, message: Message, *, timeout: float) -> Any:  # noqa: N802 - a stub's
        index, stub = self._spread.take()
        try:
            return await stub.Check(message, timeout=timeout)
        finally:
            self._spread.give(index)


async def _open_loop_run(stub: _AsyncSpread, checks: Sequence[Message], schedule: Schedule) -> Json:
    from_schedule: list[float] = []
    from_send: list[float] = []
    send_lag: list[float] = []
    errors: Counter[str] = Counter()
    pending: set[asyncio.Task[None]] = set()
    details: set[str] = set()

    async def call(message: Message, scheduled: float) -> None:
        sent = time.perf_counter()
        send_lag.append(sent - scheduled)
        try:
            await stub.Check(message, timeout=schedule.timeout)
        except grpc.aio.AioRpcError as exc:
            errors[str(exc.code())] += 1
            if len(details) < 5:
                details.add(f"{exc.code()}: {exc.details()}")
            return
        done = time.perf_counter()
        from_schedule.append(done - scheduled)
        from_send.append(done - sent)

    for i in range(schedule.total):
        scheduled = schedule.start + i * schedule.interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        message = checks[(schedule.offset + i) % len(checks)]
        task = asyncio.create_task(call(message, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        _, unfinished = await asyncio.wait(set(pending), timeout=schedule.timeout + 1)
        for task in unfinished:
            task.cancel()
        if unfinished:
            errors["UNFINISHED"] += len(unfinished)
    return {
        "scheduled": schedule.total,
        "from_schedule": from_schedule,
        "from_send": from_send,
        "send_lag": send_lag,
        "errors": dict(errors),
        "error_details": sorted(details),
        "start": schedule.start,
        "end": time.perf_counter(),
    }


async def _overload_callers(job: Job, barrier: Barrier, callers: int) -> Json:
    """`callers` closed-loop callers on one channel; every answer's status code is counted."""
    checks, _, _ = _messages()
    codes: Counter[str] = Counter()
    good = 0
    async with grpc.aio.insecure_channel(job.address) as channel:
        stub = pb_grpc.DecisionServiceStub(channel)
        await stub.Check(checks[0], timeout=job.plan.call_timeout)
        barrier.wait(timeout=120)
        end = time.perf_counter() + job.plan.open_seconds

        async def caller(k: int) -> None:
            nonlocal good
            i = k
            while time.perf_counter() < end:
                sent = time.perf_counter()
                try:
                    await stub.Check(checks[i % len(checks)], timeout=OVERLOAD_DEADLINE)
                except grpc.aio.AioRpcError as exc:
                    codes[exc.code().name] += 1
                    if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        await asyncio.sleep(OVERLOAD_BACKOFF)
                else:
                    codes["OK"] += 1
                    good += time.perf_counter() - sent <= OVERLOAD_DEADLINE
                i += 7

        started = time.perf_counter()
        await asyncio.gather(*(caller(k) for k in range(callers)))
        elapsed = time.perf_counter() - started
    return {"codes": dict(codes), "good": good, "elapsed": elapsed}


def overload_client(job: Job, barrier: Barrier, out: Queue[Json], index: int) -> None:
    """One process of the overload phase: its share of the callers (job.kinds[0])."""
    try:
        result = asyncio.run(_overload_callers(job, barrier, int(job.kinds[0])))
        out.put({"index": index, **result})
    except BaseException:
        out.put({"index": index, "error": traceback.format_exc()})


def hostile_request() -> Message:
    """A table request carrying 40,000 roles (0.9 MB: under the old 1 MiB limit)."""
    request = json.loads(json.dumps(check_requests()[0]))
    request["subject"].setdefault("properties", {})["roles"] = ["procurator_assistant"] * 40_000
    return json_format.ParseDict(request, pb.CheckRequest())


def run_hostile(address: str) -> Json:
    """Round trip of the 40,000-roles request, 5 times: milliseconds and status of each."""
    message = hostile_request()
    times, codes = [], []
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.DecisionServiceStub(channel)
        for _ in range(5):
            sent = time.perf_counter()
            try:
                stub.Check(message, timeout=30)
            except grpc.RpcError as exc:
                codes.append(f"{exc.code().name}: {exc.details()}")
            else:
                codes.append("OK")
            times.append(round((time.perf_counter() - sent) * 1000, 2))
    return {"bytes": message.ByteSize(), "ms": times, "codes": codes}


def run_overload(address: str, pids: Sequence[int], plan: Plan) -> dict[str, Json]:
    """Goodput at 16, 256 and 2,048 concurrent callers (closed loop, 0.5 s deadline each)."""
    hostile = run_hostile(address)
    print(f"  40,000 roles ({hostile['bytes']} bytes): {hostile['ms']} ms, {hostile['codes'][0]}")
    out: dict[str, Json] = {"grpc.check.hostile": {"median": {}, **hostile}}
    processes = plan.open_clients
    for callers in OVERLOAD_CALLERS:
        job = Job(plan, address, tuple(pids), (str(callers // processes),))
        server_cpu = cpu_times(pids)
        items = _run_processes(
            overload_client, job, processes=processes, results=processes, timeout=120
        )
        codes: Counter[str] = Counter()
        for item in items:
            codes.update(item["codes"])
        elapsed = max(i["elapsed"] for i in items)
        good = sum(i["good"] for i in items)
        out[f"grpc.check.overload{callers}"] = {
            "median": {
                "callers": callers,
                "goodput_per_s": round(good / elapsed, 1),
                "answers_per_s": round(sum(codes.values()) / elapsed, 1),
                "server_cpu_cores": round(sum(_cpu_delta(server_cpu, pids)) / elapsed, 3),
            },
            "codes": dict(codes),
            "runs": items,
        }
        print(
            f"  {callers} callers: goodput {good / elapsed:.0f}/s, codes {dict(codes)}", flush=True
        )
    return out


def open_loop_client(job: Job, barrier: Barrier, out: Queue[Json], index: int) -> None:
    """One open-loop client process: sends Check on a fixed schedule with grpc.aio."""
    try:
        for run in asyncio.run(_open_loop(job, barrier, index)):
            out.put(run)
    except BaseException:
        out.put({"index": index, "error": traceback.format_exc()})


def _run_processes(
    target: Target, job: Job, *, processes: int, results: int, timeout: float
) -> list[Json]:
    """Start `processes` spawned processes running target(job, barrier, out, index); collect."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    out: Queue[Json] = context.Queue()
    children = [
        context.Process(target=target, args=(job, barrier, out, index), daemon=True)
        for index in range(processes)
    ]
    for child in children:
        child.start()
    collected: list[Json] = []
    deadline = time.monotonic() + timeout
    try:
        while len(collected) < results:
            try:
                item = out.get(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            except queue.Empty as exc:
                if time.monotonic() >= deadline:
                    raise BenchError(f"no result from the clients within {timeout:.0f} s") from exc
                if not any(c.is_alive() for c in children):
                    raise BenchError("every client process exited before reporting") from exc
                continue
            if "error" in item:
                raise BenchError(f"client process {item['index']} failed:\n{item['error']}")
            collected.append(item)
    finally:
        for child in children:
            child.join(timeout=5)
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
    return collected


# --------------------------------------------------------------------------- phases over gRPC


def _cpu_stats(items: Sequence[Json], calls: int, window: float) -> Json:
    """CPU per call and utilisation (in cores) of the clients and of the server workers."""
    client = sum(i["client_cpu"] for i in items)
    # Every client samples the server over (nearly) the same window; take the widest sample.
    by_worker = max((i["server_cpu"] for i in items), key=sum)
    server = sum(by_worker)
    calls = max(calls, 1)
    return {
        "client_cpu_ms_per_call": round(client / calls * 1000, 4),
        "server_cpu_ms_per_call": round(server / calls * 1000, 4),
        "client_cpu_cores": round(client / window, 3),
        "server_cpu_cores": round(server / window, 3),
        "server_cpu_cores_by_worker": [round(w / window, 3) for w in by_worker],
    }


def run_single(
    address: str, pids: Sequence[int], plan: Plan, measurements: Sequence[str] = SINGLE
) -> dict[str, Json]:
    """One client, closed loop: latency of each kind of call (repeats interleaved). Check and
    the null RPC take turns in one measurement; their ratio is taken per run."""
    order = [m for _ in range(plan.repeat) for m in measurements]
    kinds = [kind for m in measurements for kind in m.split("+")]
    budget = 60 + len(kinds) * plan.repeat * (
        plan.seconds + plan.warmup_seconds + 2 * plan.call_timeout
    )
    job = Job(plan, address, tuple(pids), tuple(order))
    items = _run_processes(
        closed_loop_client, job, processes=1, results=len(kinds) * plan.repeat, timeout=budget
    )
    out: dict[str, Json] = {}
    for kind in kinds:
        runs = []
        for item in (i for i in items if i["kind"] == kind):
            stats = latency_stats(item["latencies"])
            stats["throughput_per_s"] = round(stats["n"] / item["elapsed"], 1)
            stats["errors"] = sum(item["errors"].values())
            stats["error_codes"] = item["errors"]
            stats.update(_cpu_stats([item], stats["n"], item["elapsed"]))
            runs.append(stats)
        out[f"grpc.{kind}.single"] = aggregate(runs)
    if {"grpc.check.single", "grpc.health.single"} <= out.keys():
        # Each run's Check p50 over the null RPC's p50 from the same alternating run.
        pairs = zip(
            out["grpc.check.single"]["runs"], out["grpc.health.single"]["runs"], strict=True
        )
        ratios = [{"ratio": round(c["p50_ms"] / h["p50_ms"], 3)} for c, h in pairs]
        out["grpc.check_over_null.single"] = aggregate(ratios)
    return out


def run_concurrent(address: str, pids: Sequence[int], plan: Plan) -> dict[str, Json]:
    """C client processes, closed loop, Check: total throughput and latency."""
    kinds = ["check"] * plan.repeat
    processes = plan.concurrency
    budget = 60 + plan.repeat * (
        plan.concurrent_seconds + plan.warmup_seconds + 2 * plan.call_timeout
    )
    measured = replace(plan, seconds=plan.concurrent_seconds, calls=10_000_000)
    job = Job(measured, address, tuple(pids), tuple(kinds))
    items = _run_processes(
        closed_loop_client,
        job,
        processes=processes,
        results=processes * plan.repeat,
        timeout=budget,
    )
    # Each client reports its runs in order; the r-th report of every client is run r.
    per_client: dict[int, list[Json]] = {}
    for item in items:
        per_client.setdefault(item["index"], []).append(item)
    runs = []
    for run in range(plan.repeat):
        batch = [reports[run] for reports in per_client.values()]
        latencies = [lat for item in batch for lat in item["latencies"]]
        stats = latency_stats(latencies)
        stats["throughput_per_s"] = round(sum(len(i["latencies"]) / i["elapsed"] for i in batch), 1)
        stats["errors"] = sum(sum(i["errors"].values()) for i in batch)
        stats["clients"] = processes
        stats.update(_cpu_stats(batch, len(latencies), max(i["elapsed"] for i in batch)))
        runs.append(stats)
    return {f"grpc.check.concurrent{processes}": aggregate(runs)}


def run_open(address: str, pids: Sequence[int], plan: Plan) -> dict[str, Json]:
    """Open loop at a fixed total rate from several grpc.aio client processes."""
    processes = plan.open_clients
    budget = 60 + plan.repeat * (plan.open_seconds + 2 * plan.call_timeout + 5)
    job = Job(plan, address, tuple(pids))
    items = _run_processes(
        open_loop_client, job, processes=processes, results=processes * plan.repeat, timeout=budget
    )
    per_client: dict[int, list[Json]] = {}
    for item in items:
        per_client.setdefault(item["index"], []).append(item)
    runs = []
    for run in range(plan.repeat):
        batch = [reports[run] for reports in per_client.values()]
        ok = sum(len(i["from_schedule"]) for i in batch)
        scheduled = sum(i["scheduled"] for i in batch)
        window = max(i["end"] for i in batch) - min(i["start"] for i in batch)
        stats = latency_stats([lat for i in batch for lat in i["from_schedule"]])
        sent = latency_stats([lat for i in batch for lat in i["from_send"]])
        lag = latency_stats([lat for i in batch for lat in i["send_lag"]])
        errors: Counter[str] = Counter()
        for i in batch:
            errors.update(i["errors"])
        stats.update(
            {
                "target_rate_per_s": plan.rate,
                "scheduled": scheduled,
                "ok": ok,
                "errors": sum(errors.values()),
                "error_codes": dict(errors),
                "error_details": sorted({d for i in batch for d in i["error_details"]}),
                "achieved_rate_per_s": round(ok / max(window, plan.open_seconds), 1),
                "from_send_p50_ms": sent.get("p50_ms", 0.0),
                "from_send_p99_ms": sent.get("p99_ms", 0.0),
                "send_lag_p50_ms": lag.get("p50_ms", 0.0),
                "send_lag_p99_ms": lag.get("p99_ms", 0.0),
                "clients": processes,
            }
        )
        stats.update(_cpu_stats(batch, ok + stats["errors"], window))
        runs.append(stats)
    return {"grpc.check.open": aggregate(runs)}


# --------------------------------------------------------------------------- in-process floor


def _quiet_server_logging() -> None:
    """Configure logging exactly as the server does, but into /dev/null (cost kept, noise not)."""
    from quanze.server import applog  # noqa: PLC0415 - only the floor process needs the server

    real = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        applog.configure("info")
    finally:
        sys.stderr = real


def _time_calls(
    function: Callable[[Any], Any], items: Sequence[Any], plan: Plan, pause: float = 0.0
) -> list[float]:
    """Warm up, then time `function` over `items` cyclically, bounded by count and time.

    With `pause`, the process sleeps that long before each call (not timed), as a server
    does between requests: caches and branch predictors go cold, as they do in the sidecar.
    """
    count = len(items)
    warm_until = time.perf_counter() + min(plan.warmup_seconds, 0.5)
    for i in range(plan.warmup_calls):
        function(items[i % count])
        if time.perf_counter() > warm_until:
            break
    latencies = []
    deadline = time.perf_counter() + plan.engine_seconds
    for i in range(plan.engine_calls):
        if pause:
            time.sleep(pause)
        started = time.perf_counter()
        function(items[i % count])
        ended = time.perf_counter()
        latencies.append(ended - started)
        if ended > deadline:
            break
    return latencies


def _floor_operations(
    plan: Plan,
) -> tuple[dict[str, tuple[Callable[[Any], Any], list[Any]]], Json]:
    """Operations of the in-process floor, and a summary of the corpus's answers (of the
    first `plan.corpus_lists` ListAllowedActions requests only, when set)."""
    from quanze.server import convert  # noqa: PLC0415
    from quanze.server.app import build_decider  # noqa: PLC0415
    from quanze.server.config import Config  # noqa: PLC0415
    from quanze.server.engine.regorus_engine import RegorusEngine  # noqa: PLC0415

    _quiet_server_logging()
    decider = build_decider(Config())
    rvm = RegorusEngine(decider.bundle, fast_path=True)
    tree = RegorusEngine(decider.bundle, fast_path=False)
    checks, batches, lists = check_requests(), batch_requests(), list_requests()
    check_msgs, batch_msgs, list_msgs = (
        [m.SerializeToString() for m in group] for group in _messages()
    )

    def handle_check(raw: bytes) -> bytes:
        request = convert.request_dict(pb.CheckRequest.FromString(raw))
        return convert.answer_message(decider.check(request)).SerializeToString()

    def handle_batch(raw: bytes) -> bytes:
        defaults, items, semantic = convert.batch_parts(pb.CheckBatchRequest.FromString(raw))
        return convert.batch_message(
            decider.check_batch(defaults, items, semantic)
        ).SerializeToString()

    def handle_list(raw: bytes) -> bytes:
        request = convert.request_dict(pb.ListAllowedActionsRequest.FromString(raw))
        answer = convert.actions_message(decider.allowed_actions(request), decider.revision)
        return answer.SerializeToString()

    operations: dict[str, tuple[Callable[[Any], Any], list[Any]]] = {
        "engine.check.rvm": (rvm.decide, checks),
        "engine.check.treewalk": (tree.decide, checks),
        "decider.check": (decider.check, checks),
        "handler.check": (handle_check, check_msgs),
        "handler.check.paced": (handle_check, check_msgs),
        "decider.batch": (lambda b: decider.check_batch(*b), batches),
        "handler.batch": (handle_batch, batch_msgs),
        "engine.list.rvm": (rvm.decide_all, lists),
        "engine.list.treewalk": (tree.decide_all, lists),
        "decider.list": (decider.allowed_actions, lists),
        "handler.list": (handle_list, list_msgs),
    }
    answers = [decider.check(r) for r in checks]
    summarised_lists = lists[: plan.corpus_lists]
    allowed_actions = [
        sum(a["decision"] for _, a in decider.allowed_actions(r)) for r in summarised_lists
    ]
    corpus = {
        "check_requests": len(checks),
        "check_allowed": sum(a["decision"] for a in answers),
        "check_denied": sum(not a["decision"] for a in answers),
        "reason_codes": dict(Counter(r["code"] for a in answers for r in a["reasons"])),
        "batch_requests": len(batches),
        "batch_items": sum(len(items) for _, items in batches),
        "list_requests": len(lists),
        "list_requests_summarised": len(summarised_lists),
        "list_actions_per_request": len(decider.bundle.actions),
        "list_allowed_per_request": allowed_actions,
        "policy_revision": decider.revision,
    }
    if corpus["reason_codes"].get("evaluation_error"):
        raise BenchError(f"the engine failed on some corpus requests: {corpus['reason_codes']}")
    # How often the compiled RVM gives up and the tree-walking engine re-decides.
    for name, requests in (("check", checks), ("list", summarised_lists)):
        before = rvm.fallbacks
        for request in requests:
            (rvm.decide if name == "check" else rvm.decide_all)(request)
        corpus[f"rvm_fallbacks_per_{name}_request"] = (rvm.fallbacks - before) / len(requests)
    return operations, corpus


def engine_floor(job: Job, barrier: Barrier, out: Queue[Json], index: int) -> None:
    """The floor process: every in-process operation, repeats interleaved."""
    del barrier
    plan = job.plan
    try:
        operations, corpus = _floor_operations(plan)
        runs: dict[str, list[Json]] = {name: [] for name in operations}
        for _ in range(plan.repeat):
            for name, (function, items) in operations.items():
                pause = PACED_PAUSE if name.endswith(".paced") else 0.0
                latencies = _time_calls(function, items, plan, pause)
                stats = latency_stats(latencies)
                stats["throughput_per_s"] = round(len(latencies) / max(sum(latencies), 1e-9), 1)
                runs[name].append(stats)
        out.put(
            {"index": index, "floor": {n: aggregate(r) for n, r in runs.items()}, "corpus": corpus}
        )
    except BaseException:
        out.put({"index": index, "error": traceback.format_exc()})


def run_engine(plan: Plan) -> tuple[dict[str, Json], Json]:
    """The in-process floor, in its own process (regorus objects stay on its main thread)."""
    budget = 120 + plan.repeat * 10 * (plan.engine_seconds + plan.warmup_seconds + 1)
    (item,) = _run_processes(engine_floor, Job(plan), processes=1, results=1, timeout=budget)
    return item["floor"], item["corpus"]


def profile_worker(job: Job, barrier: Barrier, out: Queue[Json], index: int) -> None:
    """cProfile of the in-process handler path (what a worker does per call, minus gRPC)."""
    del barrier
    plan = job.plan
    try:
        operations, _ = _floor_operations(plan)
        report = {}
        for name in ("handler.check", "handler.list"):
            function, items = operations[name]
            for item in items[:20]:
                function(item)
            profiler = cProfile.Profile()
            calls = 2000 if name == "handler.check" else 100
            deadline = time.perf_counter() + max(plan.engine_seconds, 2.0)
            profiler.enable()
            for i in range(calls):
                function(items[i % len(items)])
                if time.perf_counter() > deadline:
                    break
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
            report[name] = text.getvalue()
        out.put({"index": index, "profile": report})
    except BaseException:
        out.put({"index": index, "error": traceback.format_exc()})


def run_profile(plan: Plan) -> dict[str, str]:
    """cProfile of the handler path in-process, and of a 1-worker server answering Check."""
    (item,) = _run_processes(profile_worker, Job(plan), processes=1, results=1, timeout=120)
    report = dict(item["profile"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stats_file = RESULTS_DIR / f"server-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.prof"
    prefix = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "quanze.server.cli"]
    server = Server(1, prefix=prefix)
    try:
        server.start()
        measured = replace(plan, repeat=1)
        run_single(server.address, server.pids, measured, measurements=("check",))
    finally:
        server.stop()
    if not stats_file.exists():
        raise BenchError(f"the profiled server wrote no statistics to {stats_file}")
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(str(stats_file), stream=text).sort_stats(order).print_stats(25)
        report[f"server.check.{order}"] = text.getvalue()
    report["server_stats_file"] = str(stats_file)
    return report


# --------------------------------------------------------------------------- report


def machine_info(argv: Sequence[str]) -> Json:
    """CPU, cores, versions and the exact command."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory": _meminfo(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "grpcio": _version("grpcio"),
        "gordon-to-regorus": _version("gordon-to-regorus"),
        "protobuf": _version("protobuf"),
        "quanze": _version("quanze"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty_files": len(_git("status", "--porcelain").splitlines()),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "command": shlex.join([Path(sys.executable).name, *argv]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _meminfo() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return line.split(":", 1)[1].strip()
    return ""


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_DIR), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


LABELS = {
    "engine.check.rvm": "engine  RegorusEngine.decide (RVM)",
    "engine.check.treewalk": "engine  RegorusEngine.decide (tree-walk)",
    "decider.check": "engine  Decider.check",
    "handler.check": "engine  handler path, Check (no gRPC)",
    "handler.check.paced": "engine  handler path, Check, calls 1 ms apart",
    "decider.batch": "engine  Decider.check_batch (10 items)",
    "handler.batch": "engine  handler path, CheckBatch",
    "engine.list.rvm": "engine  RegorusEngine.decide_all (fast_path on)",
    "engine.list.treewalk": "engine  RegorusEngine.decide_all (tree-walk)",
    "decider.list": "engine  Decider.allowed_actions",
    "handler.list": "engine  handler path, ListAllowedActions",
    "grpc.check.single": "gRPC    Check, 1 client",
    "grpc.batch.single": "gRPC    CheckBatch (10 items), 1 client",
    "grpc.list.single": "gRPC    ListAllowedActions, 1 client",
    "grpc.health.single": "gRPC    Health.Check (null RPC), 1 client",
}


def _label(name: str) -> str:
    if name.startswith("grpc.check.concurrent"):
        return f"gRPC    Check, {name.removeprefix('grpc.check.concurrent')} clients closed loop"
    if name == "grpc.check.open":
        return "gRPC    Check, open loop (from schedule)"
    return LABELS.get(name, name)


def print_table(results: dict[str, Json], repeat: int) -> None:
    """A readable table of medians over repeats; CPU is per call, client and server."""
    print(f"\nmedian of {repeat} run(s); latency in ms; rate in calls/s; CPU in ms per call")
    header = (
        f"{'measurement':<50} {'n':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'rate/s':>9} {'err':>5}"
        f" {'cli CPU':>8} {'srv CPU':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, result in results.items():
        m = result["median"]
        if "p50_ms" not in m:
            continue
        rate = m.get("achieved_rate_per_s", m.get("throughput_per_s", 0.0))
        cells = [f"{m.get(k, 0):>8.3f}" for k in ("p50_ms", "p95_ms", "p99_ms")]
        cpu = [
            f"{m[k]:>8.3f}" if k in m else f"{'':>8}"
            for k in ("client_cpu_ms_per_call", "server_cpu_ms_per_call")
        ]
        n, errors = int(m.get("n", 0)), int(m.get("errors", 0))
        print(
            f"{_label(name):<50} {n:>7} {' '.join(cells)} {rate:>9.1f} {errors:>5} {' '.join(cpu)}"
        )
    if "grpc.check_over_null.single" in results:
        ratios = [r["ratio"] for r in results["grpc.check_over_null.single"]["runs"]]
        print(f"Check p50 / null RPC p50, each run (they took turns): {ratios}")
    if "grpc.check.open" in results:
        m = results["grpc.check.open"]["median"]
        print(
            f"open loop: target {m['target_rate_per_s']:.0f}/s, "
            f"achieved {m['achieved_rate_per_s']:.0f}/s; "
            f"from send p50 {m['from_send_p50_ms']:.3f} p99 {m['from_send_p99_ms']:.3f}; "
            f"send lag p50 {m['send_lag_p50_ms']:.3f} p99 {m['send_lag_p99_ms']:.3f}"
        )


def judge(results: dict[str, Json]) -> list[Json]:
    """The targets of issue 12 (docs/benchmarks.md) against the medians."""
    verdicts: list[Json] = []

    def median(name: str, key: str) -> float | None:
        value = results.get(name, {}).get("median", {}).get(key)
        return None if value is None else float(value)

    for name, label, limit in (
        ("grpc.check.single", "single-client Check p50", TARGET_CHECK_P50_MS),
        ("decider.check", "in-process Decider.check p50", TARGET_DECIDER_P50_MS),
        ("grpc.list.single", "ListAllowedActions p50", TARGET_LIST_P50_MS),
        ("grpc.batch.single", "CheckBatch (10) p50", TARGET_BATCH_P50_MS),
    ):
        p50 = median(name, "p50_ms")
        if p50 is not None:
            verdicts.append(_verdict(label, p50, limit, "ms"))
    ratio = median("grpc.check_over_null.single", "ratio")
    if ratio is not None:
        verdicts.append(
            _verdict("Check p50 / null RPC p50, same run", ratio, TARGET_CHECK_OVER_NULL, "x")
        )
    for name, result in results.items():
        if name.startswith("grpc.check.concurrent"):
            closed = float(result["median"]["throughput_per_s"])
            verdict = _verdict(
                f"closed loop, {name.removeprefix('grpc.check.concurrent')} clients",
                closed,
                TARGET_CLOSED_LOOP_RATE,
                "calls/s",
            )
            verdict["met"] = closed >= TARGET_CLOSED_LOOP_RATE
            verdict["at_least"] = True
            verdicts.append(verdict)
    p99 = median("grpc.check.open", "p99_ms")
    rate = median("grpc.check.open", "achieved_rate_per_s")
    target_rate = median("grpc.check.open", "target_rate_per_s")
    if p99 is not None and rate is not None and target_rate is not None:
        verdict = _verdict(
            f"Check p99 at {target_rate:.0f}/s open loop", p99, TARGET_OPEN_P99_MS, "ms"
        )
        if target_rate < TARGET_OPEN_RATE:
            verdict["note"] = (
                f"rate {target_rate:.0f}/s is below the target's {TARGET_OPEN_RATE:.0f}/s"
            )
            verdict["met"] = None
        elif rate < 0.98 * target_rate:
            verdict["note"] = f"achieved only {rate:.0f}/s"
            verdict["met"] = False
        verdicts.append(verdict)
    return verdicts


def _verdict(name: str, value: float, limit: float, unit: str) -> Json:
    return {
        "target": name,
        "value": round(value, 3),
        "limit": limit,
        "unit": unit,
        "met": value <= limit,
    }


def print_verdicts(verdicts: Sequence[Json]) -> None:
    print()
    for v in verdicts:
        state = {True: "MET   ", False: "MISSED", None: "N/A   "}[v["met"]]
        extra = f" ({v['note']})" if v.get("note") else ""
        value, limit = f"{v['value']} {v['unit']}", f"{v['limit']} {v['unit']}"
        bound = "at least" if v.get("at_least") else "limit"
        print(f"{state} {v['target']}: {value} ({bound} {limit}){extra}")


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: a few seconds, small sizes"
    )
    parser.add_argument("--workers", type=int, help="server worker processes (default 2)")
    parser.add_argument(
        "--repeat", type=int, help="repeat key measurements; medians are reported (default 3)"
    )
    parser.add_argument(
        "--phases",
        default=",".join(DEFAULT_PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: {','.join(DEFAULT_PHASES)})",
    )
    parser.add_argument("--calls", type=int, help="closed loop: most calls per measurement")
    parser.add_argument("--seconds", type=float, help="closed loop: most seconds per measurement")
    parser.add_argument("--warmup", type=int, help="warm-up calls before each measurement")
    parser.add_argument(
        "--concurrency", type=int, help="client processes of the concurrent phase (default 4)"
    )
    parser.add_argument(
        "--rate", type=float, help="open loop: total target rate, calls/s (default 2000)"
    )
    parser.add_argument("--duration", type=float, help="open loop: seconds per run (default 10)")
    parser.add_argument("--open-clients", type=int, help="open loop: client processes (default 4)")
    parser.add_argument(
        "--connections",
        type=int,
        help="connections per client process, spread as the Python client does "
        f"(default {DEFAULT_CONNECTIONS}, the client's default)",
    )
    parser.add_argument(
        "--output", type=Path, help="JSON results file (default bench/results/<time>-w<N>.json)"
    )
    parser.add_argument(
        "--time-limit", type=float, help="abort after this many seconds (default 900; quick 90)"
    )
    parser.add_argument(
        "--quanze",
        type=lambda text: [text],
        help="the quanze command to serve with, e.g. another checkout's .venv/bin/quanze",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `quanze serve`, e.g. --serve-arg=--decision-log=/tmp/log "
        "(repeatable)",
    )
    return parser


def build_plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    overrides = {
        "workers": args.workers,
        "repeat": args.repeat,
        "calls": args.calls,
        "seconds": args.seconds,
        "warmup_calls": args.warmup,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "open_seconds": args.duration,
        "open_clients": args.open_clients,
        "time_limit": args.time_limit,
        "connections": args.connections,
    }
    plan = replace(plan, **{k: v for k, v in overrides.items() if v is not None})
    if (
        min(
            plan.workers,
            plan.repeat,
            plan.concurrency,
            plan.open_clients,
            plan.calls,
            plan.connections,
        )
        < 1
    ):
        raise SystemExit(
            "run.py: workers, repeat, concurrency, open-clients, calls and connections must be "
            "at least 1"
        )
    if plan.rate <= 0 or plan.open_seconds <= 0 or plan.seconds <= 0:
        raise SystemExit("run.py: rate, duration and seconds must be positive")
    return plan


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise TimeoutError("the benchmark exceeded --time-limit")


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace, plan: Plan, argv: Sequence[str]) -> Json:
    """Run the selected phases; the server is stopped whatever happens."""
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        raise SystemExit(
            f"run.py: unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}"
        )
    report: Json = {"machine": machine_info(argv), "plan": asdict(plan), "phases": phases}
    results: dict[str, Json] = {}
    started = time.perf_counter()
    if "engine" in phases:
        print("engine floor (in-process) ...", flush=True)
        floor, corpus = run_engine(plan)
        results.update(floor)
        report["corpus"] = corpus
    if "profile" in phases:
        print("profile of the handler path ...", flush=True)
        report["profile"] = run_profile(plan)
        for name, text in report["profile"].items():
            if name.startswith(("handler.", "server.")):
                print(f"\n== cProfile {name} ==\n{text}")
    if {"single", "concurrent", "open", "overload"} & set(phases):
        server = Server(plan.workers, extra=args.serve_arg, prefix=args.quanze or ())
        report["server"] = {"command": shlex.join(server.command)}
        try:
            server.start()
            print(f"server: {plan.workers} worker(s) at {server.address}", flush=True)
            report["server"].update({"address": server.address, "policy_revision": server.revision})
            if "single" in phases:
                print("single client, closed loop ...", flush=True)
                results.update(run_single(server.address, server.pids, plan))
            if "concurrent" in phases:
                print(f"{plan.concurrency} clients, closed loop ...", flush=True)
                results.update(run_concurrent(server.address, server.pids, plan))
            if "open" in phases:
                print(f"open loop, {plan.rate:.0f}/s for {plan.open_seconds:.0f} s ...", flush=True)
                results.update(run_open(server.address, server.pids, plan))
            if "overload" in phases:
                print(f"overload, {plan.open_seconds:.0f} s per load ...", flush=True)
                results.update(run_overload(server.address, server.pids, plan))
        finally:
            server.stop()
            report["server"]["log_events"] = dict(server.events)
            report["server"]["log_tail"] = server.tail
            report["server"]["pids"] = server.pids
    report["results"] = results
    report["targets"] = judge(results)
    report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    plan = build_plan(args)
    os.environ.pop("RUST_BACKTRACE", None)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.alarm(math.ceil(plan.time_limit))
    try:
        report = run(args, plan, [str(Path(sys.argv[0])), *argv])
    except (BenchError, TimeoutError) as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    print_table(report["results"], plan.repeat)
    print_verdicts(report["targets"])
    output = (
        args.output
        or RESULTS_DIR
        / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-w{plan.workers}{'-quick' if args.quick else ''}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"\nresults: {output} ({report['elapsed_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
