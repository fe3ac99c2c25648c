"""OpenTelemetry traces: one SERVER span per decision-service call, exported over OTLP/gRPC.

Off unless `tracing.endpoint` is set, and then nothing of it runs per call: the handlers are
registered as they are. When on, each worker process builds its own `Tracing` once it runs
(workers are spawned, so no exporter thread or gRPC channel is inherited over fork) and stops
it after its calls have drained, exporting what is still queued.

A span continues the caller's W3C `traceparent`/`tracestate` from the call's metadata, so its
parent is the caller's span; without one it starts a trace, kept with `tracing.sample_ratio`.
Its attributes come from the answer as sent (an answer turned into `audit_unavailable` says
deny): never from the request's subject, resource or context, which may be personal data.

Spans are queued and exported on the SDK's own thread (BatchSpanProcessor), so a slow or
absent collector never holds up a call: when its queue (2,048 spans) is full, the oldest go.
The SDK's complaints about it become `tracing_export_problem` log lines, each kind at most
once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import grpc
import structlog
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
    Resource,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from quanze.server import __version__
from quanze.server.config import TracingConfig
from quanze.v1 import decision_service_pb2 as pb

log = structlog.get_logger("quanze.tracing")

DECISION_SERVICE: str = pb.DESCRIPTOR.services_by_name["DecisionService"].full_name
# A CheckBatch span names the decision ids of its first this many items (every item's
# decision record carries the caller's traceparent).
MAX_DECISION_IDS = 10
# At shutdown, the longest wait for the queued spans to reach the collector.
FLUSH_SECONDS = 5.0
# The SDK's complaints of one kind are logged at most this often.
SDK_LOG_EVERY_SECONDS = 60.0
# The codes that are this server's fault, which alone make a span's status ERROR (the
# OpenTelemetry gRPC conventions for server spans); INVALID_ARGUMENT, RESOURCE_EXHAUSTED,
# CANCELLED and the rest leave it unset.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)

_W3C = TraceContextTextMapPropagator()


class Tracing:
    """A worker's tracer: its provider, sampler, resource and OTLP exporter."""

    def __init__(self, settings: TracingConfig) -> None:
        _route_sdk_log()
        self._endpoint = settings.endpoint
        self._exporter = OTLPSpanExporter(
            endpoint=settings.endpoint, insecure=urlsplit(settings.endpoint).scheme == "http"
        )
        self._provider = TracerProvider(
            resource=Resource.create(
                {
                    SERVICE_NAME: settings.service_name,
                    SERVICE_VERSION: __version__,
                    SERVICE_INSTANCE_ID: f"{socket.gethostname()}/{os.getpid()}",
                }
            ),
            # A caller's decision to keep its trace or not is followed; new traces are kept
            # with the ratio.
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
            shutdown_on_exit=False,  # `stop` does it, with a bounded wait
        )
        self._provider.add_span_processor(BatchSpanProcessor(self._exporter))
        self.tracer: Tracer = self._provider.get_tracer("quanze.server", __version__)

    def stop(self) -> None:
        """Export the spans still queued, then close the exporter; give up after FLUSH_SECONDS.

        The SDK's own shutdown would wait up to 30 s for an unreachable collector (the exporter
        retries each batch for 10 s): here closing the exporter early cuts its retries short,
        and what is left is dropped.
        """
        flush = threading.Thread(
            target=self._provider.shutdown, name="quanze-trace-flush", daemon=True
        )
        flush.start()
        flush.join(FLUSH_SECONDS)
        if flush.is_alive():
            self._exporter.shutdown()
            flush.join(FLUSH_SECONDS)
            log.warning(
                "tracing_flush_incomplete",
                endpoint=self._endpoint,
                seconds=FLUSH_SECONDS,
                consequence="the spans still queued were dropped",
            )


def start(settings: TracingConfig) -> Tracing | None:
    """This process's tracing, or None when `tracing.endpoint` is not set."""
    if not settings.endpoint:
        return None
    tracing = Tracing(settings)
    log.info(
        "tracing_on",
        endpoint=settings.endpoint,
        sample_ratio=settings.sample_ratio,
        service_name=settings.service_name,
    )
    return tracing


def traced(server: Any, tracing: Tracing | None) -> Any:
    """`server` with the decision service's handlers added traced; itself without tracing."""
    return server if tracing is None else TracedServer(server, tracing.tracer)


class TracedServer:
    """`server` as `bodies.GuardedServer` sees it: decision-service handlers are added traced,
    outside the guard, so that a refused body has its span too; other services as they are.

    `GuardedServer` adds every service's handlers through both methods, like generated
    registration code; the second adds both, traced.
    """

    def __init__(self, server: Any, tracer: Tracer) -> None:
        self._server = server
        self._tracer = tracer

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: `add_registered_method_handlers` adds the same handlers, traced."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        if service == DECISION_SERVICE:
            handlers = {
                method: _traced(handler, self._tracer, service, method)
                for method, handler in handlers.items()
            }
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, handlers),)
        )
        self._server.add_registered_method_handlers(service, handlers)


def _traced(handler: Any, tracer: Tracer, service: str, method: str) -> Any:
    """A unary handler whose every call is a span named `service/method`."""
    behaviour = handler.unary_unary
    assert behaviour is not None, f"{service}/{method} is streaming"  # noqa: S101
    fixed = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
    return handler._replace(
        unary_unary=_spanned(behaviour, tracer, f"{service}/{method}", fixed, method)
    )


def traced_call(
    tracing: Tracing | None,
    behaviour: Callable[[Any, Any], Any],
    name: str,
    attributes: dict[str, Any],
    method: str,
) -> Callable[[Any, Any], Any]:
    """`behaviour(request, context)` as a SERVER span `name`, for a binding other than gRPC
    whose `context` acts as gRPC's (`authzen`): its metadata carries the W3C headers, and
    `method` is the decision-service method whose request and answer it hands over."""
    if tracing is None:
        return behaviour
    return _spanned(behaviour, tracing.tracer, name, attributes, method)


def _spanned(
    behaviour: Callable[[Any, Any], Any],
    tracer: Tracer,
    name: str,
    fixed: dict[str, Any],
    method: str,
) -> Callable[[Any, Any], Any]:
    """`behaviour` whose every call is a span continuing the caller's trace."""
    describe = _DESCRIBE.get(method)

    async def call(request: Any, context: Any) -> Any:
        parent = _W3C.extract(dict(context.invocation_metadata() or ()))
        span = tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=fixed)
        try:
            response = await behaviour(request, context)
        except BaseException as exc:
            _failed(span, context, exc)
            raise
        else:
            if span.is_recording():
                _status(span, context.code() or grpc.StatusCode.OK)
                if describe is not None:
                    span.set_attributes(describe(request, response))
            return response
        finally:
            span.end()

    return call


def _failed(span: Span, context: Any, exc: BaseException) -> None:
    """What stopped a call: the status it was aborted with, or a fault of this server."""
    if isinstance(exc, asyncio.CancelledError):
        code = grpc.StatusCode.CANCELLED
    elif isinstance(exc, grpc.aio.AbortError):
        code = context.code() or grpc.StatusCode.UNKNOWN
    else:  # gRPC answers it UNKNOWN
        code = grpc.StatusCode.UNKNOWN
        span.record_exception(exc)
    _status(span, code)
    if code in SERVER_FAULTS:
        # Only our own words: a fault's message names no part of the request.
        span.set_status(
            Status(StatusCode.ERROR, f"{code.name}: {context.details() or type(exc).__name__}")
        )


def _status(span: Span, code: grpc.StatusCode) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    span.set_attribute("rpc.response.status_code", code.name)


def _verdict(allowed: bool) -> str:
    return "allow" if allowed else "deny"


def _check(request: pb.CheckRequest, response: pb.CheckResponse) -> dict[str, Any]:
    return {
        "quanze.decision_id": response.decision_id,
        "quanze.action": request.action.name,
        "quanze.decision": _verdict(response.decision),
        "quanze.policy_revision": response.policy_revision,
    }


def _batch(request: pb.CheckBatchRequest, response: pb.CheckBatchResponse) -> dict[str, Any]:
    answers = [item.answer for item in response.evaluations]
    return {
        **_counts(answers),
        "quanze.decision_ids": [a.decision_id for a in answers[:MAX_DECISION_IDS]],
        "quanze.policy_revision": answers[0].policy_revision if answers else "",
    }


def _listed(
    request: pb.ListAllowedActionsRequest, response: pb.ListAllowedActionsResponse
) -> dict[str, Any]:
    answers = [entry.answer for entry in response.actions]
    return {
        **_counts(answers),
        # One decision-log record for the call: the answers' ids are `<its id>#<action>`.
        "quanze.decision_id": answers[0].decision_id.split("#")[0] if answers else "",
        "quanze.policy_revision": response.policy_revision,
    }


def _counts(answers: Sequence[pb.CheckResponse]) -> dict[str, int]:
    return {
        "quanze.decision_count": len(answers),
        "quanze.allowed_count": sum(1 for a in answers if a.decision),
    }


_DESCRIBE: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "Check": _check,
    "CheckBatch": _batch,
    "ListAllowedActions": _listed,
}


class _SdkLog(logging.Handler):
    """The SDK's warnings (a collector it cannot reach, a full queue) as JSON log lines: the
    first of each kind, then at most one a minute with how many were left out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(logging.WARNING)
        self._clock = clock
        # The SDK logs on threads of its own, where the worker's log context is not bound.
        self._context = structlog.contextvars.get_contextvars()
        self._last: dict[tuple[str, Any], float] = {}
        self._left_out: Counter[tuple[str, Any]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        kind, now = (record.name, record.msg), self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < SDK_LOG_EVERY_SECONDS:
            self._left_out[kind] += 1
            return
        self._last[kind] = now
        log.warning(
            "tracing_export_problem",
            problem=record.getMessage(),
            source=record.name,
            left_out=self._left_out.pop(kind, 0),
            consequence="spans may be dropped; decision calls are not affected",
            **self._context,
        )


def _route_sdk_log() -> None:
    """Send the `opentelemetry` loggers to `_SdkLog` (once per process), not to plain stderr."""
    sdk = logging.getLogger("opentelemetry")
    if not any(isinstance(h, _SdkLog) for h in sdk.handlers):
        sdk.addHandler(_SdkLog())
        sdk.propagate = False
