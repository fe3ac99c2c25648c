"""A real OTLP trace receiver: the collector's gRPC `TraceService/Export` on 127.0.0.1:0.

Built from the OTLP protos that `opentelemetry-proto` ships, as an OpenTelemetry Collector's
receiver would be; it keeps every span it is sent. Used by the tracing tests and by
`bench/tracing_overhead.py`.

    with Receiver() as receiver:           # receiver.endpoint: "http://127.0.0.1:PORT"
        ...
        spans = receiver.spans()

Run as a program, it prints each span it receives as a JSON line (docs/operations.md):

    python -m tests.integration.otlp --port 4317
"""

from __future__ import annotations

import argparse
import json
import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Self

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as collector
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as collector_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver got it, with its resource's and its own attributes decoded."""

    span: Span
    resource: dict[str, Any]
    attributes: dict[str, Any]

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()

    def summary(self) -> dict[str, Any]:
        """What an operator looks at first, as plain JSON."""
        return {
            "name": self.span.name,
            "kind": Span.SpanKind.Name(self.span.kind),
            "trace_id": self.trace_id,
            "span_id": self.span.span_id.hex(),
            "parent_span_id": self.parent_span_id,
            "status": Status.StatusCode.Name(self.span.status.code),
            "milliseconds": round(
                (self.span.end_time_unix_nano - self.span.start_time_unix_nano) / 1e6, 3
            ),
            "attributes": self.attributes,
            "resource": self.resource,
        }


class Receiver(collector_grpc.TraceServiceServicer):
    """Keeps every `ExportTraceServiceRequest`; `spans()` flattens them."""

    def __init__(self, port: int = 0, *, echo: bool = False) -> None:
        self._lock = threading.Lock()
        self._requests: list[collector.ExportTraceServiceRequest] = []
        self._echo = echo
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        add: Any = collector_grpc.add_TraceServiceServicer_to_server  # generated, untyped
        add(self, self._server)
        bound = self._server.add_insecure_port(f"127.0.0.1:{port}")
        self.endpoint = f"http://127.0.0.1:{bound}"

    def Export(  # noqa: N802 - the OTLP service's name
        self, request: collector.ExportTraceServiceRequest, context: Any
    ) -> collector.ExportTraceServiceResponse:
        with self._lock:
            self._requests.append(request)
            if self._echo:
                for span in received(request):
                    print(json.dumps(span.summary(), ensure_ascii=False), flush=True)
        return collector.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            requests = list(self._requests)
        return [span for request in requests for span in received(request)]

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)

    def wait(self) -> None:
        """Until the process is stopped."""
        self._server.wait_for_termination()


def received(request: collector.ExportTraceServiceRequest) -> list[ReceivedSpan]:
    return [
        ReceivedSpan(span, attributes(resource.resource.attributes), attributes(span.attributes))
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def attributes(pairs: list[KeyValue] | Any) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


def value(any_value: AnyValue) -> Any:
    """An OTLP attribute value as Python (an array as a list)."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="print each span received over OTLP/gRPC")
    parser.add_argument("--port", type=int, default=4317, help="port on 127.0.0.1 (4317)")
    with Receiver(parser.parse_args().port, echo=True) as receiver:
        print(f"receiving on {receiver.endpoint}", flush=True)
        receiver.wait()
