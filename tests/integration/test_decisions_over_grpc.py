"""client → gRPC → server → engine: the decision table, the contract's JSON, List vs Check."""

from __future__ import annotations

import json
import random

import grpc
import pytest
from google.protobuf import json_format

from quanze.client import Client, InvalidRequestError
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import DecisionCase, load_decision_table
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc
from tests.generated import generated_request
from tests.support import ANSWER_KEYS, CONTRACT_EXAMPLE

_CASES = load_decision_table(load_bundle().root)


@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
def test_decision_case_over_grpc(case: DecisionCase, client: Client) -> None:
    answer = client.check(case.request).to_dict()
    assert case.mismatches(answer) == []
    assert answer["decision_id"]
    assert answer["policy_revision"]


def test_contract_example_json_is_the_proto_json_mapping(address: str) -> None:
    request = json_format.Parse(CONTRACT_EXAMPLE, pb.CheckRequest())
    with grpc.insecure_channel(address) as channel:
        response = pb_grpc.DecisionServiceStub(channel).Check(request, timeout=5)
    answer = json.loads(
        json_format.MessageToJson(
            response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
    )
    assert set(answer) == ANSWER_KEYS
    assert answer["decision"] is True
    assert answer["reasons"][0]["article"] == "十七"
    assert set(answer["reasons"][0]) == {"code", "article", "item", "message_zh", "message_en"}
    assert set(answer["accountable"][0]) == {"subject_id", "capacity", "responsibility", "article"}


def test_camel_case_json_names_are_not_the_contract() -> None:
    descriptor = pb.CheckResponse.DESCRIPTOR
    assert {f.json_name for f in descriptor.fields} == ANSWER_KEYS


def test_list_agrees_with_check_for_every_action_over_grpc(client: Client) -> None:
    actions = sorted(load_bundle().actions)
    rng = random.Random(99)
    for _ in range(6):
        request = generated_request(rng, actions, with_action=False)
        listed = client.allowed_actions(request["subject"], request["resource"], request["context"])
        assert [d.action for d in listed] == actions
        for entry in listed:
            single = client.check({**request, "action": {"name": entry.action}})
            assert (entry.answer.decision, entry.answer.reasons, entry.answer.escalate_to) == (
                single.decision,
                single.reasons,
                single.escalate_to,
            ), entry.action


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["subject"].pop("id"), "subject.id"),
        (lambda r: r["action"].update(name="case.unknown"), "action.name"),
        (lambda r: r["resource"].pop("type"), "resource.type"),
        (
            lambda r: r["subject"]["properties"].update(senior_stage="yes"),
            "subject.properties.senior_stage",
        ),
    ],
)
def test_invalid_request_names_the_field(client: Client, mutate: object, field: str) -> None:
    request = json.loads(CONTRACT_EXAMPLE)
    mutate(request)  # type: ignore[operator]
    with pytest.raises(InvalidRequestError) as caught:
        client.check(request)
    assert caught.value.field == field


def test_batch_answers_in_order_with_per_item_error(client: Client) -> None:
    example = json.loads(CONTRACT_EXAMPLE)
    defaults = {k: example[k] for k in ("subject", "resource", "context")}
    items = [
        {"action": {"name": a}}
        for a in ("case.interrogate_suspect", "case.unknown", "case.summon_suspect")
    ]
    results = client.check_batch(items, defaults=defaults)
    assert [r.answer.decision for r in results] == [True, False, False]
    assert results[1].error is not None
    assert results[1].error.field == "evaluations[1].action.name"
    assert results[0].error is None
    assert results[2].error is None
    short = client.check_batch(items, defaults=defaults, semantic="deny_on_first_deny")
    assert len(short) == 2
