"""The asyncio client against a real sidecar, over TCP and over a Unix socket."""

from __future__ import annotations

import asyncio

import pytest

from quanze.client import (
    Action,
    AsyncClient,
    CheckRequest,
    ClientClosedError,
    InvalidRequestError,
    PartialRequest,
    Resource,
    Subject,
)


async def test_check_allows_and_denies(
    sidecar: str, guided: CheckRequest, unguided: CheckRequest, clerk_record: CheckRequest
) -> None:
    async with AsyncClient(sidecar, timeout=5.0) as client:
        allowed = await client.check(guided)
        denied = await client.check(unguided.to_dict())
        clerk = await client.check(clerk_record)

    assert allowed.allowed
    assert [(r.code, r.article) for r in allowed.reasons] == [("assistant_duty", "十七")]
    assert not denied.allowed
    assert [r.code for r in denied.reasons] == ["assistant_requires_guidance"]
    assert clerk.allowed
    assert clerk.reasons[0].article == "十九"


async def test_concurrent_checks_share_one_channel(
    sidecar: str, guided: CheckRequest, unguided: CheckRequest
) -> None:
    async with AsyncClient(sidecar, timeout=5.0) as client:
        answers = await asyncio.gather(*(client.check(r) for r in [guided, unguided] * 5))

    assert [a.allowed for a in answers] == [True, False] * 5
    assert len({a.decision_id for a in answers}) == 10


async def test_check_batch_with_defaults_and_semantics(
    sidecar: str, assistant: Subject, case: Resource
) -> None:
    defaults = PartialRequest(subject=assistant, resource=case)
    items = [
        PartialRequest(
            action=Action("evidence.collect"), context={"supervising_procurator": "p-A1"}
        ),
        PartialRequest(action=Action("evidence.collect")),
        PartialRequest(action=Action("case.teleport_suspect")),
    ]

    async with AsyncClient(sidecar, timeout=5.0) as client:
        every = await client.check_batch(items, defaults=defaults)
        stopped = await client.check_batch(items, defaults=defaults, semantic="deny_on_first_deny")
        permitted = await client.check_batch(
            items, defaults=defaults, semantic="permit_on_first_permit"
        )

    assert [r.allowed for r in every] == [True, False, False]
    assert every[2].error is not None
    assert every[2].error.field == "evaluations[2].action.name"
    assert len(stopped) == 2
    assert len(permitted) == 1


async def test_allowed_actions_agree_with_check(
    sidecar: str, clerk: Subject, case: Resource
) -> None:
    context = {"supervising_procurator": "p-A1"}
    async with AsyncClient(sidecar, timeout=5.0) as client:
        decisions = await client.allowed_actions(clerk, case, context)
        single = await client.check(CheckRequest(clerk, Action("record.take"), case, context))

    assert len(decisions) == 121
    by_action = {d.action: d for d in decisions}
    assert by_action["record.take"].allowed == single.allowed is True
    assert by_action["record.take"].answer.reasons == single.reasons


async def test_invalid_request_names_the_field(sidecar: str, guided: CheckRequest) -> None:
    async with AsyncClient(sidecar, timeout=5.0) as client:
        with pytest.raises(InvalidRequestError) as missing_id:
            await client.check(CheckRequest(Subject(""), guided.action, guided.resource))
        with pytest.raises(InvalidRequestError) as unknown_action:
            await client.check_or_deny(
                CheckRequest(guided.subject, Action("case.teleport_suspect"), guided.resource)
            )

    assert missing_id.value.field == "subject.id"
    assert unknown_action.value.field == "action.name"


async def test_the_client_may_be_built_outside_the_loop_and_closed_twice(
    sidecar: str, guided: CheckRequest
) -> None:
    client = await asyncio.to_thread(AsyncClient, sidecar)  # no running loop in that thread

    assert (await client.check(guided)).allowed
    await client.close()
    await client.close()
    with pytest.raises(ClientClosedError):
        await client.check(guided)
