"""Tracing against a real OTLP receiver: `quanze serve` with 2 workers exports a SERVER span per
decision call over OTLP/gRPC, continuing the caller's W3C trace."""

from __future__ import annotations

import copy
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quanze.server import __version__
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc
from tests.integration.load import ALLOWED, DENIED, LISTED, OWN_CONNECTION, Sidecar, sidecar
from tests.integration.otlp import ReceivedSpan, Receiver
from tests.integration.support import start, stop, wait_until

pytestmark = pytest.mark.slow

WAIT = 120.0  # spans leave in batches every 5 s; two busy cores can take a while
SERVICE = "quanze.v1.DecisionService"
STATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def traceparent(trace_id: str, parent_id: str, *, sampled: bool = True) -> str:
    return f"00-{trace_id}-{parent_id}-{'01' if sampled else '00'}"


def new_ids() -> tuple[str, str]:
    """A fresh trace id and span id, as a caller's tracer makes them."""
    return secrets.token_hex(16), secrets.token_hex(8)


def call(address: str, rpc: str, request: Any, metadata: tuple[tuple[str, str], ...] = ()) -> Any:
    """One call on a connection of its own (so that calls spread over the workers)."""
    with grpc.insecure_channel(address, options=[OWN_CONNECTION]) as channel:
        method = getattr(pb_grpc.DecisionServiceStub(channel), rpc)
        return method(request, metadata=metadata, timeout=60)


def check_message(request: dict[str, Any]) -> pb.CheckRequest:
    return json_format.ParseDict(request, pb.CheckRequest())


def spans_where(receiver: Receiver, **attributes: Any) -> list[ReceivedSpan]:
    return [
        s for s in receiver.spans() if all(s.attributes.get(k) == v for k, v in attributes.items())
    ]


def one_span(receiver: Receiver, **attributes: Any) -> ReceivedSpan:
    """The one span with these attributes, once the receiver has it."""
    wait_until(lambda: spans_where(receiver, **attributes), f"a span with {attributes}", WAIT)
    (span,) = spans_where(receiver, **attributes)
    return span


class Traced:
    """A 2-worker sidecar exporting to `receiver`, with each worker's pid."""

    def __init__(self, server: Sidecar, receiver: Receiver) -> None:
        self.server = server
        self.address = server.address
        self.receiver = receiver
        self.pids = {int(e["pid"]) for e in server.events if e["event"] == "listening"}


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    with (
        Receiver() as receiver,
        sidecar(
            tmp_path_factory.mktemp("traced"),
            "--workers",
            "2",
            "--set",
            f"tracing.endpoint={receiver.endpoint}",
            "--set",
            "tracing.service_name=quanze-under-test",
        ) as server,
    ):
        server.wait_event("policy_revision_active", WAIT)
        yield Traced(server, receiver)


def test_checks_continue_the_callers_trace_in_a_real_collector(traced: Traced) -> None:
    trace_id = secrets.token_hex(16)
    sent = {}  # the caller's span id -> (request, answer)
    for n in range(20):
        parent = secrets.token_hex(8)
        request = check_message(ALLOWED if n % 2 else DENIED)
        answer = call(
            traced.address,
            "Check",
            request,
            (("traceparent", traceparent(trace_id, parent)), ("tracestate", STATE)),
        )
        sent[parent] = (request, answer)
    assert {a.decision for _, a in sent.values()} == {True, False}

    def ours() -> list[ReceivedSpan]:
        return [s for s in traced.receiver.spans() if s.trace_id == trace_id]

    wait_until(lambda: len(ours()) >= len(sent), "every call's span reached the receiver", WAIT)
    spans = ours()
    assert sorted(s.parent_span_id for s in spans) == sorted(sent)
    for span in spans:
        request, answer = sent[span.parent_span_id]
        assert span.span.name == f"{SERVICE}/Check"
        assert span.span.kind == span.span.SPAN_KIND_SERVER
        assert span.span.trace_state == STATE
        assert span.span.status.code == span.span.status.STATUS_CODE_UNSET
        assert span.attributes == {
            "rpc.system": "grpc",
            "rpc.service": SERVICE,
            "rpc.method": "Check",
            "rpc.grpc.status_code": 0,
            "rpc.response.status_code": "OK",
            "quanze.decision_id": answer.decision_id,
            "quanze.action": request.action.name,
            "quanze.decision": "allow" if answer.decision else "deny",
            "quanze.policy_revision": answer.policy_revision,
        }
        assert span.resource["service.name"] == "quanze-under-test"
        assert span.resource["service.version"] == __version__
    # One tracer per worker process: both workers answered, each with its own instance id.
    instances = {s.resource["service.instance.id"] for s in spans}
    assert instances == {f"{socket.gethostname()}/{pid}" for pid in traced.pids}


def test_a_call_without_traceparent_starts_a_trace(traced: Traced) -> None:
    answer = call(traced.address, "Check", check_message(ALLOWED))
    span = one_span(traced.receiver, **{"quanze.decision_id": answer.decision_id})
    assert span.parent_span_id == ""
    assert len(span.trace_id) == 32
    assert span.trace_id != "0" * 32
    assert span.attributes["quanze.decision"] == "allow"


def test_batch_and_list_spans_name_their_decisions(traced: Traced) -> None:
    items = [check_message(ALLOWED if n % 3 else DENIED) for n in range(12)]
    trace_id, parent = new_ids()
    metadata = (("traceparent", traceparent(trace_id, parent)),)
    batch = call(traced.address, "CheckBatch", pb.CheckBatchRequest(evaluations=items), metadata)
    listed = call(
        traced.address,
        "ListAllowedActions",
        json_format.ParseDict(LISTED, pb.ListAllowedActionsRequest()),
        metadata,
    )
    answers = [item.answer for item in batch.evaluations]
    first_ids = [a.decision_id for a in answers[:10]]  # the span names the first 10 items'
    batch_span = one_span(
        traced.receiver, **{"rpc.method": "CheckBatch", "quanze.decision_ids": first_ids}
    )
    assert (batch_span.trace_id, batch_span.parent_span_id) == (trace_id, parent)
    assert batch_span.span.name == f"{SERVICE}/CheckBatch"
    assert batch_span.attributes["quanze.decision_count"] == 12
    assert 0 < batch_span.attributes["quanze.allowed_count"] < 12
    assert batch_span.attributes["quanze.allowed_count"] == sum(a.decision for a in answers)
    assert batch_span.attributes["quanze.policy_revision"] == answers[0].policy_revision

    call_id = listed.actions[0].answer.decision_id.split("#")[0]
    list_span = one_span(traced.receiver, **{"quanze.decision_id": call_id})
    assert (list_span.trace_id, list_span.parent_span_id) == (trace_id, parent)
    assert list_span.span.name == f"{SERVICE}/ListAllowedActions"
    assert list_span.attributes["quanze.decision_count"] == len(listed.actions)
    assert list_span.attributes["quanze.allowed_count"] == sum(
        a.answer.decision for a in listed.actions
    )
    assert list_span.attributes["quanze.policy_revision"] == listed.policy_revision


def test_a_refused_call_carries_its_status_and_is_not_a_server_error(traced: Traced) -> None:
    bad = copy.deepcopy(ALLOWED)
    bad["action"]["name"] = "case.no_such_action"
    trace_id, parent = new_ids()
    metadata = (("traceparent", traceparent(trace_id, parent)),)
    # One connection, so one worker: it exports its spans in the order the calls ended.
    with grpc.insecure_channel(traced.address, options=[OWN_CONNECTION]) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.DecisionServiceStub(channel).Check(
                check_message(bad), metadata=metadata, timeout=60
            )
        health: Any = health_pb2_grpc.HealthStub(channel)
        health.Check(health_pb2.HealthCheckRequest(), metadata=metadata, timeout=60)
        last = pb_grpc.DecisionServiceStub(channel).Check(check_message(ALLOWED), timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Once the call after them has its span, the refused call and health would have theirs.
    one_span(traced.receiver, **{"quanze.decision_id": last.decision_id})
    (span,) = [s for s in traced.receiver.spans() if s.trace_id == trace_id]  # health: none
    assert span.span.name == f"{SERVICE}/Check"
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert span.attributes["rpc.response.status_code"] == "INVALID_ARGUMENT"
    # The caller's mistake, not the server's: no ERROR status, and nothing of the request.
    assert span.span.status.code == span.span.status.STATUS_CODE_UNSET
    assert not any(key.startswith("quanze.") for key in span.attributes)


def test_a_fault_of_the_server_is_an_error_span(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text("package quanze.authz\n\ndecision := {\n")
    trace_id, parent = new_ids()
    with Receiver() as receiver:
        # Policies that never compile: the sidecar listens but serves nothing (UNAVAILABLE).
        process = start(
            "--address",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--policies",
            str(policies),
            "--set",
            f"policies.cache_dir={tmp_path / 'cache'}",
            "--set",
            f"tracing.endpoint={receiver.endpoint}",
            cwd=tmp_path,
        )
        with process:
            server = Sidecar(process)
            try:
                address = str(server.wait_event("listening", WAIT)["address"])
                server.wait_event("policy_revision_refused", WAIT)
                with pytest.raises(grpc.RpcError) as refused:
                    call(
                        address,
                        "Check",
                        check_message(ALLOWED),
                        (("traceparent", traceparent(trace_id, parent)),),
                    )
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                span = one_span(receiver, **{"rpc.response.status_code": "UNAVAILABLE"})
            finally:
                stop(process)
                server.reader.join(30)
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent)
    assert span.span.status.code == span.span.status.STATUS_CODE_ERROR
    assert span.span.status.message == f"UNAVAILABLE: {refused.value.details()}"
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]


def test_unsampled_callers_are_not_traced_and_queued_spans_are_flushed_at_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing leaves before the shutdown: what the receiver gets, the shutdown flushed.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
    unsampled, sampled = new_ids(), new_ids()
    with Receiver() as receiver:
        with sidecar(
            tmp_path,
            "--workers",
            "2",
            "--set",
            f"tracing.endpoint={receiver.endpoint}",
            "--set",
            "tracing.sample_ratio=0",
        ) as server:
            request = check_message(ALLOWED)
            quiet = call(
                server.address,
                "Check",
                request,
                (("traceparent", traceparent(*unsampled, sampled=False)),),
            )
            untraced = call(server.address, "Check", request)  # ratio 0: a new trace is not kept
            kept = call(server.address, "Check", request, (("traceparent", traceparent(*sampled)),))
            assert receiver.spans() == []
            assert stop(server.process) == 0
        spans = receiver.spans()
    # A caller that keeps its trace is followed whatever the ratio; one that does not, too.
    assert [(s.trace_id, s.parent_span_id) for s in spans] == [sampled]
    assert spans[0].attributes["quanze.decision_id"] == kept.decision_id
    assert {quiet.decision_id, untraced.decision_id}.isdisjoint(
        {s.attributes.get("quanze.decision_id") for s in spans}
    )


def test_calls_are_answered_while_the_collector_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export attempts while calls go on
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens there
    with sidecar(tmp_path, "--workers", "2", "--set", f"tracing.endpoint={endpoint}") as server:
        expected = {True: 0, False: 0}
        answered = {True: 0, False: 0}

        def calls(count: int) -> None:
            for n in range(count):
                answer = call(server.address, "Check", check_message(ALLOWED if n % 2 else DENIED))
                expected[bool(n % 2)] += 1
                answered[answer.decision] += 1

        calls(10)
        problem = server.wait_event("tracing_export_problem", WAIT)
        calls(10)  # while the exporter retries
        assert answered == expected
        assert stop(server.process) == 0
    assert endpoint.removeprefix("http://") in problem["problem"]
    assert problem["consequence"] == "spans may be dropped; decision calls are not affected"
    assert problem["worker"] in (0, 1)  # logged on the SDK's thread, named by its worker
    server.reader.join(30)
    # The SDK's complaints are JSON log lines like every other.
    assert [e for e in server.events if e["event"] == "unparsed"] == []
