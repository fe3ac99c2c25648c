"""Reading regorus's AST (`Engine.get_ast_as_json()`): references, statements, constants, and
the sets of strings ("domains") the action analysis (`policy.action_domains`) works with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
    """The name of a variable expression; None for anything else, and for `_`, which is a
    fresh variable at each use."""
    name = expr.get("Var", {}).get("value") if isinstance(expr, dict) else None
    return None if name == "_" else name


def bound_names(node: Any, source: bytes) -> frozenset[str]:
    """Every name a rule definition binds anywhere: function parameters, `x :=` (arrays
    too), `some x`, `some k, v in`, and the same inside comprehensions. Such a name may shadow
    a rule or an import alias of the same name, so it is never read as one. `source` is the
    module's text (UTF-8), where `some x` names its variables only by their spans."""
    names: set[str] = set()
    for item in nodes(node):
        targets: list[Any] = []
        if "Func" in item and isinstance(item["Func"], dict):
            targets += item["Func"].get("args", [])
        if "AssignExpr" in item:
            targets.append(item["AssignExpr"]["lhs"])
            if item["AssignExpr"].get("op") == "Eq":  # `a = b` may bind either side
                targets.append(item["AssignExpr"]["rhs"])
        if "SomeIn" in item:
            targets += [item["SomeIn"]["key"], item["SomeIn"]["value"]]
        if "SomeVars" in item:
            for span in item["SomeVars"].get("vars", []):
                names.add(source[span["start"] : span["end"]].decode(errors="replace"))
        for target in targets:
            names |= _variables_in(target)
    return frozenset(names)


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object (dict) of an AST, at any depth."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            yield item
            stack.extend(item.values())


def _variables_in(node: Any) -> set[str]:
    """The variables of a binding target: a variable, or one inside arrays and objects."""
    if not isinstance(node, dict):
        return set()
    if "Var" in node:
        name = node["Var"].get("value") if isinstance(node["Var"], dict) else node["Var"]
        return {name} if isinstance(name, str) else set()
    found: set[str] = set()
    for kind in ("Array", "Set"):
        for item in node.get(kind, {}).get("items", []):
            found |= _variables_in(item)
    for _, _, value in node.get("Object", {}).get("fields", []):
        found |= _variables_in(value)
    return found


def body_statements(rule: Mapping[str, Any]) -> list[list[Any]]:
    """The statements of each body of a rule definition; one empty body for a rule without
    any (`x := 1`, `s contains "a"`), which holds unconditionally."""
    return [body["query"]["stmts"] for body in rule["bodies"]] or [[]]


def has_else(rule: Mapping[str, Any]) -> bool:
    """Whether a rule definition has `else` branches, whose values are in its bodies."""
    return any(body.get("is_else") or body.get("assign") for body in rule.get("bodies", []))


def string_prefix(node: Any) -> str:
    """The leading variable and string fields of a reference: "a.b" for `a.b[x].c`."""
    parts: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        if kind == "Var":
            parts.append(str(body["value"]))
            break
        if kind == "RefDot":
            parts.append(str(body["field"][1]))
        elif kind == "RefBrack" and _plain_key(body["index"]):
            parts.append(str(body["index"]["String"]["value"]))
        else:
            parts.clear()  # everything after a computed or dotted key is unknown
        node = body["refr"]
    return ".".join(reversed(parts))


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
        elif kind == "RefBrack" and _plain_key(body["index"]):
            parts.append(str(body["index"]["String"]["value"]))
        else:
            return None
        node = body["refr"]
    return None


def _plain_key(index: Any) -> bool:
    """A string key that a dotted path can hold: `a["x.y"]` is not `a.x.y`, so a key with a
    dot makes the reference no path at all."""
    return "String" in index and "." not in str(index["String"]["value"])


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
