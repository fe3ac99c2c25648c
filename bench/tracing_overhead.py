"""What tracing costs `Check`: CPU per span in-process, then the harness with tracing off and on.

In-process, in CPU time of the thread that pays it (so other load on the machine does not
count): what the traced handler adds on a worker's event loop per call, and what the OTLP
exporter spends per span on the SDK's thread, sending to a real OTLP receiver.

Then bench/run.py (single client and concurrent closed loops, 2 workers) once per
configuration and round, the configurations taking turns round after round so that the
machine's other load falls on all of them alike: tracing off; on, every call sampled and
exported to a real OTLP receiver in this process (`tests/integration/otlp.py`); on with
`tracing.sample_ratio: 0` (the calls carry no traceparent, so no span is recorded); and on with
no collector listening (every export fails). Prints Markdown tables for docs/benchmarks.md.

    python bench/tracing_overhead.py               # 3 rounds, ~12 minutes
    python bench/tracing_overhead.py --quick       # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for bench.* and tests.*

from bench.decision_log_overhead import measure
from quanze.server.tracing import DECISION_SERVICE, TracedServer
from quanze.v1 import decision_service_pb2 as pb
from tests.integration.load import ALLOWED
from tests.integration.otlp import Receiver

Metadata = tuple[tuple[str, str], ...]

EXPORTED = 20 * 512  # spans sent to the receiver to measure the exporter
CALLER: Metadata = (("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),)


class Kept(SpanExporter):
    """Keeps the spans it is given (to be exported for real afterwards)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Call:
    """The part of a grpc.aio servicer context the traced handler reads."""

    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> Metadata:
        return self.metadata

    def code(self) -> None:
        return None


class Capture:
    """A server that keeps the handlers it is given."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.handlers = handlers


def loop_cpu_us(ratio: float, metadata: Metadata, calls: int) -> tuple[float, list[ReadableSpan]]:
    """CPU µs the traced Check handler adds per call on the calling thread; the spans made."""
    request = json_format.ParseDict(ALLOWED, pb.CheckRequest())
    response = pb.CheckResponse(
        decision_id=str(uuid.uuid4()), decision=True, policy_revision="f" * 40
    )

    async def check(request: Any, context: Any) -> pb.CheckResponse:
        return response

    kept = Kept()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)), shutdown_on_exit=False)
    # A queue for every span, so that none is dropped (with a warning) while it is measured.
    provider.add_span_processor(BatchSpanProcessor(kept, max_queue_size=3 * calls + 1))
    server = Capture()
    TracedServer(server, provider.get_tracer("bench")).add_registered_method_handlers(
        DECISION_SERVICE, {"Check": grpc.unary_unary_rpc_method_handler(check)}
    )
    traced = server.handlers["Check"].unary_unary
    context = Call(metadata)

    async def run(handler: Any) -> float:
        started = time.thread_time()
        for _ in range(calls):
            await handler(request, context)
        return time.thread_time() - started

    bare = min(asyncio.run(run(check)) for _ in range(3))
    wrapped = min(asyncio.run(run(traced)) for _ in range(3))
    provider.shutdown()
    return (wrapped - bare) / calls * 1e6, kept.spans


def export_cpu_us(spans: list[ReadableSpan], endpoint: str) -> float:
    """CPU µs per span the OTLP exporter spends sending batches of 512 to `endpoint`."""
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
    started = time.thread_time()
    for first in range(0, len(spans), 512):
        assert exporter.export(spans[first : first + 512]) == SpanExportResult.SUCCESS
    spent = time.thread_time() - started
    exporter.shutdown()
    return spent / len(spans) * 1e6


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def in_process(receiver: Receiver, calls: int) -> None:
    print("| traced Check handler | CPU on the event loop per call |")
    print("|---|---:|")
    spans: list[ReadableSpan] = []
    for name, ratio, metadata in (
        ("sampled, no traceparent", 1.0, ()),
        ("sampled, the caller's traceparent", 1.0, CALLER),
        ("sample_ratio 0, no traceparent", 0.0, ()),
    ):
        cost, made = loop_cpu_us(ratio, metadata, calls)
        spans += made
        print(f"| {name} | {cost:.1f} µs |")
    spans = spans[:EXPORTED]
    print(
        f"\nOTLP export, on the SDK's thread: {export_cpu_us(spans, receiver.endpoint):.1f} µs "
        f"per span ({len(spans):,} spans in batches of 512)\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every configuration")
    args = parser.parse_args()
    rows: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    with Receiver() as receiver, tempfile.TemporaryDirectory(prefix="quanze-bench-") as scratch:
        in_process(receiver, 2_000 if args.quick else 20_000)
        configurations: list[tuple[str, list[str]]] = [
            ("off", []),
            ("on, sampled, exported", [f"tracing.endpoint={receiver.endpoint}"]),
            (
                "on, sample_ratio 0",
                [f"tracing.endpoint={receiver.endpoint}", "tracing.sample_ratio=0"],
            ),
            ("on, collector absent", [f"tracing.endpoint=http://127.0.0.1:{closed_port()}"]),
        ]
        for round_ in range(1 if args.quick else args.rounds):
            for index, (name, settings) in enumerate(configurations):
                print(f"round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
                out = Path(scratch) / f"{round_}-{index}.json"
                results = measure(settings, None, args.quick, out)
                single = results["grpc.check.single"]["median"]
                concurrent = next(
                    v["median"] for k, v in results.items() if k.startswith("grpc.check.concurrent")
                )
                rows.setdefault(name, []).append((single, concurrent))
    print(
        "| tracing | Check p50, 1 client | p99 | Check/s, 4 clients | p99 "
        "| server CPU per Check (each round) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in rows.items():
        single = {k: statistics.median(s[k] for s, _ in runs) for k in ("p50_ms", "p99_ms")}
        concurrent = {
            k: statistics.median(c[k] for _, c in runs) for k in ("throughput_per_s", "p99_ms")
        }
        cpu = ", ".join(f"{c['server_cpu_ms_per_call']:.3f}" for _, c in runs)
        print(
            f"| {name} | {single['p50_ms']:.3f} ms | {single['p99_ms']:.2f} ms "
            f"| {concurrent['throughput_per_s']:,.0f} | {concurrent['p99_ms']:.2f} ms "
            f"| {cpu} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
