"""Which rules fired: one evaluation on the tree-walking Engine with line coverage, read rule by
rule (`quanze policy eval --explain`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from quanze.server.engine.base import input_json
from quanze.server.engine.treewalk import compiled_engine
from quanze.server.errors import EngineCallError, PolicyError, engine_guard
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.policy.lint import parse_engine_error
from quanze.server.policy.rules import ModuleIndex, RuleSite


@dataclass(frozen=True)
class Trace:
    """One evaluation on the tree-walking Engine: its value, print() output, what fired."""

    value: Any
    prints: tuple[str, ...]
    # Conditional rules whose body held (a rule can appear once per definition).
    fired: tuple[RuleSite, ...] = ()
    # Conditional rules evaluated whose outcome line coverage cannot show.
    reached: tuple[RuleSite, ...] = ()
    # Unconditional definitions (`x := ...` without a body) that were evaluated.
    definitions: int = 0


def trace(policies: PolicyBundle, request: Any, entrypoint: str, *, explain: bool) -> Trace:
    """Evaluate `entrypoint` for `request` with print capture and, to explain, line coverage.

    A definition fired when its head's key or value was evaluated, which the engine does only
    after the body held. When the head shares its line with the body (one-line rules) the
    line says only that the rule was reached; then a constant head is looked for in the rule's
    value, and other rules (e.g. functions) are listed as reached.
    """
    engine = compiled_engine(policies)
    engine.set_input_json(input_json(request))
    engine.set_gather_prints(True)
    engine.set_enable_coverage(explain)
    try:
        with engine_guard():
            value = json.loads(engine.eval_rule_as_json(entrypoint))
    except EngineCallError as exc:
        raise PolicyError(
            f"evaluating {entrypoint} failed: {parse_engine_error(str(exc))}"
        ) from exc
    prints = tuple(engine.take_prints())
    if not explain:
        return Trace(value, prints)
    report = json.loads(engine.get_coverage_report_as_json())
    covered = {f["path"]: set(f.get("covered", [])) for f in report.get("files", [])}
    fired: list[RuleSite] = []
    reached: list[RuleSite] = []
    definitions = 0
    rules = ModuleIndex.build(dict(policies.modules)).rules
    # Two definitions with the same head give the same value: the value cannot tell them apart.
    heads = Counter((r.path, r.literal) for r in rules)
    for rule in rules:
        lines = covered.get(rule.file, set())
        if not rule.body_lines:
            definitions += bool(rule.head_lines & lines)
        elif rule.head_lines:
            if rule.head_lines & lines:
                fired.append(rule)
        elif any(body and body <= lines for body in rule.body_lines):
            held = _holds(engine, rule)
            if held is None or (held and heads[(rule.path, rule.literal)] > 1):
                reached.append(rule)  # unknown, or some definition with this head held
            elif held:
                fired.append(rule)
    return Trace(value, prints, tuple(fired), tuple(reached), definitions)


def _holds(engine: Any, rule: RuleSite) -> bool | None:
    """Whether a rule's constant head is in its value; None when that cannot be told."""
    if rule.kind == "function" or rule.literal is None:
        return None
    try:
        with engine_guard():
            value = json.loads(engine.eval_rule_as_json(rule.path))
    except EngineCallError:  # a rule that cannot be evaluated on its own stays unknown
        return None
    if rule.kind == "set":
        return isinstance(value, list) and rule.literal in {
            json.dumps(v, sort_keys=True) for v in value
        }
    return json.dumps(value, sort_keys=True) == rule.literal
