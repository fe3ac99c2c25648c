"""The gRPC face of the decision service: the servicer, health and reflection.

Errors map to status codes here and only here: invalid input is INVALID_ARGUMENT naming the
field; no loaded policies is UNAVAILABLE; a worker already holding `server.max_concurrent_calls`
decision calls answers RESOURCE_EXHAUSTED at once (load shedding), and a call whose deadline
has passed is not evaluated (DEADLINE_EXCEEDED); a call that arrives while the worker shuts
down is not evaluated either (UNAVAILABLE). None is ever an allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from quanze.server import __version__, bodies, convert, metrics, transport
from quanze.server.clock import timestamp
from quanze.server.decider_thread import DeciderThread, ExpiredError, NotServingError
from quanze.server.decisionlog import events
from quanze.server.decisionlog.sink import DecisionLog
from quanze.server.decisions import Answer, BatchItemResult, Decider, Denials, Listed
from quanze.server.errors import InvalidRequestError
from quanze.server.policy.reloader import PolicyStatus
from quanze.server.reflection import add_reflection
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

_Result = TypeVar("_Result")

log = structlog.get_logger("quanze.service")
# Request metadata copied into decision records so a record can be joined with traces.
TRACE_HEADERS = {"traceparent": "traceparent", "x-request-id": "request_id"}

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["DecisionService"].full_name
# Log a `calls_shed` line for the first shed call and then every this many.
SHED_LOG_EVERY = 1000
# Weight of the newest call in the moving average of how long calls take.
_AVERAGE_WEIGHT = 0.1


_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Handler = Callable[["DecisionServicer", _Request, Any, str], Awaitable[_Response]]


def _admission(handler: _Handler[_Request, _Response]) -> _Handler[_Request, _Response]:
    """A decision call that runs only once `DecisionServicer._admitted` lets the call in.

    `rpc` names the call in metrics and decision records: the gRPC method, or the AuthZEN
    endpoint (`authzen`) that calls the same method with a context of its own.
    """

    @functools.wraps(handler)
    async def admitted(
        self: DecisionServicer, request: _Request, context: Any, rpc: str
    ) -> _Response:
        with metrics.call(rpc, context):
            async with self._admitted(request, context):
                return await handler(self, request, context, rpc)

    return admitted


class DecisionServicer(pb_grpc.DecisionServiceServicer):
    """Answers Check, CheckBatch and ListAllowedActions from the serving `Decider`.

    The handlers run on the event loop; each decision (and the masking of its records) runs as
    one job on the worker's decider thread (`deciders`), so the loop keeps taking calls and
    counts every one waiting for it. With a decision log, every answer is recorded before it is
    sent; when the log is `required` and the record cannot be written, the answer becomes a deny
    (`audit_unavailable`).
    """

    def __init__(
        self, decision_log: DecisionLog | None = None, *, max_concurrent_calls: int = 32
    ) -> None:
        self.deciders = DeciderThread()
        self.decision_log = decision_log
        self.status = PolicyStatus()
        self.max_concurrent_calls = max_concurrent_calls
        self.calls_in_flight = 0
        self.calls_shed = 0
        self.calls_expired = 0
        # How long each kind of decision call recently took here (seconds, moving average).
        self._took: dict[type, float] = {}
        # Shutdown: once not `accepting`, new calls are held unevaluated until `refuse_held`.
        self.accepting = True
        self._refuse = asyncio.Event()
        # When a decision call last arrived or finished (time.monotonic()).
        self.last_activity = 0.0

    async def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.GetStatusResponse:
        status = self.status
        response = pb.GetStatusResponse(
            policy_source=status.source,
            active_revision=self.deciders.revision,
            activated_at=status.activated_at,
            last_failed_revision=status.last_failed_revision,
            last_failed_at=status.last_failed_at,
            last_error=status.last_error,
            last_checked_at=status.last_checked_at,
            source_error=status.source_error,
            active_gate=status.active_gate,
            active_gate_cached_at=status.active_gate_cached_at,
            serving=self.deciders.serving,
            version=__version__,
            calls_shed=self.calls_shed,
            calls_expired=self.calls_expired,
            max_concurrent_calls=self.max_concurrent_calls,
        )
        decision_log = self.decision_log
        if decision_log is not None:
            counters = decision_log.counters
            checkpoint = counters.last_checkpoint_time
            response.decision_log.CopyFrom(
                pb.DecisionLogStatus(
                    enabled=True,
                    mode=decision_log.mode,
                    stream=decision_log.writer.stream,
                    decisions_logged=counters.decisions_logged,
                    bytes_written=counters.bytes_written,
                    records_lost=counters.records_lost,
                    records_refused=counters.records_refused,
                    write_failures=counters.write_failures,
                    last_checkpoint_at=timestamp(datetime.fromtimestamp(checkpoint, UTC))
                    if checkpoint
                    else "",
                )
            )
        return response

    async def Check(self, request: pb.CheckRequest, context: Any) -> pb.CheckResponse:
        return await self.check(request, context, "Check")

    async def CheckBatch(
        self, request: pb.CheckBatchRequest, context: Any
    ) -> pb.CheckBatchResponse:
        return await self.check_batch(request, context, "CheckBatch")

    async def ListAllowedActions(
        self, request: pb.ListAllowedActionsRequest, context: Any
    ) -> pb.ListAllowedActionsResponse:
        return await self.list_allowed_actions(request, context, "ListAllowedActions")

    @_admission
    async def check(self, request: pb.CheckRequest, context: Any, rpc: str) -> pb.CheckResponse:
        """Check, by gRPC or another binding whose `context` acts as gRPC's (`authzen`)."""
        call = self._call(context, rpc)

        def job(decider: Decider) -> _Done[Answer]:
            checked = convert.request_dict(request, decider.limits)
            decided = decider.decide(checked, within_limits=True)
            metrics.evaluated(rpc, decided.evaluation_ns)
            return _done(
                decider,
                call,
                decided.answer,
                lambda c: [events.check_record(c, decided, decider.masker)],
            )

        done = await self._decide(context, job)
        answer = done.result
        if not await self._logged(done.records):
            answer = done.denials.deny("audit_unavailable", answer["decision_id"])
        metrics.answered(rpc, [(request.action.name, answer)])
        return convert.answer_message(answer)

    @_admission
    async def check_batch(
        self, request: pb.CheckBatchRequest, context: Any, rpc: str
    ) -> pb.CheckBatchResponse:
        call = self._call(context, rpc)

        def job(decider: Decider) -> _Done[list[BatchItemResult]]:
            defaults, items, semantic = convert.batch_parts(request, decider.check_shape)
            results = decider.check_batch(defaults, items, semantic, within_limits=True)
            metrics.evaluated(rpc, *(r.evaluation_ns for r in results if r.error is None))
            return _done(
                decider, call, results, lambda c: events.batch_records(c, results, decider.masker)
            )

        done = await self._decide(context, job)
        results = done.result
        if not await self._logged(done.records):
            results = [
                BatchItemResult(
                    done.denials.deny("audit_unavailable", r.answer["decision_id"]),
                    r.error,
                    r.request,
                )
                for r in results
            ]
        metrics.answered(rpc, [(r.action, r.answer) for r in results])
        return convert.batch_message(results)

    @_admission
    async def list_allowed_actions(
        self, request: pb.ListAllowedActionsRequest, context: Any, rpc: str
    ) -> pb.ListAllowedActionsResponse:
        call = self._call(context, rpc)

        def job(decider: Decider) -> _Done[Listed]:
            checked = convert.request_dict(request, decider.limits)
            listed = decider.list_actions(checked, within_limits=True)
            metrics.evaluated(rpc, listed.evaluation_ns)
            return _done(
                decider, call, listed, lambda c: [events.list_record(c, listed, decider.masker)]
            )

        done = await self._decide(context, job)
        answers = done.result.answers
        if not await self._logged(done.records):
            answers = [
                (action, done.denials.deny("audit_unavailable", answer["decision_id"]))
                for action, answer in answers
            ]
        metrics.answered(rpc, answers)
        return convert.actions_message(answers, done.denials.revision)

    @contextlib.asynccontextmanager
    async def _admitted(self, request: Any, context: Any) -> AsyncIterator[None]:
        """Hold one of the worker's call slots, or answer without evaluating.

        - Once the worker shuts down (`stop_accepting`), UNAVAILABLE, held back until
          `refuse_held` (retryable: another worker or instance answers).
        - Past `max_concurrent_calls` calls in the handler, RESOURCE_EXHAUSTED (retryable).
          Calls are counted once their handler starts: waiting for the decider thread,
          evaluating there, or waiting for their decision-log record. The loop hands calls
          to handlers as they arrive (it does not evaluate), so this is the worker's queue.
        - A call whose deadline leaves less time than this kind of call has recently taken
          here (a moving average) is answered DEADLINE_EXCEEDED without evaluating: under
          overload gRPC hands calls over in arrival order after they waited, and evaluating
          one that can only answer late would cost the time a call that can still make it needs.
        """
        self.last_activity = time.monotonic()
        if not self.accepting:
            await self._refuse.wait()
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "this sidecar worker is shutting down; nothing was evaluated; retry, and "
                "another worker or instance answers",
            )
        kind = type(request)
        expected = self._took.get(kind, 0.0)
        remaining = context.time_remaining()
        if remaining is not None and remaining <= expected:
            self.calls_expired += 1
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"the caller's deadline leaves {max(remaining, 0) * 1000:.1f} ms, and a call like "
                f"this takes about {expected * 1000:.1f} ms here now; nothing was evaluated",
            )
        if self.calls_in_flight >= self.max_concurrent_calls:
            self.calls_shed += 1
            if self.calls_shed % SHED_LOG_EVERY == 1:
                log.warning(
                    "calls_shed",
                    total=self.calls_shed,
                    max_concurrent_calls=self.max_concurrent_calls,
                )
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"overloaded: this worker already holds {self.max_concurrent_calls} calls "
                "(server.max_concurrent_calls); nothing was evaluated; retry after a short "
                "backoff",
            )
        self.calls_in_flight += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.calls_in_flight -= 1
            self.last_activity = time.monotonic()
            took = time.perf_counter() - started
            self._took[kind] = expected + (took - expected) * _AVERAGE_WEIGHT

    def stop_accepting(self) -> None:
        """Shutdown: hold every decision call that arrives from now on, unevaluated."""
        self.accepting = False

    def refuse_held(self) -> None:
        """Answer the held calls (and any still to come) UNAVAILABLE.

        Called once the server has begun to stop, so that each caller has been told to go away
        (HTTP/2 GOAWAY) before its answer, and its next call goes elsewhere instead of racing
        the stop (gRPC cancels a call that reaches a stopping server).
        """
        self._refuse.set()

    async def settled(self, deadline: float, quiet_s: float) -> int:
        """Wait until no call is in flight and none arrived or finished for `quiet_s`, or until
        `deadline` (time.monotonic()); the calls still in flight."""
        while time.monotonic() < deadline:
            if not self.calls_in_flight and time.monotonic() - self.last_activity >= quiet_s:
                break
            await asyncio.sleep(0.02)
        return self.calls_in_flight

    async def _decide(self, context: Any, job: Callable[[Decider], _Result]) -> _Result:
        """`job` on the decider thread; what stops it becomes the status that says why.

        Invalid input is INVALID_ARGUMENT naming the field; no policies yet, UNAVAILABLE; a
        call whose deadline passed while it waited for the thread is not evaluated
        (DEADLINE_EXCEEDED, counted in `calls_expired`).
        """
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        try:
            return await self.deciders.decide(job, deadline=deadline)
        except InvalidRequestError as exc:
            code, problem = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        except NotServingError as exc:
            code, problem = grpc.StatusCode.UNAVAILABLE, str(exc)
        except ExpiredError:
            self.calls_expired += 1
            code = grpc.StatusCode.DEADLINE_EXCEEDED
            problem = (
                "the caller's deadline passed while the call waited for evaluation; "
                "nothing was evaluated"
            )
        await context.abort(code, problem)
        raise AssertionError("unreachable: abort raises")

    def _call(self, context: Any, rpc: str) -> _CallOf | None:
        """Who called and when, for the decision records (None without a decision log)."""
        decision_log = self.decision_log
        if decision_log is None:
            return None
        metadata = dict(context.invocation_metadata() or ())
        caller = transport.caller_identity(context)
        return functools.partial(
            events.Call,
            rpc,
            labels=decision_log.labels,
            peer=context.peer() or "",
            certificate_subject=caller.subject,
            certificate_sans=caller.sans,
            trace={key: str(metadata[h]) for h, key in TRACE_HEADERS.items() if h in metadata},
            started_ns=time.perf_counter_ns(),
        )

    async def _logged(self, records: list[dict[str, Any]] | None) -> bool:
        """Record a call's answers; False when they must not go out (required log failed).

        `records` None: they could not be built, which counts as a record that could not be
        written.
        """
        decision_log = self.decision_log
        if decision_log is None:
            return True
        if records is None:
            return await decision_log.record_failed()
        return await decision_log.record(records)


@dataclass(frozen=True)
class _Done(Generic[_Result]):
    """What a decision job hands back to the event loop: plain data, never a Decider."""

    result: _Result
    denials: Denials
    records: list[dict[str, Any]] | None  # None: they could not be built


# `events.Call` but for the revision, which only the job knows.
_CallOf = Callable[[str], events.Call]


def _done(
    decider: Decider,
    call: _CallOf | None,
    result: _Result,
    build: Callable[[events.Call], list[dict[str, Any]]],
) -> _Done[_Result]:
    """A job's result with its decision records, built on the decider thread that decided:
    masking evaluates the log policy with the revision's own engine."""
    records: list[dict[str, Any]] | None = []
    if call is not None:
        made = call(decider.revision)
        try:
            records = build(made)
        except Exception:
            # A record that cannot be built is a record that cannot be written.
            log.exception("decision_record_failed", rpc=made.rpc)
            records = None
    return _Done(result, decider.denials, records)


class Health(health.aio.HealthServicer):
    """Standard grpc.health.v1: NOT_SERVING until a policy revision serves.

    Health stays SERVING while a last good revision serves, even when a newer one was refused;
    each answer's trailing metadata carries the details (`quanze-policy-revision`, and
    `quanze-policy-last-error` when the last revision was refused).
    """

    def __init__(self, decisions: DecisionServicer, *, restrict_details: bool = False) -> None:
        super().__init__()
        self._decisions = decisions
        # `server.restrict_status`: the details are status too; bare health stays open to probes.
        self._restrict_details = restrict_details

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.set(name, status)

    async def Check(self, request: Any, context: Any) -> Any:
        if not self._restrict_details or transport.caller_identity(context).authenticated:
            context.set_trailing_metadata(health_details(self._decisions))
        return await super().Check(request, context)


def health_details(decisions: DecisionServicer) -> tuple[tuple[str, str], ...]:
    """The policy status as gRPC metadata (ASCII only: a first line of the error, trimmed)."""
    status = decisions.status
    details = [("quanze-policy-revision", decisions.deciders.revision)]
    if status.last_failed_revision or status.last_error:
        # A header is one line: the error's first two (what failed, then where).
        lines = [line.strip() for line in status.last_error.splitlines() if line.strip()]
        error = " | ".join(lines[:2])[:300]
        details.append(("quanze-policy-last-failed-revision", status.last_failed_revision))
        details.append(("quanze-policy-last-error", _header_safe(error)))
    return tuple(details)


def _header_safe(text: str) -> str:
    """Printable ASCII only: anything else in a gRPC header fails the whole call."""
    return "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in text)


def register(
    server: Any,
    decisions: DecisionServicer,
    health_service: Health,
    *,
    max_request_bytes: int | None = None,
) -> None:
    """Add the decision, health and reflection services to `server`.

    Every request body is read by `bodies`: one over `max_request_bytes` is not parsed and
    one protobuf cannot parse is refused, before any servicer sees it. Reflection answers as
    both `grpc.reflection.v1` and `v1alpha`.
    """
    guarded = bodies.GuardedServer(server, max_request_bytes)
    pb_grpc.add_DecisionServiceServicer_to_server(decisions, guarded)  # type: ignore[arg-type]
    health_pb2_grpc.add_HealthServicer_to_server(health_service, guarded)  # type: ignore[arg-type]
    add_reflection(
        guarded, (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    )
