"""Overload: far more concurrent callers than `server.max_concurrent_calls`.

One worker that holds 4 calls at once gets 1,000 calls at a time, each with a 0.5 s deadline,
three times, with and without a decision log. Every answer is OK, RESOURCE_EXHAUSTED (shed at
once, naming the setting) or DEADLINE_EXCEEDED (or CANCELLED once the deadline has passed: the
server's timer fired first); every OK answer is the one `quanze check` gives; what the worker
cannot hold is shed rather than queued until its deadline passes (issue 11), so some calls are
shed; and with a log, the OK answers have their records.
"""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from quanze.server.decisions import Decider
from quanze.v1 import decision_service_pb2 as pb
from tests.integration.support import status
from tests.probe.report import Probe
from tests.probe.sidecars import (
    decision_ids,
    known_requests,
    pb_request,
    raw_stub,
    sidecar,
    verdict,
)

pytestmark = pytest.mark.probe

LIMIT = 4
CALLERS = 1000
ROUNDS = 3
CHANNELS = 8
# The Python client's usual deadline (docs/configuration.md, Overload).
DEADLINE_SECONDS = 0.5
ANSWERS = {"OK", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "CANCELLED_AT_DEADLINE"}


@pytest.mark.parametrize("logged", [True, False], ids=["with_decision_log", "without_log"])
def test_overload_sheds_and_every_answer_is_right(
    tmp_path: Path, probe: Probe, reference: Decider, logged: bool
) -> None:
    log_dir = tmp_path / "log"
    settings: dict[str, Any] = {"server": {"max_concurrent_calls": LIMIT}}
    if logged:
        settings["decision_log"] = {"directory": str(log_dir)}
    requests = known_requests(reference)
    messages = [(pb_request(r), r, expected) for r, expected in requests]
    statuses: collections.Counter[str] = collections.Counter()
    answered: dict[str, Any] = {}
    with sidecar(tmp_path, settings) as found:
        for _ in range(ROUNDS):
            for request, code, answer, details in asyncio.run(_burst(found.address, messages)):
                statuses[code] += 1
                _judge(probe, request, code, answer, details, answered)
        shed = status(found.address).calls_shed
    probe.fact("max_concurrent_calls", LIMIT)
    probe.fact("concurrent_callers", CALLERS)
    probe.fact("calls_shed_by_get_status", shed)
    if statuses["RESOURCE_EXHAUSTED"] == 0:
        probe.fail(
            "nothing_shed_under_overload",
            {"callers": CALLERS, "rounds": ROUNDS, "max_concurrent_calls": LIMIT},
            dict(statuses),
        )
    if statuses["OK"] == 0:
        probe.fail("nothing_answered_under_overload", {"callers": CALLERS}, dict(statuses))
    if logged:
        probe.records(answered, decision_ids(log_dir))
        extra = len(decision_ids(log_dir) - set(answered))
        probe.fact("records_of_calls_not_answered_ok", extra)
    probe.verdict()


def _judge(
    probe: Probe,
    request: dict[str, Any],
    code: str,
    answer: Any,
    details: str,
    answered: dict[str, Any],
) -> None:
    got = verdict(answer[0]) if answer is not None else None
    probe.answered(request, code, allowed=bool(got and got[0]))
    if code not in ANSWERS:
        probe.fail(f"overload_got_{code}", request, details)
    elif code == "RESOURCE_EXHAUSTED" and "server.max_concurrent_calls" not in details:
        probe.fail("shed_without_naming_the_setting", request, details)
    elif code == "OK":
        answered[answer[0].decision_id] = request
        if got != answer[1]:
            kind = "allow_not_expected" if got and got[0] else "answer_not_expected"
            probe.fail(kind, request, {"got": got, "expected": answer[1]})


async def _burst(
    address: str, messages: list[tuple[pb.CheckRequest, dict[str, Any], Any]]
) -> list[tuple[dict[str, Any], str, Any, str]]:
    """CALLERS concurrent Checks over CHANNELS connections: (request, status, answer, details)."""
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(CHANNELS)
    ]
    stubs = [raw_stub(channel, "Check") for channel in channels]

    async def one(n: int) -> tuple[dict[str, Any], str, Any, str]:
        message, request, expected = messages[n % len(messages)]
        started = time.monotonic()
        try:
            reply = await stubs[n % CHANNELS](message.SerializeToString(), timeout=DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
            if code == "CANCELLED" and time.monotonic() - started >= DEADLINE_SECONDS:
                # The server's own timer for the call's deadline fired first and reset the
                # stream: the deadline passed, told by the other side.
                code = "CANCELLED_AT_DEADLINE"
            took = round((time.monotonic() - started) * 1000)
            return request, code, None, f"after {took} ms: {exc.details() or ''}"
        return request, "OK", (reply, expected), ""

    try:
        return await asyncio.gather(*(one(n) for n in range(CALLERS)))
    finally:
        for channel in channels:
            await channel.close()
