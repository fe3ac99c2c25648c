"""The blocking client; thread-safe, several connections per client (`connections`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import grpc

from quanze.client import _calls, _connections, _convert
from quanze.client._calls import ChannelOptions, PemSource, Semantic
from quanze.client.answers import ActionDecision, Answer, BatchItem
from quanze.client.errors import ClientClosedError
from quanze.client.requests import PartialLike, RequestLike, Resource, Subject
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc


class Client:
    """Asks a Quanze sidecar for decisions over gRPC.

    `target` is "host:port" or "unix:/path". Every call has a deadline: `timeout` seconds
    unless the call passes its own `timeout=`. Failures raise `QuanzeClientError` subclasses;
    `check_or_deny` turns sidecar failures into a deny instead.

    TLS: `root_certificates` (the CA that signed the sidecar's certificate; the system's CAs
    without it) and, for mTLS, `certificate_chain` with `private_key`; each is PEM content as
    `bytes` or the path of a PEM file (`str` or `Path`, read once, here). Or pass a ready
    `channel` (`grpc.Channel`), which the client then uses as it is and does not close.

    `connections` (4 unless a `channel` is passed): how many connections calls may spread over,
    so that a sidecar's workers share them (the kernel gives each connection to one worker).
    Calls share the first connection until it has 8 in flight (its worker is behind), then
    spill over to the next, and so on; a connection is opened when a call first takes it.
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
        channel: grpc.Channel | None = None,
        connections: int | None = None,
    ) -> None:
        self.target = _calls.check_target(target)
        self.timeout = _calls.check_timeout(timeout)
        credentials = _calls.channel_credentials(
            channel, root_certificates, certificate_chain, private_key
        )
        count = _calls.connection_count(connections, channel)
        options = _calls.connection_options(channel_options, count)
        self._owns_channel = channel is None
        if channel is not None:
            self._channels = [channel]
        elif credentials is not None:
            self._channels = [
                grpc.secure_channel(target, credentials, options=options) for _ in range(count)
            ]
        else:
            self._channels = [grpc.insecure_channel(target, options=options) for _ in range(count)]
        self._spread = _connections.Spread([pb_grpc.DecisionServiceStub(c) for c in self._channels])
        self._closed = False

    def check(self, request: RequestLike, *, timeout: float | None = None) -> Answer:
        """The sidecar's answer to one request (a CheckRequest or a contract dict)."""
        message = _convert.check_message(request)
        return _convert.answer(self._call("Check", message, timeout))

    def check_or_deny(self, request: RequestLike, *, timeout: float | None = None) -> Answer:
        """Like `check`, but a sidecar that cannot answer yields the `sidecar_unavailable` deny.

        A malformed request still raises `InvalidRequestError`: that is a bug to fix, not an outage.
        """
        try:
            return self.check(request, timeout=timeout)
        except _calls.FAIL_CLOSED as exc:
            return _calls.deny_for(exc)

    def check_batch(
        self,
        items: Iterable[PartialLike],
        *,
        defaults: PartialLike | None = None,
        semantic: Semantic = "execute_all",
        timeout: float | None = None,
    ) -> list[BatchItem]:
        """Answers in item order; each item inherits the parts of `defaults` it does not set.

        With "deny_on_first_deny" / "permit_on_first_permit" the list stops at the item that
        triggered it. An invalid item gets its own `error` while the others are answered.
        No items asks for `defaults` alone (AuthZEN).
        """
        message = _convert.batch_message(items, defaults, semantic)
        return _convert.batch_items(self._call("CheckBatch", message, timeout))

    def allowed_actions(
        self,
        subject: Subject | Mapping[str, Any],
        resource: Resource | Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[ActionDecision]:
        """Every action of the catalog, in catalog order, with the answer Check would give."""
        message = _convert.list_message(subject, resource, context)
        response: pb.ListAllowedActionsResponse = self._call("ListAllowedActions", message, timeout)
        return _convert.action_decisions(response)

    def close(self) -> None:
        """Close the connections (not a channel passed in); calls in flight are cancelled.
        Safe twice."""
        if not self._closed:
            self._closed = True
            if self._owns_channel:
                for channel in self._channels:
                    channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, rpc: str, message: object, timeout: float | None) -> Any:
        if self._closed:
            raise ClientClosedError(self.target)
        deadline = _calls.deadline(self.timeout, timeout)
        index, stub = self._spread.take()
        try:
            return getattr(stub, rpc)(message, timeout=deadline)
        except grpc.RpcError as exc:
            raise _calls.translate(exc, self.target) from exc
        finally:
            self._spread.give(index)
