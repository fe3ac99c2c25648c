"""Per-action evaluation: for each action, only the rules that can hold entries for it.

`authz/decision.rego` answers an action from `parts`: for each kind of entry (grants, denials,
...), the union of one set rule per concern package, each entry tagged `"action": …`. The
answer for action A reads only entries whose action is A, so leaving out a set that can never
hold an entry for A changes nothing — and saves evaluating it. This module proves, from the
policies' AST, which actions each set's entries can carry, and plans one entry point per
distinct selection of sets (`quanze.routes.<name>`), which `answer(act, found)` evaluates with
the selection in place of `parts`.

The proof is an over-approximation: an entry's action is traced to string literals, to set and
object rules built from them, to data documents, or to the parameters of functions that test
membership; anything it cannot follow (the input, a computed string, a `with`, a negation)
counts as "any action", and a set that may carry any action goes to every action. Catch-all
actions (`lib/scope.catch_alls`) are decided as whatever act the request's task names, so they
are always evaluated with every set, on the plain `decision` entry point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regorus

from quanze.server.policy.action_domains import ActionDomains
from quanze.server.policy.bundle import DECISION_ENTRYPOINT
from quanze.server.policy.rego_ast import may_hold, ref_path

AUTHZ_PACKAGE = "data.quanze.authz"
PARTS_RULE = f"{AUTHZ_PACKAGE}.parts"
ANSWER_FUNCTION = f"{AUTHZ_PACKAGE}.answer"
CATCH_ALLS_RULE = "data.quanze.lib.scope.catch_alls"
ROUTES_PACKAGE = "quanze.routes"
ROUTES_MODULE = "quanze/routes.rego (generated: per-action evaluation)"
# Actions per evaluation of ListAllowedActions: most parts of 15 fit the RVM's budget of
# 25,000 instructions (docs/benchmarks.md, "ListAllowedActions").
LIST_PART_SIZE = 15


@dataclass(frozen=True)
class Routes:
    """Which entry point decides each action, and the generated module that defines them."""

    entry_points: Mapping[str, str] = field(default_factory=dict)
    module: tuple[str, str] | None = None
    # part kind -> the set rules `parts` unions for it, in its order.
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # entry point -> the set rules it evaluates (every rule for DECISION_ENTRYPOINT).
    selections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The catalog in the parts ListAllowedActions decides one at a time; empty: all at once.
    listing: tuple[tuple[str, ...], ...] = ()
    # Why every action goes to DECISION_ENTRYPOINT, when routing is off.
    off_because: str = ""

    def entry_point(self, action: object) -> str:
        """The entry point for `action`: its route, or the full decision when it has none."""
        if isinstance(action, str):
            return self.entry_points.get(action, DECISION_ENTRYPOINT)
        return DECISION_ENTRYPOINT

    @property
    def extra_entry_points(self) -> list[str]:
        return sorted(set(self.entry_points.values()) - {DECISION_ENTRYPOINT})

    def summary(self) -> list[str]:
        """What `quanze policy check` says about per-action evaluation, line by line."""
        if self.off_because:
            return [f"per-action evaluation: off ({self.off_because}); every set for every action"]
        routed = sorted(set(self.entry_points.values()))
        everywhere = set(self.selections.get(DECISION_ENTRYPOINT, ()))
        for entry in routed:
            everywhere &= set(self.selections[entry])
        lines = [
            f"per-action evaluation: {len(self.entry_points)} of "
            f"{sum(len(names) for names in self.listing)} actions on "
            f"{len(routed)} entry points, each with only the sets that can concern it"
        ]
        if everywhere:
            names = ", ".join(sorted(r.removeprefix("data.") for r in everywhere))
            lines.append(f"  evaluated for every action (may concern any): {names}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_points": dict(self.entry_points),
            "module": list(self.module) if self.module else None,
            "parts": {kind: list(rules) for kind, rules in self.parts.items()},
            "selections": {entry: list(rules) for entry, rules in self.selections.items()},
            "listing": [list(names) for names in self.listing],
            "off_because": self.off_because,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Routes:
        module = document["module"]
        return cls(
            entry_points=dict(document["entry_points"]),
            module=(module[0], module[1]) if module else None,
            parts={kind: tuple(rules) for kind, rules in document["parts"].items()},
            selections={entry: tuple(rules) for entry, rules in document["selections"].items()},
            listing=tuple(tuple(names) for names in document["listing"]),
            off_because=document["off_because"],
        )


def plan_routes(modules: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> Routes:
    """The routes for these serving modules and data; routing off (with why) if unprovable."""
    engine = regorus.Engine()
    try:
        for name, source in modules:
            engine.add_policy(name, source)
    except RuntimeError as exc:  # the compile that follows reports it with its location
        return Routes(off_because=f"the modules could not be read: {exc}")
    return plan_routes_from_ast(engine.get_ast_as_json(), data)


def plan_routes_from_ast(ast_json: str, data: Mapping[str, Any]) -> Routes:
    """`plan_routes` from regorus's AST of the modules (`Engine.get_ast_as_json()`)."""
    index = ActionDomains(json.loads(ast_json), data)
    parts = _parts(index)
    if parts is None:
        return Routes(
            off_because=f"{PARTS_RULE} is not an object of union({{...}}) of rules by full path"
        )
    if not _decides_from_parts(index):
        return Routes(
            off_because=f"{DECISION_ENTRYPOINT} is not {ANSWER_FUNCTION}(input.action.name, parts)"
        )
    actions = index.data_keys("data.quanze.catalog.actions")
    if not actions:
        return Routes(off_because="the catalog (data.quanze.catalog.actions) lists no actions")
    ordered = sorted(actions)
    listing = tuple(
        tuple(ordered[i : i + LIST_PART_SIZE]) for i in range(0, len(ordered), LIST_PART_SIZE)
    )
    catch_alls = index.keys(CATCH_ALLS_RULE)
    if catch_alls is None:
        return Routes(off_because=f"{CATCH_ALLS_RULE} is not a constant object")
    domains = {rule: index.entry_actions(rule) for rules in parts.values() for rule in rules}
    every_rule = tuple(rule for rules in parts.values() for rule in rules)
    chosen: dict[str, tuple[str, ...]] = {}
    for action in sorted(actions):
        if action in catch_alls:
            continue  # decided as the act its task names: every set may matter
        selection = tuple(rule for rule in every_rule if may_hold(domains[rule], action))
        if selection != every_rule:
            chosen[action] = selection
    names: dict[tuple[str, ...], str] = {}
    for selection in sorted(set(chosen.values())):
        names[selection] = f"r{len(names) + 1}"
    entry_points = {a: f"data.{ROUTES_PACKAGE}.{names[s]}" for a, s in chosen.items()}
    selections = {f"data.{ROUTES_PACKAGE}.{n}": s for s, n in names.items()}
    selections[DECISION_ENTRYPOINT] = every_rule
    source = _routes_source(parts, names)
    return Routes(
        entry_points=entry_points,
        module=(ROUTES_MODULE, source) if names else None,
        parts=parts,
        selections=selections,
        listing=listing,
    )


def _decides_from_parts(domains: ActionDomains) -> bool:
    """Whether `decision` is exactly `answer(input.action.name, parts)`: what the generated
    entry points do with fewer sets, so nothing else can feed the decision."""
    definitions = domains.rules.get(DECISION_ENTRYPOINT, [])
    if len(definitions) != 1:
        return False
    ((kind, rule),) = definitions[0][0].items()
    head = rule["head"].get("Compr") if kind == "Spec" else None
    if head is None or rule["bodies"] or head.get("assign") is None:
        return False
    call = head["assign"]["value"].get("Call")
    context = definitions[0][1]
    return (
        call is not None
        and context.resolve(call["fcn"]) == ANSWER_FUNCTION
        and [ref_path(p) for p in call["params"]] == ["input.action.name", "parts"]
        and context.resolve(call["params"][1]) == PARTS_RULE
    )


def _parts(domains: ActionDomains) -> dict[str, tuple[str, ...]] | None:
    """`parts` of the authz module as {kind: (set rules...)}, or None when it is not an object of
    `union({...})` of rules named by full path."""
    definitions = domains.rules.get(PARTS_RULE, [])
    if len(definitions) != 1 or ANSWER_FUNCTION not in domains.rules:
        return None
    (definition, context) = definitions[0]
    ((kind, rule),) = definition.items()
    head = rule["head"].get("Compr") if kind == "Spec" else None
    if head is None or rule["bodies"] or head.get("assign") is None:
        return None
    value = head["assign"]["value"]
    if "Object" not in value:
        return None
    parts: dict[str, tuple[str, ...]] = {}
    for _, key, member in value["Object"]["fields"]:
        call = member.get("Call")
        if "String" not in key or call is None or not context.is_builtin(call["fcn"], "union"):
            return None
        (argument,) = call["params"]
        if "Set" not in argument:
            return None
        rules = tuple(ref_path(item) for item in argument["Set"]["items"])
        if any(r is None or not r.startswith("data.") for r in rules):
            return None
        parts[key["String"]["value"]] = rules  # type: ignore[assignment]
    return parts


def _routes_source(
    parts: Mapping[str, tuple[str, ...]], names: Mapping[tuple[str, ...], str]
) -> str:
    lines = [
        f"package {ROUTES_PACKAGE}",
        "",
        "import rego.v1",
        "",
        "# Generated by quanze serve at load (policy/routing.py): each rule answers the actions",
        "# routed to it from only the sets that can hold entries for them.",
    ]
    for selection, name in sorted(names.items(), key=lambda item: int(item[1][1:])):
        lines += ["", f"{name} := {ANSWER_FUNCTION}(input.action.name, {{"]
        for kind, rules in parts.items():
            kept = [rule for rule in rules if rule in selection]
            union = f"union({{{', '.join(kept)}}})" if kept else "set()"
            lines.append(f'\t"{kind}": {union},')
        lines.append("})")
    return "\n".join(lines) + "\n"
