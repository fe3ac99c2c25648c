"""The asyncio client (grpc.aio); use one per event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import grpc

from quanze.client import _calls, _convert
from quanze.client._calls import ChannelOptions, PemSource, Semantic
from quanze.client.answers import ActionDecision, Answer, BatchItem
from quanze.client.errors import ClientClosedError
from quanze.client.requests import PartialLike, RequestLike, Resource, Subject
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from quanze.v1.decision_service_pb2_grpc import DecisionServiceAsyncStub

_Response = TypeVar("_Response")

# The generated stub class builds its asyncio flavour when given a grpc.aio channel.
_async_stub: Callable[[grpc.aio.Channel], DecisionServiceAsyncStub] = pb_grpc.DecisionServiceStub


class AsyncClient:
    """Asks a Quanze sidecar for decisions over grpc.aio; the API of `Client`, awaited.

    TLS as for `Client`; a `channel` passed in must be a `grpc.aio.Channel` of this loop.

    The channel is opened on first use, inside the running event loop (grpc.aio binds a
    channel to the loop it was made in), so the client may be built outside any loop.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 1.0,
        channel_options: ChannelOptions = (),
        root_certificates: PemSource | None = None,
        certificate_chain: PemSource | None = None,
        private_key: PemSource | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.target = _calls.check_target(target)
        self.timeout = _calls.check_timeout(timeout)
        self._options = list(channel_options)
        self._credentials = _calls.channel_credentials(
            channel, root_certificates, certificate_chain, private_key
        )
        self._owns_channel = channel is None
        self._channel: grpc.aio.Channel | None = channel
        self._stub: DecisionServiceAsyncStub | None = (
            None if channel is None else _async_stub(channel)
        )
        self._closed = False

    async def check(self, request: RequestLike, *, timeout: float | None = None) -> Answer:
        """The sidecar's answer to one request (a CheckRequest or a contract dict)."""
        message = _convert.check_message(request)
        response: pb.CheckResponse = await self._call(self._stubs().Check, message, timeout)
        return _convert.answer(response)

    async def check_or_deny(self, request: RequestLike, *, timeout: float | None = None) -> Answer:
        """Like `check`, but a sidecar that cannot answer yields the `sidecar_unavailable` deny.

        A malformed request still raises `InvalidRequestError`: that is a bug to fix, not an outage.
        """
        try:
            return await self.check(request, timeout=timeout)
        except _calls.FAIL_CLOSED as exc:
            return _calls.deny_for(exc)

    async def check_batch(
        self,
        items: Iterable[PartialLike],
        *,
        defaults: PartialLike | None = None,
        semantic: Semantic = "execute_all",
        timeout: float | None = None,
    ) -> list[BatchItem]:
        """Answers in item order; each item inherits the parts of `defaults` it does not set.

        No items asks for `defaults` alone (AuthZEN); see `Client.check_batch`.
        """
        message = _convert.batch_message(items, defaults, semantic)
        response: pb.CheckBatchResponse = await self._call(
            self._stubs().CheckBatch, message, timeout
        )
        return _convert.batch_items(response)

    async def allowed_actions(
        self,
        subject: Subject | Mapping[str, Any],
        resource: Resource | Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[ActionDecision]:
        """Every action of the catalog, in catalog order, with the answer Check would give."""
        message = _convert.list_message(subject, resource, context)
        response: pb.ListAllowedActionsResponse = await self._call(
            self._stubs().ListAllowedActions, message, timeout
        )
        return _convert.action_decisions(response)

    async def close(self) -> None:
        """Close the channel (not one passed in); calls in flight are cancelled. Safe twice."""
        self._closed = True
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None and self._owns_channel:
            await channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _stubs(self) -> DecisionServiceAsyncStub:
        if self._closed:
            raise ClientClosedError(self.target)
        if self._stub is None:
            channel = (
                grpc.aio.insecure_channel(self.target, options=self._options)
                if self._credentials is None
                else grpc.aio.secure_channel(self.target, self._credentials, options=self._options)
            )
            self._channel, self._stub = channel, _async_stub(channel)
        return self._stub

    async def _call(
        self,
        method: Callable[..., Awaitable[_Response]],
        message: object,
        timeout: float | None,
    ) -> _Response:
        deadline = _calls.deadline(self.timeout, timeout)
        try:
            return await method(message, timeout=deadline)
        except grpc.RpcError as exc:
            raise _calls.translate(exc, self.target) from exc
