"""Reading regorus's AST (`Engine.get_ast_as_json()`): references, statements, constants, and
the sets of strings ("domains") the action analysis (`policy.action_domains`) works with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# A set of strings, or None for "any string".
Domain = frozenset[str] | None


def plain(stmts: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    """The literals of the statements that hold as written: no `with` modifies them."""
    for stmt in stmts:
        if not stmt.get("with_mods"):
            yield stmt["literal"]


def literal_keys(expr: Any) -> frozenset[str] | None:
    """The keys of an object literal, or None when one is not a string literal."""
    keys = [key.get("String", {}).get("value") for _, key, _ in expr["Object"]["fields"]]
    return frozenset(keys) if all(isinstance(k, str) for k in keys) else None


def literal_lacks_action(expr: Any) -> bool:
    """Whether a literal expression is a constant with no key "action" at any depth."""
    if not isinstance(expr, dict) or len(expr) != 1:
        return False
    ((kind, body),) = expr.items()
    if kind in ("String", "RawString", "Number", "Bool", "Null"):
        return True
    if kind in ("Set", "Array"):
        return all(literal_lacks_action(i) for i in body["items"])
    if kind == "Object":
        keys = literal_keys(expr)
        return (
            keys is not None
            and "action" not in keys
            and all(literal_lacks_action(v) for _, _, v in body["fields"])
        )
    return False


def json_lacks_action(document: Any) -> bool:
    if isinstance(document, dict):
        return "action" not in document and all(json_lacks_action(v) for v in document.values())
    if isinstance(document, list):
        return all(json_lacks_action(v) for v in document)
    return document is not None


def literal_strings(expr: Any) -> Domain:
    """Every string of a literal expression at any depth; None if a part is not literal."""
    if not isinstance(expr, dict) or len(expr) != 1:
        return None
    ((kind, body),) = expr.items()
    if kind in ("String", "RawString"):
        return frozenset({body["value"]})
    if kind in ("Number", "Bool", "Null"):
        return frozenset()
    if kind in ("Set", "Array"):
        return strings(literal_strings(i) for i in body["items"])
    if kind == "Object":
        return strings(literal_strings(e) for _, k, v in body["fields"] for e in (k, v))
    return None


def json_strings(document: Any) -> frozenset[str]:
    if isinstance(document, str):
        return frozenset({document})
    if isinstance(document, dict):
        return frozenset(document).union(*(json_strings(v) for v in document.values()))
    if isinstance(document, list):
        return frozenset().union(*(json_strings(v) for v in document))
    return frozenset()


def binding(stmt: Mapping[str, Any], variable: str) -> tuple[str, Any] | None:
    """How a statement binds `variable`: ("value", e) for `v := e`, ("element", c) for
    `some v in c`; None when it does not bind it that way."""
    some_in = stmt.get("SomeIn")
    if some_in is not None:
        if some_in["key"] is None and var(some_in["value"]) == variable:
            return "element", some_in["collection"]
        return None
    assign = stmt.get("Expr", {}).get("expr", {}).get("AssignExpr")
    if assign is not None and var(assign["lhs"]) == variable:
        return "value", assign["rhs"]
    return None


def column_of(expr: Any) -> tuple[str, int] | None:
    """(v, i) when `expr` is `v[i]` for a local variable v and a number i."""
    lookup = expr.get("RefBrack") if isinstance(expr, dict) else None
    if lookup is None:
        return None
    index = lookup["index"].get("Number", {}).get("value")
    variable = var(lookup["refr"])
    if variable is None or not isinstance(index, int):
        return None
    return variable, index


def lookup(expr: Any) -> Any:
    """`C[i]` when `expr` is that lookup, possibly followed by fields (`C[i].x`)."""
    while "RefDot" in expr:
        expr = expr["RefDot"]["refr"]
    return expr.get("RefBrack")


def var(expr: Any) -> str | None:
    return expr.get("Var", {}).get("value") if isinstance(expr, dict) else None


def ref_path(node: Any) -> str | None:
    """`a.b["c"]` as "a.b.c" for a reference of a variable, fields and string keys."""
    parts: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        if kind == "Var":
            parts.append(str(body["value"]))
            return ".".join(reversed(parts))
        if kind == "RefDot":
            parts.append(str(body["field"][1]))
        elif kind == "RefBrack" and "String" in body["index"]:
            parts.append(str(body["index"]["String"]["value"]))
        else:
            return None
        node = body["refr"]
    return None


def strings(domains: Iterable[Domain]) -> Domain:
    found: Domain = frozenset()
    for domain in domains:
        found = union(found, domain)
    return found


def union(a: Domain, b: Domain) -> Domain:
    return None if a is None or b is None else a | b


def intersect(a: Domain, b: Domain) -> Domain:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def may_hold(domain: Domain, value: str) -> bool:
    return domain is None or value in domain
