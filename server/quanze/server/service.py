"""The gRPC face of the decision service: the servicer, health and reflection.

Errors map to status codes here and only here: invalid input is INVALID_ARGUMENT naming the
field; no loaded policies is UNAVAILABLE. Neither is ever an allow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from quanze.server import convert
from quanze.server.decisionlog import events
from quanze.server.decisionlog.sink import DecisionLog
from quanze.server.decisions import BatchItemResult, Decider
from quanze.server.errors import InvalidRequestError
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

_Result = TypeVar("_Result")

log = structlog.get_logger("quanze.service")
# Request metadata copied into decision records so a record can be joined with traces.
TRACE_HEADERS = {"traceparent": "traceparent", "x-request-id": "request_id"}

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["DecisionService"].full_name


class DecisionServicer(pb_grpc.DecisionServiceServicer):
    """Answers Check, CheckBatch and ListAllowedActions from the current `Decider`.

    With a decision log, every answer is recorded before it is sent; when the log is
    `required` and the record cannot be written, the answer becomes a deny (`audit_unavailable`).
    """

    def __init__(self, decision_log: DecisionLog | None = None) -> None:
        self.decider: Decider | None = None
        self.decision_log = decision_log

    async def Check(self, request: pb.CheckRequest, context: Any) -> pb.CheckResponse:
        started = time.perf_counter_ns()
        decider = await self._ready(context)
        decided = await self._valid(context, lambda: decider.decide(convert.request_dict(request)))
        answer = decided.answer
        call = self._call(context, "Check", decider, started)
        if not await self._logged(
            call, lambda: [events.check_record(call, decided, decider.masker)]
        ):
            answer = decider.deny("audit_unavailable", answer["decision_id"])
        return convert.answer_message(answer)

    async def CheckBatch(
        self, request: pb.CheckBatchRequest, context: Any
    ) -> pb.CheckBatchResponse:
        started = time.perf_counter_ns()
        decider = await self._ready(context)
        defaults, items, semantic = convert.batch_parts(request)
        results = await self._valid(context, lambda: decider.check_batch(defaults, items, semantic))
        call = self._call(context, "CheckBatch", decider, started)
        if not await self._logged(
            call, lambda: events.batch_records(call, results, decider.masker)
        ):
            results = [
                BatchItemResult(
                    decider.deny("audit_unavailable", r.answer["decision_id"]), r.error, r.request
                )
                for r in results
            ]
        return convert.batch_message(results)

    async def ListAllowedActions(
        self, request: pb.ListAllowedActionsRequest, context: Any
    ) -> pb.ListAllowedActionsResponse:
        started = time.perf_counter_ns()
        decider = await self._ready(context)
        listed = await self._valid(
            context, lambda: decider.list_actions(convert.request_dict(request))
        )
        answers = listed.answers
        call = self._call(context, "ListAllowedActions", decider, started)
        if not await self._logged(call, lambda: [events.list_record(call, listed, decider.masker)]):
            answers = [
                (action, decider.deny("audit_unavailable", answer["decision_id"]))
                for action, answer in answers
            ]
        return convert.actions_message(answers, decider.revision)

    async def _valid(self, context: Any, decide: Callable[[], _Result]) -> _Result:
        """`decide`; invalid input becomes INVALID_ARGUMENT naming the field."""
        try:
            return decide()
        except InvalidRequestError as exc:
            problem = str(exc)
        # Aborting inside the except block would keep the traceback, and through it the Decider
        # and its thread-bound engine, alive in a cycle that another thread's gc could drop.
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        raise AssertionError("unreachable: abort raises")

    async def _logged(self, call: events.Call, build: Callable[[], list[dict[str, Any]]]) -> bool:
        """Record the call's answers; False when they must not go out (required log failed)."""
        decision_log = self.decision_log
        if decision_log is None:
            return True
        try:
            records = build()
        except Exception:
            # A record that cannot be built is a record that cannot be written.
            log.exception("decision_record_failed", rpc=call.rpc)
            return await decision_log.record_failed()
        return await decision_log.record(records)

    def _call(self, context: Any, rpc: str, decider: Decider, started: int) -> events.Call:
        if self.decision_log is None:
            return events.Call(rpc, decider.revision, {}, started_ns=started)
        metadata = dict(context.invocation_metadata() or ())
        trace = {key: str(metadata[h]) for h, key in TRACE_HEADERS.items() if h in metadata}
        return events.Call(
            rpc,
            decider.revision,
            self.decision_log.labels,
            peer=context.peer() or "",
            certificate_subject=_certificate_subject(context),
            trace=trace,
            started_ns=started,
        )

    async def _ready(self, context: Any) -> Decider:
        decider = self.decider
        if decider is None:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "policies are not loaded yet; retry shortly"
            )
            raise AssertionError("unreachable: abort raises")
        return decider


def _certificate_subject(context: Any) -> str:
    """The client certificate's subject (mTLS), or "" on an insecure channel."""
    auth = context.auth_context() or {}
    for key in ("x509_subject", "x509_common_name"):
        values = auth.get(key)
        if values:
            value = values[0]
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


class Health:
    """Standard grpc.health.v1: NOT_SERVING until policies are loaded."""

    def __init__(self) -> None:
        self.servicer = health.aio.HealthServicer()

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.servicer.set(name, status)


def register(server: Any, decisions: DecisionServicer, health_service: Health) -> None:
    """Add the decision, health and reflection services to `server`."""
    pb_grpc.add_DecisionServiceServicer_to_server(decisions, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_service.servicer, server)
    names = (
        SERVICE_NAME,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
