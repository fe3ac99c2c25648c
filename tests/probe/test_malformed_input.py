"""Malformed input over gRPC: random bytes, random protobuf, truncated and bit-flipped messages,
wrong wire and JSON types, over-deep nesting, NaN and infinities, huge strings and arrays,
unknown actions and roles, misspelt attributes, bad UTF-8, missing fields.

What is invalid is decided without the sidecar's code (protobuf's parser and the reference
`jsonschema`, `tests.probe.inputs`). An invalid request gets INVALID_ARGUMENT or
RESOURCE_EXHAUSTED, or is denied; never an allow, never UNKNOWN or INTERNAL. A payload that
turns out valid (a message cut at a field boundary, an unknown field) must be answered as
`quanze check` answers it. Afterwards the sidecar still answers correctly, and every answer it
gave has its decision record.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import grpc
import pytest

from quanze.server.decisions import Decider
from quanze.server.errors import InvalidRequestError
from tests.integration.load import Sidecar
from tests.probe.inputs import bytes_problem
from tests.probe.report import Probe
from tests.probe.sidecars import (
    call,
    decision_ids,
    raw_stub,
    reference_verdict,
    verdict,
)
from tests.probe.wire import EXAMPLE, MAX_REQUEST_BYTES, Payload, check_bytes, every_payload

pytestmark = pytest.mark.probe

SEED = 20261206
REFUSALS = {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}


def test_malformed_input_is_refused_or_denied_never_allowed(
    logged_sidecar: tuple[Sidecar, Path], probe: Probe, reference: Decider
) -> None:
    found, log_dir = logged_sidecar
    answered: dict[str, Any] = {}
    families: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    payloads = every_payload(SEED)
    probe.fact("seed", SEED)
    with grpc.insecure_channel(
        found.address, options=[("grpc.max_send_message_length", 8 * MAX_REQUEST_BYTES)]
    ) as channel:
        stubs = {m: raw_stub(channel, m) for m in ("Check", "CheckBatch", "ListAllowedActions")}
        for payload in payloads:
            status, answer, details = call(stubs[payload.method], payload.data)
            families[payload.family][status] += 1
            expected = _expected(payload, reference)
            _judge(probe, payload, expected, status, answer, details, answered)
        # Still up, and still right: the contract's example is allowed.
        status, answer, details = call(stubs["Check"], check_bytes(EXAMPLE))
        if status != "OK" or not answer.decision:
            probe.fail("sidecar_broken_afterwards", EXAMPLE, {"status": status, "details": details})
    probe.fact("payloads_by_family", {f: dict(c) for f, c in sorted(families.items())})
    probe.records(answered, decision_ids(log_dir))
    probe.verdict()


def _expected(payload: Payload, reference: Decider) -> Any:
    """None when the payload is invalid; else what `quanze check` answers to it."""
    if len(payload.data) > MAX_REQUEST_BYTES or payload.method == "CheckBatch":
        return None  # refused by its size; every batch here is malformed somewhere
    request, problem = bytes_problem(payload.method, payload.data)
    if problem:
        return None
    try:
        if payload.method == "Check":
            return reference_verdict(reference.check(request))
        return [(a, reference_verdict(answer)) for a, answer in reference.allowed_actions(request)]
    except InvalidRequestError:
        return None  # valid by the schema, refused in-process: the sidecar may refuse it too


def _judge(
    probe: Probe,
    payload: Payload,
    expected: Any,
    status: str,
    answer: Any,
    details: str,
    answered: dict[str, Any],
) -> None:
    allowed, ids, summary = _read(payload.method, answer)
    probe.answered(payload.shown, status, allowed=allowed, invalid=expected is None)
    shown = {"payload": payload.name, "status": status, "details": details[:300]} | summary
    if status == "OK":
        for decision_id in ids:
            answered[decision_id] = payload.shown
    if expected is None:
        if status not in REFUSALS | {"OK"}:
            probe.fail(f"{payload.family}_got_{status}", payload.shown, shown)
        elif status == "OK" and allowed:
            probe.fail(f"{payload.family}_{payload.method}_allowed", payload.shown, shown)
        return
    if status != "OK":
        probe.fail(f"valid_payload_got_{status}", payload.shown, shown)
        return
    got = verdict(answer) if payload.method == "Check" else summary["verdicts"]
    if got != expected:
        probe.fail("differs_from_quanze_check", payload.shown, shown | {"check": expected})


def _read(method: str, answer: Any) -> tuple[bool, list[str], dict[str, Any]]:
    """(anything allowed, decision ids to find in the log, a summary for the report)."""
    if answer is None:
        return False, [], {}
    if method == "Check":
        return answer.decision, [answer.decision_id], {"verdict": verdict(answer)}
    if method == "CheckBatch":
        items = [item.answer for item in answer.evaluations]
        return (
            any(a.decision for a in items),
            [a.decision_id for a in items],
            {"items": [verdict(a) for a in items]},
        )
    verdicts = [(a.action, verdict(a.answer)) for a in answer.actions]
    call_ids = sorted({a.answer.decision_id.split("#")[0] for a in answer.actions})
    return any(a.answer.decision for a in answer.actions), call_ids, {"verdicts": verdicts}
