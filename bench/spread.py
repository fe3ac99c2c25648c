"""How one client's calls reach a sidecar's workers, measured on a real `quanze serve`.

    python bench/spread.py serial       # one caller: 1 connection against 4, blocks taking turns
    python bench/spread.py concurrent   # P processes x T threads of the Python client, closed loop
    python bench/spread.py front        # the most null RPCs one worker process answers

`serial` and `concurrent` run `quanze serve --workers 2` on a TCP port (SO_REUSEPORT) and read
every server process's CPU time, so the lines say which worker did the work. `serial` also
times a new client (a new connection) per call. `front` runs one worker and drives it with
health checks from 4 processes: the ceiling of a process that would accept every call and hand
it to a worker, before it hands anything on. Prints a line per measurement; the numbers go to
docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quanze.client import Client
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.run import Server, cpu_times

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

BLOCK = 200  # serial: calls of one client before the other's turn
BLOCKS = 20
SECONDS = 4.0  # concurrent and front: per measurement


def requests() -> list[dict[str, Any]]:
    """The decision table's Check requests."""
    return [case.request for case in load_decision_table(load_bundle().root)]


def percentile(seconds: Sequence[float], q: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def serial(server: Server, connections: int) -> None:
    """One caller, blocks of BLOCK Checks from a 1-connection and an N-connection client."""
    checks = requests()
    clients = {1: Client(server.address, timeout=10, connections=1)}
    clients[connections] = Client(server.address, timeout=10, connections=connections)
    took: dict[int, list[float]] = {n: [] for n in clients}
    cpu: dict[int, list[float]] = {n: [0.0] * len(server.pids) for n in clients}
    fresh: list[float] = []
    for request in checks[:100]:  # warm-up, and every connection the caller takes is open
        for client in clients.values():
            client.check(request)
    for block in range(BLOCKS):
        order = list(clients) if block % 2 else list(reversed(clients))
        for n in order:
            before = cpu_times(server.pids)
            for i in range(block * BLOCK, (block + 1) * BLOCK):
                started = perf_counter()
                clients[n].check(checks[i % len(checks)])
                took[n].append(perf_counter() - started)
            spent = [b - a for a, b in zip(before, cpu_times(server.pids), strict=True)]
            cpu[n] = [a + b for a, b in zip(cpu[n], spent, strict=True)]
        started = perf_counter()
        with Client(server.address, timeout=10, connections=1) as once:
            once.check(checks[block % len(checks)])
        fresh.append(perf_counter() - started)
    for n, client in clients.items():
        client.close()
        workers = sorted(cpu[n], reverse=True)[:2]
        print(
            f"serial, connections={n}: p50 {percentile(took[n], 0.5):.3f} ms, "
            f"p99 {percentile(took[n], 0.99):.3f} ms; server CPU by worker "
            + " + ".join(f"{w / len(took[n]) * 1000:.3f}" for w in workers)
            + " ms/call"
        )
    print(
        f"serial, a new client (connection) per call: p50 {percentile(fresh, 0.5):.3f} ms, "
        f"p99 {percentile(fresh, 0.99):.3f} ms ({len(fresh)} calls)"
    )


def _checking(address: str, connections: int) -> Callable[[int], object]:
    checks = requests()
    client = Client(address, timeout=10, connections=connections)
    return lambda i: client.check(checks[i % len(checks)])


def _health(address: str, connections: int) -> Callable[[int], object]:
    del connections
    stub: Any = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))  # untyped
    request = health_pb2.HealthCheckRequest()
    return lambda i: stub.Check(request, timeout=10)


CALLS = {"check": _checking, "health": _health}


def caller(job: tuple[str, str, int, int], barrier: Barrier, out: Queue[Any]) -> None:
    """One client process: (kind, address, connections, threads) threads calling in a closed
    loop for SECONDS."""
    kind, address, connections, threads = job
    call = CALLS[kind](address, connections)
    for i in range(100):
        call(i)
    latencies: list[float] = []
    lock = threading.Lock()
    barrier.wait(timeout=120)
    end = perf_counter() + SECONDS

    def loop(offset: int) -> None:
        mine, i = [], offset
        while perf_counter() < end:
            started = perf_counter()
            call(i)
            mine.append(perf_counter() - started)
            i += 1
        with lock:
            latencies.extend(mine)

    running = [threading.Thread(target=loop, args=(k * 7,)) for k in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    out.put(latencies)


def closed_loop(server: Server, kind: str, processes: int, threads: int, connections: int) -> str:
    """P processes x T threads at once: calls/s, latency, and which worker did the work."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    out: Queue[Any] = context.Queue()
    children = [
        context.Process(
            target=caller, args=((kind, server.address, connections, threads), barrier, out)
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    barrier.wait(timeout=120)
    before, started = cpu_times(server.pids), perf_counter()
    latencies = [latency for _ in children for latency in out.get(timeout=120)]
    elapsed = perf_counter() - started
    spent = sorted(
        (b - a for a, b in zip(before, cpu_times(server.pids), strict=True)), reverse=True
    )
    for child in children:
        child.join(timeout=10)
    cores = " + ".join(f"{s / elapsed:.2f}" for s in spent[:2])
    return (
        f"{len(latencies) / SECONDS:6.0f}/s, p50 {percentile(latencies, 0.5):.2f} ms, "
        f"p99 {percentile(latencies, 0.99):.2f} ms; workers {cores} cores, "
        f"{sum(spent) / max(len(latencies), 1) * 1000:.3f} ms server CPU/call"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", choices=("serial", "concurrent", "front"))
    parser.add_argument("--connections", type=int, default=4, help="of the spreading client")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    server = Server(1 if args.what == "front" else 2)
    try:
        server.start()
        print(f"load average {os.getloadavg()[0]:.2f}; server at {server.address}", flush=True)
        for round_ in range(args.rounds):
            if args.what == "serial":
                serial(server, args.connections)
            elif args.what == "front":
                line = closed_loop(server, "health", 4, 1, 1)
                print(f"round {round_}: one worker, null RPC, 4 processes: {line}", flush=True)
            else:
                for processes, threads in ((1, 8), (1, 32), (2, 16)):
                    for connections in (1, args.connections):
                        line = closed_loop(server, "check", processes, threads, connections)
                        print(
                            f"round {round_}: {processes} x {threads} threads, "
                            f"connections={connections}: {line}",
                            flush=True,
                        )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
