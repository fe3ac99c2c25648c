"""The blocking client against a real sidecar, over TCP and over a Unix socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from quanze.client import (
    Action,
    Answer,
    CheckRequest,
    Client,
    InvalidRequestError,
    PartialRequest,
    QuanzeClientError,
    Resource,
    Subject,
)
from quanze.server.policy.bundle import load_bundle


@pytest.fixture
def client(sidecar: str) -> Iterator[Client]:
    with Client(sidecar, timeout=5.0) as c:
        yield c


def codes(answer: Answer) -> list[str]:
    return [reason.code for reason in answer.reasons]


def test_guided_assistant_may_interrogate(client: Client, guided: CheckRequest) -> None:
    answer = client.check(guided)

    assert answer.allowed
    assert answer.decision is True
    assert [(r.code, r.article, r.item) for r in answer.reasons] == [("assistant_duty", "十七", 1)]
    assert all(r.message_zh and r.message_en for r in answer.reasons)
    assert [o.code for o in answer.obligations] == ["record_supervising_procurator"]
    assert [(a.subject_id, a.responsibility) for a in answer.accountable] == [
        ("asst-A1", "judicial")
    ]
    assert answer.decision_id
    assert answer.policy_revision
    assert answer.escalate_to == ""


def test_unguided_assistant_is_denied(client: Client, unguided: CheckRequest) -> None:
    answer = client.check(unguided)

    assert not answer.allowed
    assert not answer  # a deny reads as false even in a bare `if`
    assert codes(answer) == ["assistant_requires_guidance"]
    assert answer.reasons[0].article == "十七"


def test_clerk_under_guidance_may_take_the_record(
    client: Client, clerk_record: CheckRequest
) -> None:
    answer = client.check(clerk_record)

    assert answer.allowed
    assert [(r.code, r.article, r.item) for r in answer.reasons] == [("clerk_duty", "十九", 2)]


def test_a_contract_dict_is_accepted_and_answered_alike(
    client: Client, guided: CheckRequest
) -> None:
    from_object = client.check(guided)
    from_dict = client.check(guided.to_dict())

    assert from_dict.allowed
    assert from_dict.decision_id != from_object.decision_id
    assert _without_id(from_dict) == _without_id(from_object)


def test_each_decision_has_its_own_id(client: Client, guided: CheckRequest) -> None:
    ids = {client.check(guided).decision_id for _ in range(3)}
    assert len(ids) == 3


# ---------------------------------------------------------------------- invalid requests


def test_missing_subject_id_names_the_field(client: Client, guided: CheckRequest) -> None:
    request = CheckRequest(Subject(""), guided.action, guided.resource, guided.context)

    with pytest.raises(InvalidRequestError) as raised:
        client.check(request)

    assert raised.value.field == "subject.id"
    assert raised.value.message == "is required"
    assert raised.value.code == "INVALID_ARGUMENT"
    assert not isinstance(raised.value, grpc.RpcError)


def test_unknown_action_names_the_field(client: Client, guided: CheckRequest) -> None:
    request = CheckRequest(guided.subject, Action("case.interogate_suspect"), guided.resource)

    with pytest.raises(InvalidRequestError) as raised:
        client.check(request)

    assert raised.value.field == "action.name"
    assert "case.interrogate_suspect" in raised.value.message  # the server suggests the fix
    assert str(raised.value).startswith("action.name: unknown action")


def test_wrongly_typed_attribute_names_the_field(client: Client, guided: CheckRequest) -> None:
    subject = Subject("asst-A1", properties={"role": "procurator_assistant", "senior_stage": "no"})

    with pytest.raises(InvalidRequestError) as raised:
        client.check(CheckRequest(subject, guided.action, guided.resource))

    assert raised.value.field == "subject.properties.senior_stage"


def test_check_or_deny_still_raises_for_an_invalid_request(
    client: Client, guided: CheckRequest
) -> None:
    request = CheckRequest(guided.subject, Action("no.such_action"), guided.resource)

    with pytest.raises(InvalidRequestError):
        client.check_or_deny(request)


def test_check_or_deny_passes_the_sidecar_answer_through(
    client: Client, guided: CheckRequest, unguided: CheckRequest
) -> None:
    assert client.check_or_deny(guided).allowed
    denied = client.check_or_deny(unguided)
    assert codes(denied) == ["assistant_requires_guidance"]
    assert denied.decision_id  # the sidecar's answer, not the local fail-closed one


# ---------------------------------------------------------------------- batches


def test_batch_items_inherit_the_defaults(
    client: Client, assistant: Subject, clerk: Subject, case: Resource
) -> None:
    defaults = PartialRequest(
        subject=assistant, resource=case, context={"supervising_procurator": "p-A1"}
    )
    items: list[PartialRequest | dict[str, Any]] = [
        PartialRequest(action=Action("case.interrogate_suspect")),
        PartialRequest(action=Action("evidence.collect")),
        # Sets its own subject and keeps the default resource and context.
        PartialRequest(subject=clerk, action=Action("record.take")),
        # An assistant does not take the record (十九 is for clerks).
        {"action": {"name": "record.take"}},
    ]

    results = client.check_batch(items, defaults=defaults)

    assert [r.answer.allowed for r in results] == [True, True, True, False]
    assert [r.error for r in results] == [None] * 4
    assert results[0].answer.reasons[0].item == 1
    assert results[1].answer.reasons[0].item == 3
    assert results[2].answer.reasons[0].article == "十九"
    assert results[2].answer.accountable[0].subject_id == "clerk-A1"


def test_batch_matches_single_checks(
    client: Client, guided: CheckRequest, unguided: CheckRequest, clerk_record: CheckRequest
) -> None:
    requests = [guided, unguided, clerk_record]

    results = client.check_batch(requests)

    assert [_without_id(r.answer) for r in results] == [
        _without_id(client.check(request)) for request in requests
    ]


def test_deny_on_first_deny_stops_after_the_first_deny(
    client: Client, assistant: Subject, case: Resource
) -> None:
    defaults = PartialRequest(subject=assistant, resource=case)
    items = [
        PartialRequest(
            action=Action("case.interrogate_suspect"), context={"supervising_procurator": "p-A1"}
        ),
        PartialRequest(action=Action("case.interrogate_suspect")),  # no guidance: deny
        PartialRequest(
            action=Action("evidence.collect"), context={"supervising_procurator": "p-A1"}
        ),
    ]

    every = client.check_batch(items, defaults=defaults)
    stopped = client.check_batch(items, defaults=defaults, semantic="deny_on_first_deny")

    assert [r.allowed for r in every] == [True, False, True]
    assert [r.allowed for r in stopped] == [True, False]
    assert stopped[1].answer.reasons[0].code == "assistant_requires_guidance"


def test_permit_on_first_permit_stops_after_the_first_permit(
    client: Client, assistant: Subject, case: Resource
) -> None:
    defaults = PartialRequest(
        subject=assistant, resource=case, context={"supervising_procurator": "p-A1"}
    )
    items = [
        PartialRequest(action=Action("record.take")),  # a clerk's duty: deny
        PartialRequest(action=Action("evidence.collect")),  # 十七 item 3: allow
        PartialRequest(action=Action("case.interrogate_suspect")),
    ]

    results = client.check_batch(items, defaults=defaults, semantic="permit_on_first_permit")

    assert [r.allowed for r in results] == [False, True]


def test_an_invalid_item_gets_its_own_error(client: Client, guided: CheckRequest) -> None:
    items = [
        PartialRequest(action=Action("case.interrogate_suspect")),
        PartialRequest(action=Action("case.teleport_suspect")),
        PartialRequest(action=Action("evidence.collect")),
    ]
    defaults = PartialRequest(guided.subject, None, guided.resource, guided.context)

    results = client.check_batch(items, defaults=defaults)

    assert len(results) == 3
    assert results[0].allowed
    assert results[2].allowed
    error = results[1].error
    assert error is not None
    assert error.field == "evaluations[1].action.name"
    assert "unknown action" in error.message
    assert not results[1].allowed
    assert not results[1].answer.allowed


def test_a_batch_without_items_answers_the_defaults(client: Client, guided: CheckRequest) -> None:
    results = client.check_batch([], defaults=guided)

    assert len(results) == 1
    assert results[0].allowed


def test_an_unknown_semantic_is_an_invalid_request(client: Client, guided: CheckRequest) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        client.check_batch([guided], semantic="all_at_once")  # type: ignore[arg-type]

    assert raised.value.field == "options.evaluations_semantic"


# ---------------------------------------------------------------------- allowed actions


def test_allowed_actions_lists_the_whole_catalog(
    client: Client, assistant: Subject, case: Resource
) -> None:
    decisions = client.allowed_actions(assistant, case, {"supervising_procurator": "p-A1"})

    catalog = load_bundle().actions
    assert len(decisions) == len(catalog) == 121
    assert [d.action for d in decisions] == list(catalog)
    allowed = {d.action for d in decisions if d.allowed}
    assert {"case.interrogate_suspect", "evidence.collect"} <= allowed
    assert "record.take" not in allowed
    assert all(d.answer.reasons for d in decisions)


@pytest.mark.parametrize("context", [{"supervising_procurator": "p-A1"}, {}])
def test_allowed_actions_agree_with_check(
    client: Client, assistant: Subject, case: Resource, context: dict[str, str]
) -> None:
    sample = [
        "case.interrogate_suspect",
        "evidence.collect",
        "task.assigned",
        "record.take",
        "case.assign",
        "court.debate",
    ]

    decisions = {d.action: d.answer for d in client.allowed_actions(assistant, case, context)}

    for action in sample:
        single = client.check(CheckRequest(assistant, Action(action), case, context))
        assert _without_id(decisions[action]) == _without_id(single), action


def test_allowed_actions_accepts_contract_dicts(
    client: Client, clerk: Subject, case: Resource
) -> None:
    decisions = client.allowed_actions(
        clerk.to_dict(), case.to_dict(), {"supervising_procurator": "p-A1"}
    )

    allowed = {d.action for d in decisions if d.allowed}
    assert "record.take" in allowed
    assert "case.interrogate_suspect" not in allowed


def test_allowed_actions_without_subject_id_names_the_field(client: Client) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        client.allowed_actions(Subject(""), Resource("case"))

    assert raised.value.field == "subject.id"


# ---------------------------------------------------------------------- lifecycle


def test_a_closed_client_refuses_calls(sidecar: str, guided: CheckRequest) -> None:
    client = Client(sidecar)
    client.close()
    client.close()  # idempotent

    with pytest.raises(QuanzeClientError) as raised:
        client.check(guided)
    with pytest.raises(QuanzeClientError):
        client.check_or_deny(guided)  # a caller bug, not an outage

    assert raised.value.code == "CANCELLED"


def _without_id(answer: Answer) -> dict[str, object]:
    data = answer.to_dict()
    del data["decision_id"]
    return data
