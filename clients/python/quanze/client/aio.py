"""The asyncio client (grpc.aio); use one per event loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import grpc

from quanze.client import _calls, _connections, _convert
from quanze.client._calls import ChannelOptions, PemSource, Semantic
from quanze.client.answers import ActionDecision, Answer, BatchItem
from quanze.client.errors import ClientClosedError
from quanze.client.requests import PartialLike, RequestLike, Resource, Subject
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from quanze.v1.decision_service_pb2_grpc import DecisionServiceAsyncStub

# The generated stub class builds its asyncio flavour when given a grpc.aio channel.
_async_stub: Callable[[grpc.aio.Channel], DecisionServiceAsyncStub] = pb_grpc.DecisionServiceStub


class AsyncClient:
    """Asks a Quanze sidecar for decisions over grpc.aio; the API of `Client`, awaited.

    TLS and `connections` as for `Client`; a `channel` passed in must be a `grpc.aio.Channel`
    of this loop.

    The channels are made on first use, inside the running event loop (grpc.aio binds a
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
        connections: int | None = None,
    ) -> None:
        self.target = _calls.check_target(target)
        self.timeout = _calls.check_timeout(timeout)
        self._credentials = _calls.channel_credentials(
            channel, root_certificates, certificate_chain, private_key
        )
        self._connections = _calls.connection_count(connections, channel)
        self._options = _calls.connection_options(channel_options, self._connections)
        self._owns_channel = channel is None
        self._channels: list[grpc.aio.Channel] = [] if channel is None else [channel]
        self._spread: _connections.Spread[DecisionServiceAsyncStub] | None = (
            None if channel is None else _connections.Spread([_async_stub(channel)])
        )
        self._closed = False

    async def check(self, request: RequestLike, *, timeout: float | None = None) -> Answer:
        """The sidecar's answer to one request (a CheckRequest or a contract dict)."""
        message = _convert.check_message(request)
        response: pb.CheckResponse = await self._call("Check", message, timeout)
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
        response: pb.CheckBatchResponse = await self._call("CheckBatch", message, timeout)
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
            "ListAllowedActions", message, timeout
        )
        return _convert.action_decisions(response)

    async def close(self) -> None:
        """Close the connections (not a channel passed in); calls in flight are cancelled.
        Safe twice."""
        self._closed = True
        channels, self._channels, self._spread = self._channels, [], None
        if self._owns_channel:
            for channel in channels:
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

    def _stubs(self) -> _connections.Spread[DecisionServiceAsyncStub]:
        if self._closed:
            raise ClientClosedError(self.target)
        if self._spread is None:
            self._channels = [
                grpc.aio.insecure_channel(self.target, options=self._options)
                if self._credentials is None
                else grpc.aio.secure_channel(self.target, self._credentials, options=self._options)
                for _ in range(self._connections)
            ]
            self._spread = _connections.Spread([_async_stub(c) for c in self._channels])
        return self._spread

    async def _call(self, rpc: str, message: object, timeout: float | None) -> Any:
        spread = self._stubs()
        deadline = _calls.deadline(self.timeout, timeout)
        index, stub = spread.take()
        try:
            return await getattr(stub, rpc)(message, timeout=deadline)
        except grpc.RpcError as exc:
            raise _calls.translate(exc, self.target) from exc
        finally:
            spread.give(index)
