"""The gRPC face of the decision service: the servicer, health and reflection.

Errors map to status codes here and only here: invalid input is INVALID_ARGUMENT naming the
field; no loaded policies is UNAVAILABLE. Neither is ever an allow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from quanze.server import convert
from quanze.server.decisions import Decider
from quanze.server.errors import InvalidRequestError
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

_Reply = TypeVar("_Reply")

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["DecisionService"].full_name


class DecisionServicer(pb_grpc.DecisionServiceServicer):
    """Answers Check, CheckBatch and ListAllowedActions from the current `Decider`."""

    def __init__(self) -> None:
        self.decider: Decider | None = None

    async def Check(self, request: pb.CheckRequest, context: Any) -> pb.CheckResponse:
        return await self._answer(
            context, lambda d: convert.answer_message(d.check(convert.request_dict(request)))
        )

    async def CheckBatch(
        self, request: pb.CheckBatchRequest, context: Any
    ) -> pb.CheckBatchResponse:
        defaults, items, semantic = convert.batch_parts(request)
        return await self._answer(
            context, lambda d: convert.batch_message(d.check_batch(defaults, items, semantic))
        )

    async def ListAllowedActions(
        self, request: pb.ListAllowedActionsRequest, context: Any
    ) -> pb.ListAllowedActionsResponse:
        def listed(decider: Decider) -> pb.ListAllowedActionsResponse:
            actions = decider.allowed_actions(convert.request_dict(request))
            return convert.actions_message(actions, decider.revision)

        return await self._answer(context, listed)

    async def _answer(self, context: Any, respond: Callable[[Decider], _Reply]) -> _Reply:
        """`respond` with the current Decider; invalid input becomes INVALID_ARGUMENT."""
        decider = await self._ready(context)
        try:
            return respond(decider)
        except InvalidRequestError as exc:
            problem = str(exc)
        # Aborting inside the except block would keep the traceback, and through it the Decider
        # and its thread-bound engine, alive in a cycle that another thread's gc could drop.
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        raise AssertionError("unreachable: abort raises")

    async def _ready(self, context: Any) -> Decider:
        decider = self.decider
        if decider is None:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "policies are not loaded yet; retry shortly"
            )
            raise AssertionError("unreachable: abort raises")
        return decider


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
