"""The AuthZEN 1.0 HTTP binding (`http.address`), served by each worker beside gRPC.

Every decision goes through the gRPC servicer's own methods (`DecisionServicer.check`,
`check_batch`, `list_allowed_actions`): the same admission (shedding, shutdown), decider
thread, decision log (`required` turns an unlogged answer into a deny), metrics and tracing.
The HTTP request is read into the same protobuf message a gRPC client sends, and `HttpContext`
stands in for gRPC's call context, so an abort becomes the HTTP status that says why.

Answers are AuthZEN's `{"decision": …, "context": {…}}`, our reasons, obligations, escalation,
accountability, decision id and policy revision inside `context`. Errors are JSON
`{"error": {"status", "message", "field"?}}`; none is ever a 200 allow.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from aiohttp import web
from google.protobuf import json_format

from quanze.server import metrics, service, tracing, transport
from quanze.server.config import Config
from quanze.server.decisions import ACCOUNTABLE_FIELDS, CITATION_FIELDS
from quanze.server.errors import InvalidRequestError, QuanzeError
from quanze.server.listening import uses_tls
from quanze.server.transport import FollowedSslContext
from quanze.v1 import decision_service_pb2 as pb

log = structlog.get_logger("quanze.authzen")

WELL_KNOWN = "/.well-known/authzen-configuration"
# The HTTP status of each way the decision service refuses a call.
STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# "field: message", as `InvalidRequestError` words it.
_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")


class Refused(grpc.aio.AbortError):
    """What `HttpContext.abort` raises: the call is answered with `code`'s HTTP status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class HttpContext:
    """An HTTP call as the decision service sees a gRPC call's context."""

    def __init__(self, request: web.Request, caller: transport.CallerIdentity) -> None:
        self._request = request
        self._caller = caller
        self._code: grpc.StatusCode | None = None
        self._details = ""

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details
        raise Refused(code, details)

    def time_remaining(self) -> float | None:
        return None  # AuthZEN carries no deadline

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple((name.lower(), value) for name, value in self._request.headers.items())

    def peer(self) -> str:
        transport_ = self._request.transport
        peername = transport_.get_extra_info("peername") if transport_ else None
        if not peername:
            return ""
        host, port = peername[0], peername[1]
        return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"

    def auth_context(self) -> dict[str, list[bytes]]:
        caller = self._caller
        if not caller.authenticated:
            return {}
        return {
            "x509_subject": [caller.subject.encode()],
            "x509_subject_alternative_name": [san.encode() for san in caller.sans],
        }

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details


# ------------------------------------------------------------------------- request shapes

_OBJECT = "object"  # any JSON object (a Struct)
_Shape = Any
_PARTS: dict[str, _Shape] = {
    "subject": {"type": str, "id": str, "properties": _OBJECT},
    "action": {"name": str, "properties": _OBJECT},
    "resource": {"type": str, "id": str, "properties": _OBJECT},
    "context": _OBJECT,
}
_EVALUATION = dict(_PARTS)
_EVALUATIONS = {**_PARTS, "evaluations": [_PARTS], "options": _OBJECT}
# An action search takes no action; `page` is accepted and ignored (one page holds them all).
_SEARCH_ACTION = {"subject": _PARTS["subject"], "resource": _PARTS["resource"],
                  "context": _OBJECT, "page": _OBJECT}  # fmt: skip
_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
          int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def _check(value: Any, shape: _Shape, path: str) -> None:
    """Raise `InvalidRequestError` naming the first field of `value` that `shape` refuses."""
    where = path or "the request body"
    if isinstance(shape, dict) or shape == _OBJECT:
        if not isinstance(value, dict):
            raise InvalidRequestError(path, f"{where} must be a JSON object, not {_kind(value)}")
        if shape == _OBJECT:
            return
        for key, item in value.items():
            field = f"{path}.{key}" if path else key
            if key not in shape:
                raise InvalidRequestError(
                    field, f"is not a field here; expected one of {', '.join(shape)}"
                )
            _check(item, shape[key], field)
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise InvalidRequestError(path, f"must be a JSON array, not {_kind(value)}")
        for index, item in enumerate(value):
            _check(item, shape[0], f"{path}[{index}]")
    elif not isinstance(value, shape):
        raise InvalidRequestError(path, f"must be a string, not {_kind(value)}")


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")


def parse(body: bytes, shape: _Shape, message_type: Any) -> Any:
    """An AuthZEN JSON body as the decision service's request message, or 400 naming why."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidRequestError("", f"the request body is not JSON: {exc}") from None
    _check(document, shape, "")
    if message_type is pb.CheckBatchRequest and "options" in document:
        # Options are open-ended in AuthZEN: the one we know is taken, others are ignored.
        semantic = document["options"].get("evaluations_semantic")
        if semantic is None:
            document["options"] = {}
        else:
            _check(semantic, str, "options.evaluations_semantic")
            document["options"] = {"evaluations_semantic": semantic}
    document.pop("page", None)
    try:
        return json_format.ParseDict(document, message_type())
    except (json_format.ParseError, RecursionError) as exc:
        raise InvalidRequestError("", f"the request body cannot be read: {exc}") from None


# ------------------------------------------------------------------------- answers

# Chinese as it is, not escaped: what a person reading a curl answer can read.
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def evaluation_answer(answer: pb.CheckResponse) -> dict[str, Any]:
    """A Check answer as an AuthZEN evaluation response: ours in `context`."""
    return {
        "decision": answer.HasField("decision") and answer.decision,
        "context": {
            "decision_id": answer.decision_id,
            "reasons": _entries(answer.reasons, CITATION_FIELDS),
            "obligations": _entries(answer.obligations, CITATION_FIELDS),
            "escalate_to": answer.escalate_to,
            "accountable": _entries(answer.accountable, ACCOUNTABLE_FIELDS),
            "policy_revision": answer.policy_revision,
        },
    }


def _entries(messages: Any, fields: Any) -> list[dict[str, Any]]:
    """Repeated entries of an answer as the contract's objects, its fields in its order."""
    return [{f: getattr(m, f) for f in fields} for m in messages]


def evaluations_answer(response: pb.CheckBatchResponse) -> dict[str, Any]:
    """Per-item answers, in order; an invalid item's deny names its field in `context.error`."""
    items = []
    for item in response.evaluations:
        answered = evaluation_answer(item.answer)
        if item.HasField("error"):
            answered["context"]["error"] = {
                "status": 400,
                "field": item.error.field,
                "message": item.error.message,
            }
        items.append(answered)
    return {"evaluations": items}


def search_action_answer(response: pb.ListAllowedActionsResponse) -> dict[str, Any]:
    """The allowed actions of a ListAllowedActions answer, as AuthZEN search results."""
    allowed = [a for a in response.actions if a.answer.HasField("decision") and a.answer.decision]
    first = response.actions[0].answer.decision_id if response.actions else ""
    return {
        "results": [{"name": a.action} for a in allowed],
        "page": {"next_token": ""},
        "context": {
            "decision_id": first.split("#")[0],
            "policy_revision": response.policy_revision,
        },
    }


@dataclass(frozen=True)
class Endpoint:
    """One AuthZEN decision endpoint and the decision-service method that answers it."""

    path: str
    rpc: str
    method: str
    servicer: str
    """The `DecisionServicer` method behind `method`."""
    metadata_key: str
    """Its key in the PDP metadata (AuthZEN §9)."""
    shape: _Shape
    message_type: Any
    answer: Callable[[Any], dict[str, Any]]


ENDPOINTS = (
    Endpoint("/access/v1/evaluation", "AuthZEN.evaluation", "Check", "check",
             "access_evaluation_endpoint", _EVALUATION, pb.CheckRequest, evaluation_answer),
    Endpoint("/access/v1/evaluations", "AuthZEN.evaluations", "CheckBatch", "check_batch",
             "access_evaluations_endpoint", _EVALUATIONS, pb.CheckBatchRequest,
             evaluations_answer),
    Endpoint("/access/v1/search/action", "AuthZEN.search_action", "ListAllowedActions",
             "list_allowed_actions", "search_action_endpoint", _SEARCH_ACTION,
             pb.ListAllowedActionsRequest, search_action_answer),
)  # fmt: skip


def error(status: int, message: str, field: str | None = None) -> web.Response:
    """An error response: JSON naming the field when one is at fault."""
    body: dict[str, Any] = {"status": status, "message": message}
    if field:
        body["field"] = field
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return web.json_response({"error": body}, status=status, headers=headers, dumps=_dumps)


# ------------------------------------------------------------------------- the application


def application(
    config: Config, decisions: service.DecisionServicer, traces: tracing.Tracing | None
) -> web.Application:
    """The AuthZEN routes over `decisions`; bodies over server.max_request_bytes are refused."""
    limit = config.server.max_request_bytes
    allowed = frozenset(config.server.tls.allowed_callers)
    app = web.Application(client_max_size=limit, middlewares=[_guard(allowed)])
    for endpoint in ENDPOINTS:
        decide = traced(endpoint, decisions, traces)
        app.router.add_post(endpoint.path, _handler(endpoint, decide, limit))
    app.router.add_get(WELL_KNOWN, _metadata)
    return app


def traced(
    endpoint: Endpoint, decisions: service.DecisionServicer, traces: tracing.Tracing | None
) -> Callable[[Any, HttpContext], Awaitable[Any]]:
    """The servicer's method for `endpoint`, as a SERVER span when tracing is on."""
    method = getattr(decisions, endpoint.servicer)
    attributes = {"http.request.method": "POST", "http.route": endpoint.path,
                  "rpc.system": "authzen", "rpc.method": endpoint.rpc}  # fmt: skip
    return tracing.traced_call(
        traces,
        functools.partial(method, rpc=endpoint.rpc),
        f"POST {endpoint.path}",
        attributes,
        endpoint.method,
    )


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _handler(
    endpoint: Endpoint, decide: Callable[[Any, HttpContext], Awaitable[Any]], limit: int
) -> _Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _refused_early(
                endpoint.rpc, 415,
                f"the content type is {request.content_type!r}; send application/json",
            )  # fmt: skip
        length = request.content_length
        if length is not None and length > limit:
            return _too_large(endpoint.rpc, f"{length} bytes", limit)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(endpoint.rpc, "larger than that", limit)
        try:
            message = parse(body, endpoint.shape, endpoint.message_type)
        except InvalidRequestError as exc:
            return _refused_early(endpoint.rpc, 400, str(exc), exc.field)
        try:
            response = await decide(message, HttpContext(request, _caller(request)))
        except Refused as exc:
            status = STATUS.get(exc.code, 500)
            found = _FIELD.match(exc.details) if status == 400 else None
            return error(status, exc.details, found.group(1) if found else None)
        return web.json_response(endpoint.answer(response), dumps=_dumps)

    return handle


def _refused_early(rpc: str, status: int, message: str, field: str | None = None) -> web.Response:
    """A body refused before the decision service sees it: counted as gRPC counts one."""
    metrics.refused(rpc)
    return error(status, message, field)


def _too_large(rpc: str, size: str, limit: int) -> web.Response:
    return _refused_early(
        rpc, 413, f"the request is {size}; the limit is {limit} bytes "
        "(server.max_request_bytes); send less",
    )  # fmt: skip


async def _metadata(request: web.Request) -> web.Response:
    """PDP metadata (AuthZEN §9): this sidecar's address as the caller reached it."""
    base = f"{request.scheme}://{request.host}"
    endpoints = {e.metadata_key: f"{base}{e.path}" for e in ENDPOINTS}
    return web.json_response({"policy_decision_point": base, **endpoints})


def _caller(request: web.Request) -> transport.CallerIdentity:
    """The caller's verified client certificate (mTLS), or no identity."""
    transport_ = request.transport
    ssl_object = transport_.get_extra_info("ssl_object") if transport_ else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return transport.certificate_identity(der)


def _guard(allowed: frozenset[str]) -> Any:
    """Refuse callers outside server.tls.allowed_callers; echo X-Request-ID on every answer;
    aiohttp's own refusals (404, 405, …) as JSON errors too."""

    @web.middleware
    async def guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
        refused = transport.refusal(allowed, _caller(request)) if allowed else ""
        response: web.StreamResponse
        if refused:
            response = error(403, refused)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = error(exc.status, exc.reason)
        request_id = request.headers.get("X-Request-ID")
        if request_id is not None:
            response.headers["X-Request-ID"] = request_id
        return response

    return guard


# ------------------------------------------------------------------------- the listener


class HttpListener:
    """A worker's AuthZEN HTTP server on `http.address` (SO_REUSEPORT across workers)."""

    def __init__(
        self,
        config: Config,
        decisions: service.DecisionServicer,
        traces: tracing.Tracing | None,
        *,
        reuse_port: bool,
    ) -> None:
        self._config = config
        # At shutdown the calls in flight get the same grace as gRPC's.
        self._runner = web.AppRunner(
            application(config, decisions, traces),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=config.server.shutdown_grace_seconds,
        )
        self._reuse_port = reuse_port
        self._following: asyncio.Task[None] | None = None
        self.bound = ""

    async def open(self) -> str:
        """Bind `http.address` and start answering; the address bound."""
        address = self._config.http.address
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self._reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, int(port)))
        except OSError as exc:
            sock.close()
            raise QuanzeError(
                f"cannot serve AuthZEN HTTP on {address} (http.address): "
                f"{exc.strerror or exc}; is another process using it? Choose another "
                "HOST:PORT, or leave http.address empty to turn HTTP off"
            ) from exc
        await self._runner.setup()
        tls = _followed_tls(self._config)
        site = web.SockSite(self._runner, sock, ssl_context=tls.context if tls else None)
        await site.start()
        if tls is not None:  # a rotated certificate serves within a second, as over gRPC
            self._following = asyncio.create_task(_follow(tls))
        shown = f"[{host}]" if ":" in host else host
        self.bound = f"{shown}:{sock.getsockname()[1]}"
        return self.bound

    async def close(self) -> None:
        """Stop listening, then let the calls in flight be answered (server's grace)."""
        if self._following is not None:
            self._following.cancel()
        await self._runner.cleanup()


async def _follow(tls: FollowedSslContext) -> None:
    while True:
        await asyncio.sleep(1.0)
        tls.refresh()


def _followed_tls(config: Config) -> FollowedSslContext | None:
    """TLS from server.tls.* (the gRPC listener's certificate, client CA and rule), or None."""
    server = config.server
    if not uses_tls(server):
        return None
    try:
        return FollowedSslContext(server.tls)
    except (OSError, ssl.SSLError, QuanzeError) as exc:
        raise QuanzeError(
            f"cannot serve AuthZEN HTTP over TLS: cannot read server.tls files: {exc}"
        ) from exc
