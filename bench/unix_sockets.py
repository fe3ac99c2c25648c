"""Several workers on one Unix socket path, or one socket per worker? Measured, not assumed.

1. `sharing`: two grpcio servers in two processes bind the same `unix:` path with
   `grpc.so_reuseport` on (what the TCP workers do); which process answers new connections?
2. `throughput`: Check calls per second from client processes against real `quanze serve`
   sidecars: one worker on one socket; two workers with a socket each (`--workers 2`), the
   clients on a round-robin channel over both; two workers sharing a TCP port for reference.

    python bench/unix_sockets.py [--seconds 5] [--clients 2] [--in-flight 8]

Prints a table; numbers go to docs/configuration.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

QUANZE = [sys.executable, "-m", "quanze.server.cli"]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import CONTRACT_EXAMPLE  # noqa: E402


def _pid_server(path: str, ready: multiprocessing.synchronize.Event) -> None:
    """A health server whose status names this process (SERVING from the first one)."""

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
        servicer = health.aio.HealthServicer()
        await servicer.set(str(os.getpid()), health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        server.add_insecure_port(f"unix:{path}")
        await server.start()
        ready.set()
        await asyncio.sleep(3600)

    asyncio.run(main())


def sharing(directory: Path, connections: int = 40) -> dict[str, object]:
    """Start two servers on one path; ask `connections` fresh connections who answers."""
    path = str(directory / "shared.sock")
    context = multiprocessing.get_context("spawn")
    processes = []
    for _ in range(2):
        ready = context.Event()
        process = context.Process(target=_pid_server, args=(path, ready), daemon=True)
        process.start()
        ready.wait(30)
        processes.append(process)
    answered: Counter[str] = Counter()
    for _ in range(connections):
        with grpc.insecure_channel(f"unix:{path}") as channel:
            stub: Any = health_pb2_grpc.HealthStub(channel)  # grpc_health ships no types
            for process in processes:
                try:
                    stub.Check(health_pb2.HealthCheckRequest(service=str(process.pid)), timeout=2)
                    answered[f"pid {process.pid} (started {processes.index(process) + 1})"] += 1
                except grpc.RpcError:
                    pass
    for process in processes:
        process.kill()
        process.join()
    return {"connections": connections, "answered_by": dict(answered)}


def _load(target: str, seconds: float, in_flight: int, out: multiprocessing.Queue[int]) -> None:
    from quanze.client import AsyncClient  # noqa: PLC0415

    request = json.loads(CONTRACT_EXAMPLE)
    # A list of sockets (one per worker) is spread call by call.
    options = [("grpc.lb_policy_name", "round_robin")] if "," in target else []

    async def main() -> int:
        done = 0
        async with AsyncClient(target, timeout=10, channel_options=options) as client:
            await client.check(request)
            deadline = time.monotonic() + seconds

            async def loop() -> None:
                nonlocal done
                while time.monotonic() < deadline:
                    await client.check(request)
                    done += 1

            await asyncio.gather(*(loop() for _ in range(in_flight)))
        return done

    out.put(asyncio.run(main()))


def _serve(address: str, workers: int, directory: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZE_")}
    process = subprocess.Popen(
        [*QUANZE, "serve", "--address", address, "--workers", str(workers)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=directory,
    )
    assert process.stderr is not None
    served = 0
    for line in process.stderr:
        if json.loads(line).get("event") == "policies_loaded":
            served += 1
            if served == workers:
                break
    return process


def throughput(
    targets: Sequence[str], clients: int, seconds: float, in_flight: int
) -> tuple[float, int]:
    """Calls per second from `clients` processes spread over `targets`."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[int] = context.Queue()
    processes = [
        context.Process(target=_load, args=(targets[i % len(targets)], seconds, in_flight, out))
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    total = sum(out.get(timeout=seconds + 60) for _ in processes)
    for process in processes:
        process.join()
    return total / seconds, total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        print("sharing one path between two grpcio servers:", sharing(directory))
        one, two = directory / "one.sock", directory / "two.sock"
        per_worker = [two.with_name(f"two-w{i}.sock") for i in range(2)]
        setups = {
            # name: (what `quanze serve` listens on, workers, the clients' target)
            "1 worker, 1 unix socket": (f"unix:{one}", 1, f"unix:{one}"),
            "2 workers, a unix socket each": (
                f"unix:{two}",
                2,
                "unix:" + ",".join(str(p) for p in per_worker),
            ),
            "2 workers, 1 TCP port (loopback)": ("127.0.0.1:18611", 2, "127.0.0.1:18611"),
        }
        print(f"{'setup':<34} {'calls/s':>9} {'calls':>7}")
        for setup, (address, workers, target) in setups.items():
            server = _serve(address, workers, directory)
            try:
                per_second, total = throughput([target], args.clients, args.seconds, args.in_flight)
            finally:
                server.terminate()
                server.wait(30)
            print(f"{setup:<34} {per_second:>9.0f} {total:>7}")


if __name__ == "__main__":
    main()
