"""A real OTLP trace receiver: the collector's gRPC `TraceService/Export` on 127.0.0.1:0.

Built from the OTLP protos that `opentelemetry-proto` ships, as an OpenTelemetry Collector's
receiver would be; it keeps every span it is sent. Used by the tracing tests and by
`bench/tracing_overhead.py`.

    with Receiver() as receiver:           # receiver.endpoint: "http://127.0.0.1:PORT"
        ...
        spans = receiver.spans()
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Self

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as collector
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as collector_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


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


class Receiver(collector_grpc.TraceServiceServicer):
    """Keeps every `ExportTraceServiceRequest`; `spans()` flattens them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[collector.ExportTraceServiceRequest] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        add: Any = collector_grpc.add_TraceServiceServicer_to_server  # generated, untyped
        add(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"

    def Export(  # noqa: N802 - the OTLP service's name
        self, request: collector.ExportTraceServiceRequest, context: Any
    ) -> collector.ExportTraceServiceResponse:
        with self._lock:
            self._requests.append(request)
        return collector.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            requests = list(self._requests)
        return [
            ReceivedSpan(
                span, attributes(resource.resource.attributes), attributes(span.attributes)
            )
            for request in requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)


def attributes(pairs: list[KeyValue] | Any) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


def value(any_value: AnyValue) -> Any:
    """An OTLP attribute value as Python (an array as a list)."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None
