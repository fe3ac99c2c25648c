"""The shared decision table, answered by the tree-walking Engine and by the compiled RVM."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from quanze.server.decisions import Decider
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.policy.bundle import PolicyBundle, load_bundle
from quanze.server.policy.routing import Routes
from quanze.server.policy.testing import DecisionCase, load_decision_table
from tests.generated import generated_request

_BUNDLE = load_bundle()
_CASES = load_decision_table(_BUNDLE.root)


@pytest.fixture(scope="module")
def engines(bundle: PolicyBundle) -> dict[str, RegorusEngine]:
    return {
        "engine": RegorusEngine(bundle, fast_path=False),
        "rvm": RegorusEngine(bundle, fast_path=True),
        # Every package for every action: what per-action evaluation must always equal.
        "unrouted": RegorusEngine(bundle, fast_path=False, routes=Routes()),
    }


@pytest.fixture(scope="module")
def deciders(engines: dict[str, RegorusEngine], bundle: PolicyBundle) -> dict[str, Decider]:
    # Equality, not speed, is under test: a loaded machine must not turn a slow answer into a deny.
    return {path: Decider(bundle, engine, timeout_ms=60_000) for path, engine in engines.items()}


_NUMERALS = "一二三四五六七八九"


def numeral(n: int) -> str:
    """The Opinion's Chinese numeral for article n (1-48)."""
    tens, units = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens - 1] + "十")
    return head + (_NUMERALS[units - 1] if units else "")


# Articles whose nature allows only one side, documented in authz/cases/README.md.
RESPONSIBILITY = {numeral(n) for n in (25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 36, 37)}
ONE_SIDED = {
    numeral(10): "annual caseloads: reporting, no access rule (A40)",
    numeral(26): "lifetime responsibility: no access rule",
    numeral(33): "no liability for ordinary negligence: no access rule",
    numeral(34): "no liability for judicial flaws: no access rule",
    numeral(36): "sanctions under other rules: no access rule",
    numeral(37): "leniency and severity in sanctions: no access rule",
    numeral(45): "who counts as what: only ever a reason to deny",
}


def test_table_covers_every_article_with_allow_and_deny(decision_cases: list[DecisionCase]) -> None:
    outcomes: dict[str, set[bool]] = {}
    for case in decision_cases:
        outcomes.setdefault(case.article, set()).add(case.decision)
    for n in range(5, 48):
        article = numeral(n)
        if article in ONE_SIDED:
            continue
        wanted = {True} if article in RESPONSIBILITY else {True, False}
        assert wanted <= outcomes.get(article, set()), (article, outcomes.get(article))


def test_table_exercises_every_action_of_the_catalog(
    decision_cases: list[DecisionCase], bundle: PolicyBundle
) -> None:
    exercised = {case.request["action"]["name"] for case in decision_cases}
    assert set(bundle.actions) - exercised == set()


def test_every_resolution_is_referenced_by_the_policies_or_their_tests(
    bundle: PolicyBundle,
) -> None:
    text = "".join(source for _, source in (*bundle.modules, *bundle.test_modules))
    text += "".join(
        p.read_text() for p in (bundle.root / "quanze" / "authz" / "cases").glob("*.yaml")
    )
    missing = [f"A{n}" for n in range(1, 46) if not re.search(rf"\bA{n}\b", text)]
    assert missing == []


def test_table_has_at_least_two_hundred_cases(decision_cases: list[DecisionCase]) -> None:
    assert len(decision_cases) >= 200


@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
@pytest.mark.parametrize("path", ["engine", "rvm"])
def test_decision_case(
    case: DecisionCase, path: str, engines: dict[str, RegorusEngine], deciders: dict[str, Decider]
) -> None:
    answer = deciders[path].check(case.request)
    assert case.mismatches(answer) == [], case.request
    if path == "rvm":
        assert engines[path].fallbacks == 0, "the RVM must answer Check requests itself"


def test_engine_and_rvm_agree_on_generated_inputs(
    engines: dict[str, RegorusEngine], bundle: PolicyBundle
) -> None:
    rng = random.Random(20241)
    actions = list(bundle.actions)
    for _ in range(400):
        request = generated_request(rng, actions)
        assert engines["engine"].decide(request) == engines["rvm"].decide(request), request


def _with_one_attribute_left_out(request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Copies of `request`, each without one attribute (or one field of an object attribute)."""
    variants = []
    for part, key in (("subject", "properties"), ("resource", "properties"), ("context", None)):
        holder = request.get(part, {}) if key is None else request.get(part, {}).get(key, {})
        for name, value in holder.items():
            fields = [None, *value] if isinstance(value, dict) else [None]
            for field in fields:
                copy = json.loads(json.dumps(request))
                target = copy[part] if key is None else copy[part][key]
                if field is None:
                    del target[name]
                else:
                    del target[name][field]
                variants.append((f"{part}.{name}" + (f".{field}" if field else ""), copy))
    return variants


def test_engine_and_rvm_agree_when_an_attribute_is_left_out(
    engines: dict[str, RegorusEngine],
) -> None:
    # The RVM once let `x := input.missing; not x in S` succeed (the Engine rightly stops at the
    # undefined value): leaving attributes out of the table's requests finds such divergences.
    variants = [v for case in _CASES for v in _with_one_attribute_left_out(case.request)]
    for left_out, request in random.Random(46).sample(variants, 600):
        engine, rvm = engines["engine"].decide(request), engines["rvm"].decide(request)
        assert engine == rvm, (left_out, request)


def test_routed_answers_equal_every_package_evaluated_on_table_and_generated_inputs(
    engines: dict[str, RegorusEngine], bundle: PolicyBundle
) -> None:
    # Per-action evaluation leaves out sets whose entries provably never concern the action
    # (policy/routing.py); the answer must be exactly the one with every set, on both engines.
    assert engines["rvm"].routes.entry_points, "the bundled library must be routed"
    assert engines["unrouted"].routes.entry_points == {}
    rng = random.Random(1207)
    actions = list(bundle.actions)
    requests = [case.request for case in _CASES]
    requests += [generated_request(rng, actions) for _ in range(400)]
    variants = [v for case in _CASES for _, v in _with_one_attribute_left_out(case.request)]
    requests += random.Random(12).sample(variants, 300)
    for request in requests:
        full = engines["unrouted"].decide(request)
        assert engines["rvm"].decide(request) == full, request
        assert engines["engine"].decide(request) == full, request
    assert engines["rvm"].fallbacks == 0


def test_list_agrees_with_check_for_every_action_on_generated_inputs(
    deciders: dict[str, Decider], bundle: PolicyBundle
) -> None:
    rng = random.Random(7)
    actions = list(bundle.actions)
    decider = deciders["rvm"]
    for _ in range(25):
        request = generated_request(rng, actions, with_action=False)
        listed = dict(decider.allowed_actions(request))
        assert sorted(listed) == actions
        for action in actions:
            single = decider.check({**request, "action": {"name": action}})
            for key in ("decision", "reasons", "obligations", "escalate_to", "accountable"):
                assert listed[action][key] == single[key], (action, key, request)
