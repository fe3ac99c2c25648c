"""One client, two sidecars, calls alternating: single-call latency of two versions side by side.

    python bench/sidecar_ab.py --before /tmp/quanze-before/.venv/bin/quanze  # this one: "after"
    python bench/sidecar_ab.py --before OLD --after NEW --calls 4000

    python bench/sidecar_ab.py --before OLD --serve-arg=--decision-log=/tmp/ab-log   # logging on

Both sidecars (`quanze serve --workers 1` each, on 127.0.0.1:0) run at once; one client process
with the sync stub sends Check over the decision table, one call to each in turn (who goes first
alternates), so drift and other load on a shared machine fall on both alike. Each sidecar first
answers 300 calls unmeasured. Prints p50/p90/p99 of each side's round trips. `--serve-arg`s go
to both sidecars (two sidecars may share a decision-log directory: each writes its own stream).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from time import perf_counter

import grpc
from google.protobuf import json_format

from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

WARMUP = 300


@contextmanager
def sidecar(quanze: str, serve_args: Sequence[str] = ()) -> Iterator[str]:
    """`quanze serve` with one worker; its address once it serves; stopped on exit."""
    env = {k: v for k, v in os.environ.items() if k != "RUST_BACKTRACE"}
    command = [quanze, "serve", "--address", "127.0.0.1:0", "--workers", "1", *serve_args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        address = ""
        assert process.stderr is not None
        for line in process.stderr:
            event = json.loads(line)
            if event.get("event") == "listening":
                address = event["address"]
            if event.get("event") == "policies_loaded":
                break
        if not address:
            raise SystemExit(f"sidecar_ab.py: {quanze} did not start")
        # Read the rest of its log, so that a full pipe never stalls it.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield address
    finally:
        process.terminate()
        process.wait(30)


def percentiles(seconds: Sequence[float]) -> str:
    ordered = sorted(seconds)
    at = [ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 for q in (0.5, 0.9, 0.99)]
    return f"p50 {at[0]:.3f} ms, p90 {at[1]:.3f} ms, p99 {at[2]:.3f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the other version's quanze command")
    parser.add_argument("--after", default=str(Path(sys.executable).parent / "quanze"))
    parser.add_argument("--calls", type=int, default=4000, help="measured calls per side")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="an argument for both `quanze serve`"
    )
    args = parser.parse_args(argv)
    cases = load_decision_table(load_bundle().root)
    requests = [json_format.ParseDict(case.request, pb.CheckRequest()) for case in cases]
    sides = {"before": args.before, "after": args.after}
    with ExitStack() as stack:
        stubs = {}
        for name, quanze in sides.items():
            channel = stack.enter_context(
                grpc.insecure_channel(stack.enter_context(sidecar(quanze, args.serve_arg)))
            )
            stubs[name] = pb_grpc.DecisionServiceStub(channel)
        took: dict[str, list[float]] = {name: [] for name in sides}
        for i in range(WARMUP + args.calls):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for name in order:
                started = perf_counter()
                stubs[name].Check(requests[i % len(requests)], timeout=10)
                if i >= WARMUP:
                    took[name].append(perf_counter() - started)
    for name in sides:
        print(f"{name:6s} Check, {args.calls} calls: {percentiles(took[name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
