"""Per-action evaluation: which sets each action needs, proven from the AST, never guessed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import regorus

from quanze.server.policy.bundle import DECISION_ENTRYPOINT
from quanze.server.policy.routing import Routes, plan_routes

ACTIONS = ["x.one", "x.two", "x.three", "task.assigned"]
DATA: dict[str, Any] = {
    "quanze": {
        "catalog": {"actions": {a: {} for a in ACTIONS}, "listed": ["x.three"]},
    }
}
AUTHZ = """package quanze.authz

import rego.v1

parts := {
	"grants": union({data.quanze.rules.a.grants, data.quanze.rules.b.grants}),
	"denials": union({data.quanze.rules.b.denials}),
}

answer(act, found) := {
	"granted": sort([g.code | some g in found.grants; g.action == act]),
	"denied": sort([d.code | some d in found.denials; d.action == act]),
}

decision := answer(input.action.name, parts)
"""
SCOPE = """package quanze.lib.scope

import rego.v1

catch_alls := {"task.assigned": {"clerk": 0}}

actions := {input.action.name}
"""


def routes_for(rules_a: str, rules_b: str = "", authz: str = AUTHZ) -> Routes:
    return plan_routes(modules(rules_a, rules_b, authz), DATA)


def modules(rules_a: str, rules_b: str = "", authz: str = AUTHZ) -> list[tuple[str, str]]:
    header = "package quanze.rules.{}\n\nimport rego.v1\n\n"
    return [
        ("authz.rego", authz),
        ("scope.rego", SCOPE),
        ("a.rego", header.format("a") + rules_a),
        ("b.rego", header.format("b") + (rules_b or RULES_B)),
    ]


# Package b grants x.one and denies x.three when the context says so.
RULES_B = (
    'grants contains {"action": "x.one", "code": "b"}\n\n'
    'denials contains {"action": "x.three", "code": "no"} if input.context.refuse\n'
)


def actions_of(routes: Routes, rule: str) -> set[str]:
    """The actions whose evaluation includes `rule`."""
    return {a for a in ACTIONS if rule in routes.selections[routes.entry_point(a)]}


A_GRANTS = "data.quanze.rules.a.grants"


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ('grants contains {"action": "x.two", "code": "lit"}\n', {"x.two"}),
        (
            '_mine := {"x.two"}\n\ngrants contains {"action": act, "code": "set"} if {\n'
            "\tsome act in data.quanze.lib.scope.actions\n\tact in _mine\n}\n",
            {"x.two"},
        ),
        (
            '_mine(a) if a in {"x.three"}\n\ngrants contains {"action": act, "code": "fn"} if {\n'
            "\tsome act in data.quanze.lib.scope.actions\n\t_mine(act)\n}\n",
            {"x.three"},
        ),
        (
            'grants contains {"action": act, "code": "data"} if {\n'
            "\tsome act in data.quanze.lib.scope.actions\n\tact in data.quanze.catalog.listed\n}\n",
            {"x.three"},
        ),
        (
            '_pairs contains [act, {"code": "pair"}] if {\n\tsome act in {"x.two"}\n}\n\n'
            'grants contains object.union({"action": act}, g) if {\n'
            "\tsome pair in _pairs\n\tact := pair[0]\n\tg := pair[1]\n}\n",
            {"x.two"},
        ),
        (
            '_extra := {"code": "constant"}\n\n'
            'grants contains object.union({"action": "x.three"}, _extra)\n',
            {"x.three"},
        ),
    ],
    ids=[
        "literal",
        "constant-set",
        "function-parameter",
        "data-list",
        "array-item",
        "union-constant",
    ],
)
def test_a_set_goes_only_to_the_actions_its_entries_can_carry(
    rules: str, expected: set[str]
) -> None:
    routes = routes_for(rules)
    assert routes.off_because == ""
    # Catch-alls are answered as another act: they always get every set.
    assert actions_of(routes, A_GRANTS) == expected | {"task.assigned"}
    assert routes.entry_point("task.assigned") == DECISION_ENTRYPOINT


@pytest.mark.parametrize(
    "rules",
    [
        # The input names the action: any action.
        'grants contains {"action": act, "code": "any"} if {\n'
        "\tsome act in data.quanze.lib.scope.actions\n}\n",
        # A negated condition requires nothing of the action.
        'grants contains {"action": act, "code": "not"} if {\n'
        "\tsome act in data.quanze.lib.scope.actions\n"
        '\tnot act in {"x.one"}\n}\n',
        # `with` changes what a statement means: it proves nothing.
        'grants contains {"action": act, "code": "with"} if {\n'
        "\tsome act in data.quanze.lib.scope.actions\n"
        '\tact in data.quanze.catalog.listed with data.quanze.catalog.listed as ["x.one"]\n}\n',
        # What the request sends may carry its own "action", which object.union would keep.
        'grants contains object.union({"action": "x.two", "code": "merge"}, input.context.extra)\n',
        # A computed action.
        'grants contains {"action": concat(".", ["x", "two"]), "code": "computed"}\n',
    ],
    ids=["input", "negation", "with", "union-input", "computed"],
)
def test_a_set_whose_actions_cannot_be_proven_goes_to_every_action(rules: str) -> None:
    routes = routes_for(rules)
    assert actions_of(routes, A_GRANTS) == set(ACTIONS)


def test_the_generated_entry_points_answer_exactly_as_the_full_decision() -> None:
    rules_a = (
        '_mine := {"x.two", "x.three"}\n\ngrants contains {"action": act, "code": "a"} if {\n'
        "\tsome act in data.quanze.lib.scope.actions\n\tact in _mine\n}\n"
    )
    rules_b = (
        'grants contains {"action": "x.one", "code": "b"}\n\n'
        'denials contains {"action": "x.three", "code": "no"} if input.context.refuse\n'
    )
    source = modules(rules_a, rules_b)
    routes = plan_routes(source, DATA)
    assert routes.module is not None
    assert len(routes.extra_entry_points) == 3  # x.one, x.two and x.three each need other sets
    engine = regorus.Engine()
    for name, text in [*source, routes.module]:
        engine.add_policy(name, text)
    engine.add_data_json(json.dumps(DATA))
    program = regorus.Program.compile_from_modules(
        json.dumps(DATA),
        [*source, routes.module],
        [DECISION_ENTRYPOINT, *routes.extra_entry_points],
    )
    rvm = regorus.Rvm()
    rvm.load_program(program)
    rvm.set_data_json(json.dumps(DATA))
    for action in ACTIONS:
        for context in ({}, {"refuse": True}):
            engine.set_input_json(json.dumps({"action": {"name": action}, "context": context}))
            full = engine.eval_rule_as_json(DECISION_ENTRYPOINT)
            assert engine.eval_rule_as_json(routes.entry_point(action)) == full, action
            rvm.set_input_json(json.dumps({"action": {"name": action}, "context": context}))
            assert json.loads(rvm.execute_entry_point(routes.entry_point(action))) == json.loads(
                full
            ), action


def test_policies_of_another_shape_are_not_routed_and_say_why() -> None:
    plain = AUTHZ.replace("parts := {", "_parts := {").replace(
        "(input.action.name, parts)", "(input.action.name, _parts)"
    )
    routes = routes_for('grants contains {"action": "x.two", "code": "lit"}\n', authz=plain)
    assert routes.entry_points == {}
    assert routes.module is None
    assert "data.quanze.authz.parts" in routes.off_because
    assert routes.entry_point("x.two") == DECISION_ENTRYPOINT


def test_routes_survive_the_trip_from_the_compile_child() -> None:
    routes = routes_for('grants contains {"action": "x.two", "code": "lit"}\n')
    assert Routes.from_json(json.loads(json.dumps(routes.to_json()))) == routes


def routed_answers_differ(
    rules_a: str,
    *,
    extra: tuple[tuple[str, str], ...] = (),
    data: dict[str, Any] | None = None,
    authz: str = AUTHZ,
    inputs: tuple[dict[str, Any], ...] = ({}, {"context": {"refuse": True}}),
) -> list[str]:
    """Every action (and input) whose routed entry point answers unlike `decision`."""
    data = data if data is not None else DATA
    source = [*modules(rules_a, authz=authz), *extra]
    routes = plan_routes(source, data)
    engine = regorus.Engine()
    for name, text in [*source, *([routes.module] if routes.module else [])]:
        engine.add_policy(name, text)
    engine.add_data_json(json.dumps(data))
    differ = []
    for action in ACTIONS:
        for request in inputs:
            engine.set_input_json(json.dumps({"action": {"name": action}, **request}))
            full = engine.eval_rule_as_json(DECISION_ENTRYPOINT)
            assert json.loads(full) != "<undefined>", (action, request)
            if engine.eval_rule_as_json(routes.entry_point(action)) != full:
                differ.append(f"{action} {request}: {full}")
    return differ


# Patterns a review found the first version of the analysis got wrong: each produces an entry
# for an action the analysis did not count. Every one must now route soundly.
UNSOUND_BEFORE = {
    "else-value": '_mine := {"x.one"} if { input.never } else := {"x.two"}\n\n'
    'grants contains {"action": act, "code": "a"} if {\n'
    "\tsome act in data.quanze.lib.scope.actions\n\tact in _mine\n}\n",
    "else-function-in-union": '_extra(x) := {"code": "a"} if { x == 1 } '
    'else := {"code": "e", "action": "x.two"}\n\n'
    'grants contains object.union({"action": "x.one"}, _extra(2))\n',
    "else-constant": '_t := {"k": {"code": "a"}} if { input.never } '
    'else := {"k": {"code": "e", "action": "x.two"}}\n\n'
    'grants contains object.union({"action": "x.one"}, _t.k)\n',
    "default-only": 'default grants := {{"action": "x.two", "code": "d"}}\n',
    "local-shadows-rule": '_mine := {"x.one"}\n\n'
    'grants contains {"action": act, "code": "a"} if {\n'
    '\t_mine := {"x.two"}\n\tsome act in _mine\n}\n',
    "parameter-shadows-rule": '_mine := {"x.one"}\n\n_ok(a, _mine) if a in _mine\n\n'
    'grants contains {"action": act, "code": "a"} if {\n'
    '\tsome act in data.quanze.lib.scope.actions\n\t_ok(act, {"x.two"})\n}\n',
    "parameter-shadows-rule-in-union": '_c := {"code": "c"}\n\n_extra(_c) := _c\n\n'
    'grants contains object.union({"action": "x.one"}, '
    '_extra({"code": "p", "action": "x.two"}))\n',
    "wildcard-parameter": '_ok(_) if { some _ in {"x.one"} }\n\n'
    'grants contains {"action": act, "code": "a"} if {\n'
    "\tsome act in data.quanze.lib.scope.actions\n\t_ok(act)\n}\n",
    "repeated-action-key": 'grants contains {"action": "x.one", "action": "x.two", "code": "a"}\n',
    "computed-key": 'grants contains {"action": "x.one", k: "x.two", "code": "a"} if {\n'
    '\tk := "action"\n}\n',
    "full-path-into-rule-value": '_t := {"k": {"code": "t", "action": "x.two"}}\n\n'
    'grants contains object.union({"action": "x.one"}, data.quanze.rules.a._t.k)\n',
    # A second review: a key with a dot is not two steps of a path.
    "dotted-key-in-rule": '_t.x := {"y": ["x.one"]}\n\n_t["x.y"] := ["x.two"]\n\n'
    'grants contains {"action": act, "code": "a"} if {\n\tsome act in _t.x.y\n}\n\n'
    'grants contains {"action": act, "code": "b"} if {\n\tsome act in _t["x.y"]\n}\n',
    "dotted-key-in-data": 'grants contains {"action": act, "code": "a"} if {\n'
    '\tsome act in data.quanze.lists["x.y"]\n}\n',
    # A package's own `object.union` replaces the builtin.
    "own-object-union": 'object.union(a, b) := {"action": "x.two", "code": "z"}\n\n'
    'grants contains object.union({"action": "x.one", "code": "a"}, {"k": 1})\n',
    "rule-beside-data": 'grants contains {"action": act, "code": "a"} if {\n'
    "\tsome act in data.quanze.lib.scope.actions\n\tact in data.quanze.catalog.listed\n}\n",
}


@pytest.mark.parametrize("name", sorted(UNSOUND_BEFORE))
def test_patterns_that_once_fooled_the_analysis_route_soundly(name: str) -> None:
    # A rule in the catalog's package beside its data: regorus merges or overrides them.
    extra = (
        (("listed.rego", 'package quanze.catalog\n\nimport rego.v1\n\nlisted contains "x.two"\n'),)
        if name == "rule-beside-data"
        else ()
    )
    data = {
        **DATA,
        "quanze": {**DATA["quanze"], "lists": {"x.y": ["x.two"], "x": {"y": ["x.one"]}}},
    }
    assert routed_answers_differ(UNSOUND_BEFORE[name], extra=extra, data=data) == []


def test_a_decision_that_adds_to_parts_is_not_routed() -> None:
    authz = AUTHZ.replace(
        "decision := answer(input.action.name, parts)",
        'decision := answer(input.action.name, object.union(parts, {"denials": '
        "union({parts.denials, data.quanze.rules.a.denials})}))",
    )
    rules = 'grants contains {"action": "x.two", "code": "a"}\n\n'
    rules += 'denials contains {"action": "x.one", "code": "stop"}\n'
    routes = routes_for(rules, authz=authz)
    assert routes.entry_points == {}
    assert "data.quanze.authz.decision is not" in routes.off_because
    assert routed_answers_differ(rules, authz=authz) == []


def test_catch_alls_that_are_not_a_constant_turn_routing_off() -> None:
    scope = SCOPE.replace(
        'catch_alls := {"task.assigned": {"clerk": 0}}',
        'catch_alls := {"x.one": {"clerk": 0}} if input.context.narrow '
        'else := {"task.assigned": {"clerk": 0}}',
    )
    source = [
        (n, scope if n == "scope.rego" else t)
        for n, t in modules('grants contains {"action": "x.two", "code": "a"}\n')
    ]
    routes = plan_routes(source, DATA)
    assert routes.entry_points == {}
    assert "catch_alls" in routes.off_because
