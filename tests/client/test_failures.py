"""Failures: an absent sidecar, deadlines, every status, and the fail-closed deny.

A stub sidecar (conftest) fails on demand, so each failure is tested on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from quanze.client import (
    SIDECAR_UNAVAILABLE,
    Action,
    Answer,
    AsyncClient,
    CheckRequest,
    Client,
    DeadlineExceededError,
    InvalidRequestError,
    QuanzeClientError,
    Resource,
    SidecarError,
    Subject,
    UnavailableError,
)

Behaving = Callable[[str], CheckRequest]


def assert_sidecar_unavailable(answer: Answer) -> None:
    assert answer.allowed is False
    assert answer.decision is False
    assert answer.decision_id == ""
    assert answer.policy_revision == ""
    assert len(answer.reasons) == 1
    reason = answer.reasons[0]
    assert reason.code == SIDECAR_UNAVAILABLE == "sidecar_unavailable"
    assert (reason.article, reason.item) == ("", 0)
    assert reason.message_zh == "授权服务不可用，按拒绝处理"  # noqa: RUF001
    assert reason.message_en == (
        "The authorization sidecar could not be reached, so the request is denied"
    )


def assert_deadline_near(error: QuanzeClientError, timeout: float) -> None:
    # The stub answers with the seconds its deadline had left; the wire rounds them up a little.
    remaining = float(str(error).rsplit(": ", 1)[1])
    assert timeout - 0.25 < remaining <= timeout + 0.05


def assert_no_grpc_error(error: BaseException) -> None:
    assert isinstance(error, QuanzeClientError)
    assert not isinstance(error, grpc.RpcError)


# ---------------------------------------------------------------------- nothing listens


@pytest.fixture(params=["tcp", "unix"])
def nowhere(request: pytest.FixtureRequest, refused_address: str, tmp_path: Path) -> str:
    """An address where no sidecar listens: a closed TCP port, a missing Unix socket."""
    return refused_address if request.param == "tcp" else f"unix:{tmp_path / 'absent.sock'}"


def test_unreachable_sidecar_raises_unavailable(nowhere: str, guided: CheckRequest) -> None:
    with Client(nowhere) as client, pytest.raises(UnavailableError) as raised:
        client.check(guided)

    assert raised.value.code == "UNAVAILABLE"
    assert nowhere in str(raised.value)
    assert_no_grpc_error(raised.value)


def test_check_or_deny_denies_when_nothing_listens(
    nowhere: str, guided: CheckRequest, caplog: pytest.LogCaptureFixture
) -> None:
    with Client(nowhere) as client, caplog.at_level(logging.WARNING, "quanze.client"):
        answer = client.check_or_deny(guided)

    assert_sidecar_unavailable(answer)
    assert not answer
    assert "UNAVAILABLE" in caplog.text  # the outage is logged, not silently swallowed


async def test_async_check_or_deny_denies_when_nothing_listens(
    nowhere: str, guided: CheckRequest
) -> None:
    async with AsyncClient(nowhere) as client:
        assert_sidecar_unavailable(await client.check_or_deny(guided))
        with pytest.raises(UnavailableError):
            await client.check(guided)


@pytest.mark.parametrize("method", ["check_batch", "allowed_actions"])
def test_every_method_raises_client_errors_only(
    nowhere: str, guided: CheckRequest, method: str
) -> None:
    with Client(nowhere) as client:
        calls: dict[str, Callable[[], object]] = {
            "check_batch": lambda: client.check_batch([guided]),
            "allowed_actions": lambda: client.allowed_actions(guided.subject, guided.resource),
        }
        with pytest.raises(UnavailableError) as raised:
            calls[method]()

    assert_no_grpc_error(raised.value)


# ---------------------------------------------------------------------- deadlines


def test_default_deadline_applies_to_every_call(stub_sidecar: str, behaving: Behaving) -> None:
    # The stub reports the time left before the deadline it received.
    with Client(stub_sidecar, timeout=0.75) as client:
        calls: list[Callable[[], object]] = [
            lambda: client.check(behaving("report")),
            lambda: client.check_batch([behaving("report")]),
            lambda: client.allowed_actions(Subject("a"), Resource("case")),
        ]
        for call in calls:
            with pytest.raises(SidecarError) as raised:
                call()
            assert_deadline_near(raised.value, 0.75)
            assert raised.value.code == "FAILED_PRECONDITION"


def test_per_call_timeout_overrides_the_default(stub_sidecar: str, behaving: Behaving) -> None:
    with Client(stub_sidecar, timeout=0.2) as client, pytest.raises(SidecarError) as raised:
        client.check(behaving("report"), timeout=5.0)

    assert_deadline_near(raised.value, 5.0)


def test_a_stalled_sidecar_raises_deadline_exceeded(stub_sidecar: str, behaving: Behaving) -> None:
    started = time.monotonic()
    with Client(stub_sidecar, timeout=0.15) as client, pytest.raises(DeadlineExceededError) as e:
        client.check(behaving("stall"))

    assert time.monotonic() - started < 2.0
    assert e.value.code == "DEADLINE_EXCEEDED"
    assert_no_grpc_error(e.value)


def test_check_or_deny_denies_on_deadline(stub_sidecar: str, behaving: Behaving) -> None:
    with Client(stub_sidecar, timeout=30.0) as client:
        assert_sidecar_unavailable(client.check_or_deny(behaving("stall"), timeout=0.15))


async def test_async_deadline(stub_sidecar: str, behaving: Behaving) -> None:
    async with AsyncClient(stub_sidecar, timeout=0.15) as client:
        with pytest.raises(DeadlineExceededError):
            await client.check(behaving("stall"))
        assert_sidecar_unavailable(await client.check_or_deny(behaving("stall")))
        with pytest.raises(SidecarError) as raised:
            await client.check(behaving("report"), timeout=2.0)

    assert_deadline_near(raised.value, 2.0)


# ---------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("behaviour", "error", "code"),
    [
        ("not-loaded", UnavailableError, "UNAVAILABLE"),
        ("internal", SidecarError, "INTERNAL"),
        ("exhausted", SidecarError, "RESOURCE_EXHAUSTED"),
    ],
)
def test_statuses_map_to_client_errors_and_check_or_deny_denies(
    stub_sidecar: str,
    behaving: Behaving,
    behaviour: str,
    error: type[QuanzeClientError],
    code: str,
) -> None:
    with Client(stub_sidecar) as client:
        with pytest.raises(error) as raised:
            client.check(behaving(behaviour))
        assert_sidecar_unavailable(client.check_or_deny(behaving(behaviour)))

    assert raised.value.code == code
    assert_no_grpc_error(raised.value)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_invalid_argument_is_raised_not_denied(
    stub_sidecar: str, behaving: Behaving, asynchronous: bool
) -> None:
    async def check_or_deny() -> Answer:
        if asynchronous:
            async with AsyncClient(stub_sidecar) as client:
                return await client.check_or_deny(behaving("invalid"))
        with Client(stub_sidecar) as client:
            return client.check_or_deny(behaving("invalid"))

    with pytest.raises(InvalidRequestError) as raised:
        await check_or_deny()

    assert raised.value.field == "subject.properties.role"
    assert raised.value.message == "'judge' is not one of 'clerk', 'procurator'"
    assert_no_grpc_error(raised.value)


# ---------------------------------------------------------------------- caller mistakes


def test_bad_arguments_fail_before_any_call(guided: CheckRequest) -> None:
    with pytest.raises(ValueError, match="positive"):
        Client("127.0.0.1:1", timeout=0)
    with pytest.raises(ValueError, match="target"):
        Client("")
    with Client("127.0.0.1:1") as client, pytest.raises(ValueError, match="positive"):
        client.check(guided, timeout=-1)


def test_malformed_dicts_are_rejected_locally_naming_the_field(refused_address: str) -> None:
    # Nothing listens: these never leave the process.
    good = CheckRequest(
        Subject("a"), Action("case.interrogate_suspect"), Resource("case")
    ).to_dict()
    with Client(refused_address) as client:
        with pytest.raises(InvalidRequestError) as typo:
            client.check_or_deny({**good, "contxt": {}})
        with pytest.raises(InvalidRequestError) as missing:
            client.check({**good, "subject": {"type": "user"}})
        with pytest.raises(InvalidRequestError) as not_json:
            client.check({**good, "context": {"when": object()}})
        with pytest.raises(InvalidRequestError) as in_batch:
            client.check_batch([good, {"action": {"name": 7}}])

    assert typo.value.field == "contxt"
    assert missing.value.field == "subject.id"
    assert not_json.value.field == "context.when"
    assert in_batch.value.field == "evaluations[1].action.name"
