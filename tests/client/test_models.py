"""Requests and answers as contract JSON, without a sidecar."""

from __future__ import annotations

import json
from typing import Any

import pytest

from quanze.client import (
    Accountable,
    Action,
    ActionDecision,
    Answer,
    BatchItem,
    CheckRequest,
    InvalidRequestError,
    ItemError,
    Obligation,
    PartialRequest,
    Reason,
    Resource,
    Subject,
    deny_answer,
    sidecar_unavailable,
)
from quanze.client.errors import error_for_status
from tests.support import CONTRACT_EXAMPLE

# The request of contract.md, verbatim.
CONTRACT_REQUEST: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)

CONTRACT_ANSWER: dict[str, Any] = {
    "decision_id": "0f8e",
    "decision": False,
    "reasons": [
        {
            "code": "assistant_requires_guidance",
            "article": "十七",
            "item": 0,
            "message_zh": "检察官助理须在承办检察官的指导下讯问犯罪嫌疑人",
            "message_en": "An assistant may interrogate a suspect only under guidance",
        }
    ],
    "obligations": [
        {
            "code": "record_supervising_procurator",
            "article": "十七",
            "item": 0,
            "message_zh": "记录指导本次行为的承办检察官",
            "message_en": "Record the handling procurator who guided this act",
        }
    ],
    "escalate_to": "",
    "accountable": [
        {
            "subject_id": "asst-A1",
            "capacity": "procurator_assistant",
            "responsibility": "judicial",
            "article": "三十一",
        }
    ],
    "policy_revision": "3c1d",
}


def test_the_contract_request_round_trips_exactly() -> None:
    request = CheckRequest.from_dict(CONTRACT_REQUEST)

    assert request.subject == Subject("asst-A1", "user", CONTRACT_REQUEST["subject"]["properties"])
    assert request.action == Action("case.interrogate_suspect")
    assert request.resource.id == "C-1001"
    assert request.context == {"supervising_procurator": "p-A1"}
    assert request.to_dict() == CONTRACT_REQUEST
    assert CheckRequest.from_dict(request.to_dict()) == request
    json.dumps(request.to_dict())  # plain JSON, nothing exotic


def test_parts_round_trip_and_defaults_are_the_contracts() -> None:
    subject = Subject("p-A1")
    assert subject.to_dict() == {"type": "user", "id": "p-A1"}
    assert Subject.from_dict({"id": "p-A1"}) == subject
    resource = Resource("case")
    assert resource.to_dict() == {"type": "case"}
    assert Resource.from_dict(resource.to_dict()) == resource
    action = Action("record.take", {"copies": 2})
    assert Action.from_dict(action.to_dict()) == action
    request = CheckRequest(subject, action, resource)
    assert request.to_dict() == {
        "subject": {"type": "user", "id": "p-A1"},
        "action": {"name": "record.take", "properties": {"copies": 2}},
        "resource": {"type": "case"},
    }
    assert CheckRequest.from_dict(request.to_dict()) == request


def test_partial_requests_keep_only_the_parts_that_are_set() -> None:
    partial = PartialRequest(action=Action("record.take"), context={})

    assert partial.to_dict() == {"action": {"name": "record.take"}, "context": {}}
    assert PartialRequest.from_dict(partial.to_dict()) == partial
    assert PartialRequest.from_dict({}) == PartialRequest()


def test_to_dict_copies_so_callers_cannot_alias_the_request() -> None:
    roles = ["clerk"]
    subject = Subject("clerk-A1", properties={"roles": roles, "scope": ("a", "b")})

    data = subject.to_dict()
    data["properties"]["roles"].append("procurator")

    assert roles == ["clerk"]
    assert data["properties"]["scope"] == ["a", "b"]  # tuples become JSON arrays


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**CONTRACT_REQUEST, "contxt": {}}, "contxt", "is not a known field"),
        ({**CONTRACT_REQUEST, "subject": {"type": "user"}}, "subject.id", "is required"),
        ({**CONTRACT_REQUEST, "subject": {"id": 7}}, "subject.id", "must be a string"),
        ({**CONTRACT_REQUEST, "action": {"nmae": "x"}}, "action.nmae", "is not a known field"),
        ({**CONTRACT_REQUEST, "action": None}, "action", "is required"),
        ({**CONTRACT_REQUEST, "resource": "C-1001"}, "resource", "must be a JSON object"),
        ({**CONTRACT_REQUEST, "context": []}, "context", "must be a JSON object"),
        ({**CONTRACT_REQUEST, "context": {"at": float("nan")}}, "context.at", "finite"),
        ({**CONTRACT_REQUEST, "context": {"ids": [1, {2}]}}, "context.ids[1]", "a set"),
        ({**CONTRACT_REQUEST, "context": {"n": 2**60}}, "context.n", "too large"),
    ],
)
def test_from_dict_names_the_offending_field(data: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        CheckRequest.from_dict(data)

    assert raised.value.field == field
    assert message in raised.value.message
    assert raised.value.code == "INVALID_ARGUMENT"


def test_answer_round_trips_the_contract_answer() -> None:
    answer = Answer.from_dict(CONTRACT_ANSWER)

    assert answer.reasons == (
        Reason("assistant_requires_guidance", "十七", 0, *_messages(CONTRACT_ANSWER["reasons"][0])),
    )
    assert answer.obligations[0] == Obligation(
        "record_supervising_procurator", "十七", 0, *_messages(CONTRACT_ANSWER["obligations"][0])
    )
    assert answer.accountable == (
        Accountable("asst-A1", "procurator_assistant", "judicial", "三十一"),
    )
    assert answer.to_dict() == CONTRACT_ANSWER
    assert Answer.from_dict(answer.to_dict()) == answer


def test_a_reason_is_not_an_obligation() -> None:
    reason: object = Reason("c", "十七", 0, "zh", "en")
    assert reason != Obligation("c", "十七", 0, "zh", "en")


@pytest.mark.parametrize("decision", [False, None, 1, "true", "yes"])
def test_anything_but_true_reads_as_deny(decision: Any) -> None:
    answer = Answer("id", decision, ())

    assert answer.allowed is False
    assert not answer
    assert answer.to_dict()["decision"] is False
    assert Answer.from_dict({**CONTRACT_ANSWER, "decision": decision}).allowed is False


def test_only_true_allows() -> None:
    answer = Answer.from_dict({**CONTRACT_ANSWER, "decision": True})

    assert answer.allowed is True
    assert answer


def test_proto_json_with_defaults_left_out_reads_as_deny() -> None:
    # A generic gRPC tool prints proto3 JSON, which omits false, "" and empty lists.
    answer = Answer.from_dict({"decision_id": "x", "reasons": [{"code": "c", "article": "十七"}]})

    assert not answer.allowed
    assert answer.reasons[0].item == 0
    assert answer.obligations == ()


def test_batch_item_and_action_decision_read_as_deny_unless_allowed() -> None:
    allow = Answer.from_dict({**CONTRACT_ANSWER, "decision": True})

    assert BatchItem(allow).allowed
    assert not BatchItem(allow, ItemError("evaluations[0].action.name", "unknown")).allowed
    assert BatchItem(allow, ItemError("f", "m")).to_dict()["error"] == {
        "field": "f",
        "message": "m",
    }
    assert "error" not in BatchItem(allow).to_dict()
    assert ActionDecision("record.take", allow).allowed
    assert ActionDecision("record.take", allow).to_dict()["action"] == "record.take"


def test_deny_answer_and_the_fail_closed_deny() -> None:
    answer = deny_answer("maintenance", "维护中", "Under maintenance")

    assert not answer.allowed
    assert answer.to_dict() == {
        "decision_id": "",
        "decision": False,
        "reasons": [
            {
                "code": "maintenance",
                "article": "",
                "item": 0,
                "message_zh": "维护中",
                "message_en": "Under maintenance",
            }
        ],
        "obligations": [],
        "escalate_to": "",
        "accountable": [],
        "policy_revision": "",
    }
    assert sidecar_unavailable().reasons[0].code == "sidecar_unavailable"


@pytest.mark.parametrize(
    ("details", "field", "message"),
    [
        ("subject.id: is required", "subject.id", "is required"),
        (
            "evaluations[1].action.name: unknown action 'x'; did you mean 'y'?",
            "evaluations[1].action.name",
            "unknown action 'x'; did you mean 'y'?",
        ),
        (
            "the request does not match the input schema",
            "",
            "the request does not match the input schema",
        ),
    ],
)
def test_invalid_argument_details_are_split_into_field_and_message(
    details: str, field: str, message: str
) -> None:
    error = error_for_status("INVALID_ARGUMENT", details, "127.0.0.1:1")

    assert isinstance(error, InvalidRequestError)
    assert (error.field, error.message) == (field, message)
    assert str(error) == details


def _messages(entry: dict[str, Any]) -> tuple[str, str]:
    return entry["message_zh"], entry["message_en"]
