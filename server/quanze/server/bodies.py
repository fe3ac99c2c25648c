"""Request bodies as every service on the server reads them, before any servicer sees one.

gRPC turns an exception in a deserializer into UNKNOWN with the exception's class name. Here a
body over `server.max_request_bytes` is not parsed at all (RESOURCE_EXHAUSTED naming the
setting) and one protobuf cannot parse (corrupt, truncated, nested too deeply) is
INVALID_ARGUMENT saying so: the deserializer hands over an `Unreadable` and the wrapped
handler aborts with it. This covers the decision service, health and reflection alike.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from quanze.server import metrics

# What upb says when a message is nested past its depth limit.
_TOO_DEEP = "MaxDepth"


@dataclass(frozen=True)
class Unreadable:
    """What a deserializer hands over instead of a request it would not or could not parse."""

    code: grpc.StatusCode
    message: str


class GuardedServer:
    """`server` as generated registration code sees it: handlers are added guarded.

    Generated `add_*_to_server` functions call both `add_generic_rpc_handlers` and
    `add_registered_method_handlers` with the same handlers; the second adds both, guarded.
    """

    def __init__(self, server: Any, max_request_bytes: int | None) -> None:
        self._server = server
        self._limit = max_request_bytes

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: `add_registered_method_handlers` adds the same handlers, guarded."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        guarded = {
            method: _guard(handler, f"/{service}/{method}", self._limit)
            for method, handler in handlers.items()
        }
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, guarded),)
        )
        self._server.add_registered_method_handlers(service, guarded)


def _guard(handler: Any, method: str, limit: int | None) -> Any:
    behaviour_field = next(
        name
        for name in ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
        if getattr(handler, name) is not None
    )
    behaviour = getattr(handler, behaviour_field)
    streaming_request = behaviour_field.startswith("stream_")
    return handler._replace(
        request_deserializer=_deserializer(handler.request_deserializer, method, limit),
        **{behaviour_field: _refusing(behaviour, streaming_request)},
    )


def _deserializer(
    parse: Callable[[bytes], Any] | None, method: str, limit: int | None
) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        if limit is not None and len(data) > limit:
            metrics.unreadable(method)
            return Unreadable(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the request is {len(data)} bytes; the limit is {limit} "
                "(server.max_request_bytes); send less",
            )
        if parse is None:
            return data
        try:
            return parse(data)
        except DecodeError as exc:
            metrics.unreadable(method)
            return Unreadable(grpc.StatusCode.INVALID_ARGUMENT, _decode_problem(method, exc))

    return deserialize


def _decode_problem(method: str, error: DecodeError) -> str:
    if _TOO_DEEP in str(error):
        why = (
            "it is nested more deeply than protobuf allows (100 message levels; each level of "
            "a Struct inside a Struct takes 3)"
        )
        fix = "flatten the nested properties or context"
    else:
        why = f"protobuf could not parse it ({error})"
        fix = "send a message serialized by a protobuf library from the quanze.v1 proto"
    return f"the request body of {method} is not a valid message: {why}; {fix}"


async def _refuse(request: Any, context: Any) -> None:
    if isinstance(request, Unreadable):
        await context.abort(request.code, request.message)


async def _checked(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
    async for request in requests:
        await _refuse(request, context)
        yield request


def _refusing(behaviour: Callable[..., Any], streaming_request: bool) -> Callable[..., Any]:
    """`behaviour` that aborts with an `Unreadable` request instead of handling it.

    gRPC tells a streaming handler (an async generator) from one that writes through its
    context (a coroutine function) by its kind, so the wrapper keeps the kind it wraps.
    """

    def arguments(request: Any, context: Any) -> tuple[Any, Any]:
        return (_checked(request, context) if streaming_request else request), context

    if inspect.isasyncgenfunction(behaviour):

        async def streamed(request: Any, context: Any) -> AsyncIterator[Any]:
            if not streaming_request:
                await _refuse(request, context)
            async for response in behaviour(*arguments(request, context)):
                yield response

        return streamed

    async def answered(request: Any, context: Any) -> Any:
        if not streaming_request:
            await _refuse(request, context)
        return await behaviour(*arguments(request, context))

    return answered
