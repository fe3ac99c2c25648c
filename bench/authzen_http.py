"""AuthZEN over HTTP beside gRPC Check: one client, closed loop, one sidecar answering both.

    python bench/authzen_http.py                 # 4000 calls each way, one worker
    python bench/authzen_http.py --calls 20000

One `quanze serve --workers 1` with `http.address` on; one client process sends the decision
table's requests in turn, a gRPC `Check` (sync stub, one channel) and a `POST
/access/v1/evaluation` (http.client, one keep-alive connection), alternating, so drift and the
machine's other load fall on both alike. Then each alone, back to back for `--seconds`, for the
calls a second one closed-loop client gets. Prints p50/p90/p99 and calls/s of each.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from time import perf_counter

import grpc
from google.protobuf import json_format

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for bench.*

from bench.sidecar_ab import WARMUP, percentiles, sidecar
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc
from tests.support import free_port


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="measured calls each way")
    parser.add_argument("--seconds", type=float, default=10.0, help="each throughput run")
    args = parser.parse_args(argv)
    cases = load_decision_table(load_bundle().root)
    messages = [json_format.ParseDict(case.request, pb.CheckRequest()) for case in cases]
    bodies = [json.dumps(case.request).encode() for case in cases]
    port = free_port()
    quanze = str(Path(sys.executable).parent / "quanze")
    with ExitStack() as stack:
        address = stack.enter_context(sidecar(quanze, ["--set", f"http.address=127.0.0.1:{port}"]))
        stub = pb_grpc.DecisionServiceStub(stack.enter_context(grpc.insecure_channel(address)))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stack.callback(connection.close)

        def over_grpc(i: int) -> bool:
            return bool(stub.Check(messages[i % len(messages)], timeout=10).decision)

        def over_http(i: int) -> bool:
            connection.request(
                "POST",
                "/access/v1/evaluation",
                bodies[i % len(bodies)],
                {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200, answer
            return bool(answer["decision"])

        ways: dict[str, Callable[[int], bool]] = {"gRPC Check": over_grpc, "HTTP": over_http}
        took: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(WARMUP + args.calls):
            order = list(ways) if i % 2 == 0 else list(reversed(ways))
            decisions = set()
            for name in order:
                started = perf_counter()
                decisions.add(ways[name](i))
                if i >= WARMUP:
                    took[name].append(perf_counter() - started)
            assert len(decisions) == 1, f"the two ways disagree on case {i % len(cases)}"
        for name in ways:
            print(f"{name:10s} {args.calls} calls alternating: {percentiles(took[name])}")
        for name, way in ways.items():
            calls, started = 0, perf_counter()
            while perf_counter() - started < args.seconds:
                way(calls)
                calls += 1
            print(f"{name:10s} alone, one closed-loop client: {calls / args.seconds:,.0f} calls/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
