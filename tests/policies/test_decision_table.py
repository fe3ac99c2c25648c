"""The shared decision table, answered by the tree-walking Engine and by the compiled RVM."""

from __future__ import annotations

import random

import pytest

from quanze.server.decisions import Decider
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.policy.bundle import PolicyBundle, load_bundle
from quanze.server.policy.testing import DecisionCase, load_decision_table
from tests.generated import generated_request

_BUNDLE = load_bundle()
_CASES = load_decision_table(_BUNDLE.root)


@pytest.fixture(scope="module")
def engines(bundle: PolicyBundle) -> dict[str, RegorusEngine]:
    return {
        "engine": RegorusEngine(bundle, fast_path=False),
        "rvm": RegorusEngine(bundle, fast_path=True),
    }


def test_table_covers_each_slice_article_with_allow_and_deny(
    decision_cases: list[DecisionCase],
) -> None:
    for article in ("十七", "十九", "二十三", "二十四"):
        outcomes = {c.decision for c in decision_cases if c.article == article}
        assert outcomes == {True, False}, article


@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
@pytest.mark.parametrize("path", ["engine", "rvm"])
def test_decision_case(
    case: DecisionCase, path: str, engines: dict[str, RegorusEngine], bundle: PolicyBundle
) -> None:
    engine = engines[path]
    answer = Decider(bundle, engine).check(case.request)
    assert case.mismatches(answer) == [], case.request
    if path == "rvm":
        assert engine.fallbacks == 0, "the RVM must answer Check requests itself"


def test_engine_and_rvm_agree_on_generated_inputs(
    engines: dict[str, RegorusEngine], bundle: PolicyBundle
) -> None:
    rng = random.Random(20241)
    actions = list(bundle.actions)
    for _ in range(400):
        request = generated_request(rng, actions)
        assert engines["engine"].decide(request) == engines["rvm"].decide(request), request


def test_list_agrees_with_check_for_every_action_on_generated_inputs(
    engines: dict[str, RegorusEngine], bundle: PolicyBundle
) -> None:
    rng = random.Random(7)
    actions = list(bundle.actions)
    decider = Decider(bundle, engines["rvm"])
    for _ in range(25):
        request = generated_request(rng, actions, with_action=False)
        listed = dict(decider.allowed_actions(request))
        assert sorted(listed) == actions
        for action in actions:
            single = decider.check({**request, "action": {"name": action}})
            for key in ("decision", "reasons", "obligations", "escalate_to", "accountable"):
                assert listed[action][key] == single[key], (action, key, request)
