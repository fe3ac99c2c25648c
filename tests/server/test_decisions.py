"""The decision service fails closed on every error path and shapes answers to the contract."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from typing import Any

import pytest

from quanze.server.decisions import Decider
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.errors import EvaluationError, InvalidRequestError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.policy.testing import DecisionCase
from tests.support import ScriptedEngine

ALLOW = {
    "decision": True,
    "reasons": [
        {"code": "clerk_duty", "article": "十九", "item": 2, "message_zh": "z", "message_en": "e"}
    ],
    "obligations": [],
    "escalate_to": "",
    "accountable": [],
}


def valid_request(decision_cases: list[DecisionCase]) -> dict[str, Any]:
    return copy.deepcopy(decision_cases[0].request)


def broken(**changes: Any) -> dict[str, Any]:
    return {**ALLOW, **changes}


@pytest.mark.parametrize(
    "result",
    [
        EvaluationError("engine exploded"),
        None,
        "<undefined>",
        [],
        {"reasons": ALLOW["reasons"]},
        broken(decision="true"),
        broken(decision=1),
        broken(reasons=[]),
        broken(reasons=[{"code": "x"}]),
        # What regorus's RVM gives for a comprehension whose term is undefined for an element.
        broken(reasons=["<undefined>"]),
        broken(obligations=["<undefined>"]),
        broken(reasons=[*ALLOW["reasons"], "<undefined>"]),
        broken(reasons=[{**ALLOW["reasons"][0], "item": True}]),
        broken(obligations=None),
        broken(accountable=[{"subject_id": 1}]),
        broken(escalate_to="deputy"),
    ],
    ids=lambda r: repr(r)[:60],
)
def test_malformed_or_failed_evaluation_denies_with_evaluation_error(
    result: Any, bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    answer = Decider(bundle, ScriptedEngine(result)).check(valid_request(decision_cases))
    assert answer["decision"] is False
    assert [r["code"] for r in answer["reasons"]] == ["evaluation_error"]
    assert answer["obligations"] == []
    assert answer["accountable"] == []
    assert answer["policy_revision"] == bundle.revision


def test_well_formed_allow_passes_through(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    answer = Decider(bundle, ScriptedEngine(ALLOW)).check(valid_request(decision_cases))
    assert answer["decision"] is True
    assert answer["reasons"] == ALLOW["reasons"]
    assert len(answer["decision_id"]) == 36


class SlowedEngine:
    """The real engine, made slow by evaluating each request again until it has used `cpu_s`."""

    def __init__(self, bundle: PolicyBundle, cpu_s: float) -> None:
        self.inner = RegorusEngine(bundle)
        self.cpu_s = cpu_s

    def decide(self, request: Mapping[str, Any]) -> Any:
        return self._slowly(self.inner.decide, request)

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        return self._slowly(self.inner.decide_all, request)

    def _slowly(self, evaluate: Any, request: Mapping[str, Any]) -> Any:
        until = time.thread_time() + self.cpu_s
        result = evaluate(request)
        while time.thread_time() < until:
            result = evaluate(request)
        return result


class WaitingEngine(ScriptedEngine):
    """Answers after `seconds` of waiting (for the CPU, the GIL, a compile...), using no CPU."""

    def __init__(self, result: Any, seconds: float) -> None:
        super().__init__(result)
        self.seconds = seconds

    def decide(self, request: Mapping[str, Any]) -> Any:
        time.sleep(self.seconds)
        return super().decide(request)


def test_an_evaluation_over_its_cpu_budget_is_discarded_as_deny(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    request = valid_request(decision_cases)
    assert Decider(bundle, RegorusEngine(bundle)).check(request)["decision"] is True
    answer = Decider(bundle, SlowedEngine(bundle, 0.1), timeout_ms=20).check(request)
    assert answer["decision"] is False
    assert [r["code"] for r in answer["reasons"]] == ["evaluation_error"]


def test_waiting_for_the_cpu_does_not_count_against_the_budget(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    # 0.3 s of wall-clock time against a 20 ms budget: only CPU time counts.
    engine = WaitingEngine(ALLOW, 0.3)
    answer = Decider(bundle, engine, timeout_ms=20).check(valid_request(decision_cases))
    assert answer["decision"] is True
    assert answer["reasons"] == ALLOW["reasons"]


def test_an_evaluation_past_the_wall_clock_ceiling_is_discarded_as_deny(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    engine = WaitingEngine(ALLOW, 0.3)
    decider = Decider(bundle, engine, timeout_ms=20, list_timeout_ms=20, wall_timeout_ms=100)
    answer = decider.check(valid_request(decision_cases))
    assert [r["code"] for r in answer["reasons"]] == ["evaluation_error"]


def test_list_has_its_own_cpu_budget(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    request = batch_defaults(decision_cases)
    engine = SlowedEngine(bundle, 0.08)
    # Over a Check's budget, within the List's: answered.
    listed = Decider(bundle, engine, timeout_ms=20, list_timeout_ms=2000).allowed_actions(request)
    assert {a["reasons"][0]["code"] for _, a in listed} != {"evaluation_error"}
    assert any(a["decision"] for _, a in listed)
    # Over the List's own budget: every action is a deny.
    listed = Decider(bundle, engine, timeout_ms=2000, list_timeout_ms=20).allowed_actions(request)
    assert {(a["decision"], a["reasons"][0]["code"]) for _, a in listed} == {
        (False, "evaluation_error")
    }


def test_decision_ids_are_unique(bundle: PolicyBundle, decision_cases: list[DecisionCase]) -> None:
    decider = Decider(bundle, RegorusEngine(bundle))
    ids = {decider.check(valid_request(decision_cases))["decision_id"] for _ in range(200)}
    assert len(ids) == 200


def test_invalid_request_raises_before_evaluation(bundle: PolicyBundle) -> None:
    engine = ScriptedEngine(ALLOW)
    with pytest.raises(InvalidRequestError) as caught:
        Decider(bundle, engine).check({"subject": {"id": "x"}, "resource": {"type": "case"}})
    assert caught.value.field == "action"


@pytest.mark.parametrize(
    ("value", "shown"), [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")]
)
def test_non_finite_number_is_an_invalid_request_naming_the_field(
    bundle: PolicyBundle, decision_cases: list[DecisionCase], value: float, shown: str
) -> None:
    # JSON has no NaN: were it passed on, the engine would fail (evaluation_error), not name it.
    request = valid_request(decision_cases)
    request["context"]["extensions"] = {"marks": [0, {"score": value}]}
    decider = Decider(bundle, RegorusEngine(bundle))
    listing = {k: v for k, v in request.items() if k != "action"}
    for ask, asked in ((decider.check, request), (decider.list_actions, listing)):
        with pytest.raises(InvalidRequestError) as caught:
            ask(asked)
        assert caught.value.field == "context.extensions.marks.1.score"
        assert caught.value.message == f"{shown} is not a JSON number; send a finite number"


# ------------------------------------------------------------------ batches


@pytest.fixture
def decider(bundle: PolicyBundle) -> Decider:
    return Decider(bundle, RegorusEngine(bundle), max_batch_items=5)


def batch_defaults(decision_cases: list[DecisionCase]) -> dict[str, Any]:
    by_name = {c.name: c for c in decision_cases}
    request = by_name["clerk_takes_record_under_guidance_allowed"].request
    return {k: v for k, v in request.items() if k != "action"}


def test_batch_items_inherit_defaults_and_answer_in_order(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    items = [
        {"action": {"name": "record.take"}},
        {"action": {"name": "document.draft"}},
        {"action": {"name": "file.bind"}},
    ]
    results = decider.check_batch(batch_defaults(decision_cases), items)
    assert [r.answer["decision"] for r in results] == [True, False, True]
    assert all(r.error is None for r in results)


def test_batch_item_overrides_default_part(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    items = [{"action": {"name": "record.take"}, "context": {}}]
    (result,) = decider.check_batch(batch_defaults(decision_cases), items)
    assert result.answer["reasons"][0]["code"] == "clerk_requires_guidance"


def test_bad_batch_item_gets_own_error_and_others_are_answered(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    items = [
        {"action": {"name": "record.take"}},
        {"action": {"name": "record.takee"}},
        {"action": {"name": "file.bind"}},
    ]
    results = decider.check_batch(batch_defaults(decision_cases), items)
    assert [r.answer["decision"] for r in results] == [True, False, True]
    error = results[1].error
    assert error is not None
    assert error.field == "evaluations[1].action.name"
    assert "record.take" in error.message  # the suggestion
    assert results[1].answer["reasons"][0]["code"] == "invalid_request"


def test_a_batch_checked_for_its_bounds_still_refuses_an_item_that_breaks_them(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    # The bounds are not walked again, but the schema repeats each one: never an allow.
    item = {"action": {"name": "record.take"}, "context": {"extensions": {"note": "x" * 5000}}}
    results = decider.check_batch(batch_defaults(decision_cases), [item], within_limits=True)
    assert results[0].answer["decision"] is False
    assert results[0].answer["reasons"][0]["code"] == "invalid_request"
    assert results[0].error is not None
    assert results[0].error.field == "evaluations[0].context.extensions.note"


@pytest.mark.parametrize(
    ("semantic", "expected"),
    [
        ("execute_all", [True, False, True, False]),
        ("deny_on_first_deny", [True, False]),
        ("permit_on_first_permit", [True]),
    ],
)
def test_batch_semantics_short_circuit(
    decider: Decider, decision_cases: list[DecisionCase], semantic: str, expected: list[bool]
) -> None:
    items = [
        {"action": {"name": a}}
        for a in ("record.take", "document.draft", "file.bind", "court.appear")
    ]
    results = decider.check_batch(batch_defaults(decision_cases), items, semantic)
    assert [r.answer["decision"] for r in results] == expected


def test_batch_semantic_unknown_is_rejected(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decider.check_batch(batch_defaults(decision_cases), [], "first_wins")
    assert caught.value.field == "options.evaluations_semantic"


def test_batch_over_the_item_limit_is_rejected(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    with pytest.raises(InvalidRequestError, match="limit is 5") as caught:
        decider.check_batch(
            batch_defaults(decision_cases), [{"action": {"name": "record.take"}}] * 6
        )
    assert caught.value.field == "evaluations"


def test_batch_without_items_evaluates_the_defaults(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    defaults = {**batch_defaults(decision_cases), "action": {"name": "record.take"}}
    (result,) = decider.check_batch(defaults, [])
    assert result.answer["decision"] is True


# ------------------------------------------------------------------ list


def test_list_with_failing_engine_denies_every_action(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    request = batch_defaults(decision_cases)
    listed = Decider(bundle, ScriptedEngine(EvaluationError("boom"))).allowed_actions(request)
    assert len(listed) == len(bundle.actions)
    assert all(
        a["decision"] is False and a["reasons"][0]["code"] == "evaluation_error" for _, a in listed
    )


def test_list_decision_ids_are_unique_per_action(
    decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    listed = decider.allowed_actions(batch_defaults(decision_cases))
    ids = [a["decision_id"] for _, a in listed]
    assert len(set(ids)) == len(ids)
