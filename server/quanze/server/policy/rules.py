"""The rules of a set of Rego modules, read from regorus's AST: where each is defined, the lines
of its head and bodies, and its head's value when that is a constant.

`quanze policy check` places errors that name a rule at its definition; `quanze policy eval
--explain` tells from line coverage which rules fired.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import regorus

from quanze.server.policy.testing import PACKAGE_LINE, ast_lines


@dataclass(frozen=True)
class RuleSite:
    """One definition of a rule or function, with the source lines of its head and bodies."""

    file: str
    line: int
    col: int
    package: str
    name: str
    kind: str  # "complete", "set" or "function" (defaults are not listed)
    # Lines of the head's key or value expression that no body statement shares.
    head_lines: frozenset[int]
    body_lines: tuple[frozenset[int], ...]
    # The head's key or value when it is a constant, as canonical JSON; "true" for `x if {...}`.
    literal: str | None = None

    @property
    def path(self) -> str:
        return f"data.{self.package}.{self.name}"


_HEAD_KINDS = {"Compr": "complete", "Set": "set", "Func": "function"}


@dataclass(frozen=True)
class ModuleIndex:
    """The rules of a set of modules, from regorus's AST."""

    rules: tuple[RuleSite, ...]

    @property
    def rule_locations(self) -> dict[str, tuple[str, int, int]]:
        locations: dict[str, tuple[str, int, int]] = {}
        for rule in self.rules:
            locations.setdefault(rule.path, (rule.file, rule.line, rule.col))
        return locations

    @classmethod
    def build(cls, modules: Mapping[str, str]) -> ModuleIndex:
        rules: list[RuleSite] = []
        for name, source in modules.items():
            engine = regorus.Engine()
            engine.add_policy(name, source)
            for module in json.loads(engine.get_ast_as_json()):
                rules.extend(_rule_sites(module))
        return cls(tuple(rules))


def _rule_sites(module: Mapping[str, Any]) -> Iterable[RuleSite]:
    source = module["source"]
    contents: bytes = source["contents"].encode()
    package = PACKAGE_LINE.search(source["contents"])
    if package is None:
        return
    for rule in module["ast"]["rules"]:
        spec = rule.get("Spec")
        if spec is None:
            continue  # default values say nothing about what fired
        ((head_kind, head),) = spec["head"].items()
        span = head["refr"].get(next(iter(head["refr"])), {}).get("span", {})
        # Spans are UTF-8 byte offsets; the rule name is the text of the head's reference.
        name = contents[span.get("start", 0) : span.get("end", 0)].decode(errors="replace")
        bodies = tuple(frozenset(ast_lines(body["query"]["stmts"])) for body in spec["bodies"])
        head_value = head.get("key") or (head.get("assign") or {}).get("value")
        literal = _literal(head_value) if head_value is not None else (True, True)
        yield RuleSite(
            file=source["file"],
            line=int(spec["span"]["line"]),
            col=int(spec["span"].get("col", 1)),
            package=package.group(1),
            name=name,
            kind=_HEAD_KINDS.get(head_kind, head_kind),
            head_lines=frozenset(ast_lines(head_value) - set().union(*bodies)),
            body_lines=bodies,
            literal=json.dumps(literal[1], sort_keys=True) if literal[0] else None,
        )


_SCALARS = ("String", "RawString", "Number", "Bool", "Null")


def _literal(node: Any) -> tuple[bool, Any]:
    """(True, value) when the AST expression `node` is a constant JSON value."""
    if not isinstance(node, dict) or len(node) != 1:
        return False, None
    ((kind, body),) = node.items()
    if kind in _SCALARS:
        return True, body.get("value")
    if kind == "Array":
        items = [_literal(i) for i in body.get("items", [])]
        return all(ok for ok, _ in items), [v for _, v in items]
    if kind == "Object":
        result: dict[str, Any] = {}
        for _, key_node, value_node in body.get("fields", []):
            key_ok, key = _literal(key_node)
            value_ok, value = _literal(value_node)
            if not (key_ok and value_ok and isinstance(key, str)):
                return False, None
            result[key] = value
        return True, result
    return False, None
