"""Which actions the entries of a set rule can carry, proven from the policies' AST.

An entry's action is traced to string literals, to set and object rules built from them, to
data documents, to the parameters of functions that test membership, and to items of sets of
arrays (`some pair in pairs; act := pair[0]`); anything the analysis cannot follow (the input, a
computed string, a `with`, a negation) is "any action" (None). It never claims less than the
policies can produce: `policy.routing` leaves out of an action's evaluation only sets whose
domain provably excludes it. It relies on nothing it cannot see whole: a rule with `else`
branches, data beside a rule at the same path, a rule with computed keys near a path, a name
the definition binds itself (which may shadow a rule or an import), `_`, an entry object
with a computed or repeated key, a key holding a dot (`a["x.y"]` is not `a.x.y`) and a
package's own function named like a builtin all count as "any action"
(tests/server/policy/test_routing.py keeps the patterns two reviews found). Entries built with
`object.union(a, b)` take their action from `b` when `b` has it, else from `a` when `b`
provably has no key "action".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from quanze.server.policy.rego_ast import (
    Domain,
    binding,
    body_statements,
    bound_names,
    column_of,
    has_else,
    intersect,
    json_lacks_action,
    json_strings,
    literal_keys,
    literal_lacks_action,
    literal_strings,
    lookup,
    plain,
    ref_path,
    string_prefix,
    strings,
    union,
    var,
)


class ActionDomains:
    """The rules of the serving modules, by full path, and the domain analysis over them."""

    def __init__(self, modules: Iterable[Mapping[str, Any]], data: Mapping[str, Any]) -> None:
        self.data = data
        # full path -> [(definition, the module's context)]
        self.rules: dict[str, list[tuple[dict[str, Any], Context]]] = {}
        # Paths under which a rule has computed keys: nothing there is read.
        self.opaque: set[str] = set()
        for module in modules:
            self._add_module(module)
        self._memo: dict[tuple[str, str], Domain] = {}
        self._lacks: dict[tuple[str, bool, int], bool] = {}

    def _add_module(self, module: Mapping[str, Any]) -> None:
        ast = module["ast"]
        source = module.get("source", {}).get("contents", "").encode()
        package = ref_path(ast["package"]["refr"])
        if package is None:
            return
        aliases = {}
        for imported in ast.get("imports", []):
            path = ref_path(imported["refr"])
            if path and path.startswith("data."):
                alias = imported.get("as")
                aliases[alias if isinstance(alias, str) else path.rsplit(".", 1)[-1]] = path
        names = set()
        definitions = []
        for rule in ast["rules"]:
            ((kind, body),) = rule.items()
            head = body if kind == "Default" else next(iter(body["head"].values()))
            name = ref_path(head["refr"])
            if name is None:  # `a[x] contains ...`: a rule under `a` whose keys are computed
                self.opaque.add(f"data.{package}.{string_prefix(head['refr'])}")
                continue
            names.add(name.split(".")[0])
            definitions.append((f"data.{package}.{name}", {kind: body}))
        for path, definition in definitions:
            shadowed = bound_names(definition, source)
            context = Context(f"data.{package}", frozenset(names), aliases, shadowed)
            self.rules.setdefault(path, []).append((definition, context))

    def _definitions(self, path: str) -> list[tuple[dict[str, Any], Context]] | None:
        """The definitions of the rule at `path`, or None when the analysis cannot rely on
        them: `else` branches (values in the bodies), data at the same path (regorus merges
        them), or a rule with computed keys near it."""
        definitions = self.rules.get(path)
        if definitions is None or self._data_at(path) is not None or self._opaque_near(path):
            return None
        if any(has_else(next(iter(d.values()))) for d, _ in definitions):
            return None
        return definitions

    def _document(self, path: str) -> Any:
        """The data document at `path` when no rule is at, above or under it; else None."""
        if self._opaque_near(path) or any(_near(path, rule) for rule in self.rules):
            return None
        return self._data_at(path)

    def _opaque_near(self, path: str) -> bool:
        return any(_near(path, prefix) for prefix in self.opaque)

    # ------------------------------------------------------------------ domains

    def entry_actions(self, path: str) -> Domain:
        """The actions the entries of the set rule `path` can carry."""
        return self._cached("entries", path, lambda: self._entry_actions(path))

    def elements(self, path: str) -> Domain:
        """The strings the collection at `path` (a rule or a data document) can hold."""
        return self._cached("elements", path, lambda: self._collection(path, keys=False))

    def keys(self, path: str) -> Domain:
        """The strings that can be keys of the object (or elements of the set) at `path`."""
        return self._cached("keys", path, lambda: self._collection(path, keys=True))

    def data_keys(self, path: str) -> frozenset[str]:
        document = self._data_at(path)
        return frozenset(document) if isinstance(document, dict) else frozenset()

    def _cached(self, what: str, path: str, compute: Any) -> Domain:
        key = (what, path)
        if key not in self._memo:
            self._memo[key] = None  # a cycle through this rule proves nothing: any action
            self._memo[key] = compute()
        return self._memo[key]

    def _over_definitions(
        self, path: str, each: Callable[[str, Mapping[str, Any], Context], Domain]
    ) -> Domain:
        """The union of `each(kind, rule, context)` over the rule's definitions; None (any)
        when one of them is, or when the definitions cannot be relied on."""
        definitions = self._definitions(path)
        if definitions is None:
            return None
        return strings(
            each(kind, rule, context)
            for definition, context in definitions
            for kind, rule in definition.items()
        )

    def _entry_actions(self, path: str) -> Domain:
        return self._over_definitions(path, self._definition_entry_actions)

    def _definition_entry_actions(
        self, kind: str, rule: Mapping[str, Any], context: Context
    ) -> Domain:
        if kind == "Default":
            items = rule["value"].get("Set", {}).get("items")
            if items is None:
                return None
            return strings(self._entry_action(i, [], context) for i in items)
        head = rule["head"].get("Set")
        if head is None:
            return None
        return strings(
            self._entry_action(head["key"], stmts, context) for stmts in body_statements(rule)
        )

    def _entry_action(self, entry: Any, stmts: list[Any], context: Context) -> Domain:
        if "Object" in entry:
            actions = [
                value
                for _, key, value in entry["Object"]["fields"]
                if key.get("String", {}).get("value") == "action"
            ]
            # A computed or repeated key could set the action too: the last one written wins.
            if literal_keys(entry) is None or len(actions) != 1:
                return None
            return self._value(actions[0], stmts, context)
        call = entry.get("Call")
        if call is not None and context.is_builtin(call["fcn"], "object.union"):
            first, second = call["params"]
            if "Object" in second and "action" in (literal_keys(second) or ()):
                return self._entry_action(second, stmts, context)
            if self._lacks_action(second, stmts, context):
                return self._entry_action(first, stmts, context)
            return None
        variable = var(entry)
        if variable is not None and not context.is_rule(variable):
            for stmt in plain(stmts):
                assign = stmt.get("Expr", {}).get("expr", {}).get("AssignExpr")
                if assign and var(assign["lhs"]) == variable:
                    return self._entry_action(assign["rhs"], stmts, context)
        return None

    def _value(
        self, expr: Any, stmts: list[Any], context: Context, visiting: frozenset[str] = frozenset()
    ) -> Domain:
        """The strings expression `expr`, evaluated in the body `stmts`, can be."""
        if "String" in expr:
            return frozenset({expr["String"]["value"]})
        variable = var(expr)
        if variable is not None and not context.is_rule(variable):
            if variable in visiting:
                return None  # `a = b` and `b = a`: nothing more to learn
            return self._variable(variable, stmts, context, visiting | {variable})
        column = column_of(expr)
        if column is not None:
            tuple_variable, position = column
            for stmt in plain(stmts):
                some_in = stmt.get("SomeIn")
                if some_in and some_in["key"] is None and var(some_in["value"]) == tuple_variable:
                    collection = context.resolve(some_in["collection"])
                    return self._column(collection, position) if collection else None
        return None

    def _column(self, path: str, position: int) -> Domain:
        """The strings item `position` of the arrays in the set rule `path` can be."""

        def item(kind: str, rule: Mapping[str, Any], context: Context) -> Domain:
            head = rule["head"].get("Set") if kind == "Spec" else None
            if head is None or "Array" not in head["key"]:
                return None
            items = head["key"]["Array"]["items"]
            if position >= len(items):
                return frozenset()
            return strings(
                self._value(items[position], stmts, context) for stmts in body_statements(rule)
            )

        return self._over_definitions(path, item)

    def _variable(
        self,
        variable: str,
        stmts: list[Any],
        context: Context,
        visiting: frozenset[str] = frozenset(),
    ) -> Domain:
        """Intersect what every plain statement of the body requires of `variable`."""
        found: Domain = None
        for stmt in plain(stmts):
            found = intersect(found, self._required(variable, stmt, stmts, context, visiting))
        return found

    def _required(
        self,
        variable: str,
        stmt: Mapping[str, Any],
        stmts: list[Any],
        context: Context,
        visiting: frozenset[str],
    ) -> Domain:
        expr = stmt.get("Expr", {}).get("expr") or {}
        member = stmt.get("SomeIn") or expr.get("Membership")
        if member is not None:  # `some k, v in c` or `k, v in c`
            if var(member["value"]) == variable:
                return self._of(member["collection"], context, keys=False, stmts=stmts)
            if member["key"] is not None and var(member["key"]) == variable:
                return self._of(member["collection"], context, keys=True, stmts=stmts)
            return None
        compared = expr.get("BoolExpr") or expr.get("AssignExpr")
        if compared is not None and compared["op"] in ("Eq", "ColEq"):
            sides = ((compared["lhs"], compared["rhs"]), (compared["rhs"], compared["lhs"]))
            for side, other in sides:
                if var(side) == variable:
                    return self._value(other, stmts, context, visiting)
            return None
        looked_up = lookup(expr)
        if looked_up is not None and var(looked_up["index"]) == variable:
            return self._of(looked_up["refr"], context, keys=True, stmts=stmts)
        call = expr.get("Call")
        if call is not None:
            function = context.resolve(call["fcn"])
            if function is not None and self._definitions(function) is not None:
                return self._parameter(function, call["params"], variable)
        return None

    def _parameter(self, function: str, params: list[Any], variable: str) -> Domain:
        """What a call `function(..., variable, ...)` that succeeds requires of `variable`."""
        positions = [i for i, p in enumerate(params) if var(p) == variable]
        if not positions:
            return None
        found: Domain = frozenset()
        for definition, context in self._definitions(function) or []:
            ((kind, rule),) = definition.items()
            head = rule["head"].get("Func") if kind == "Spec" else None
            if head is None or not rule["bodies"] or len(head["args"]) != len(params):
                return None
            for body in rule["bodies"]:
                stmts = body["query"]["stmts"]
                each: Domain = None
                for position in positions:
                    argument = head["args"][position]
                    each = intersect(each, self._value(argument, stmts, context))
                found = union(found, each)
        return found

    def _of(
        self, collection: Any, context: Context, *, keys: bool, stmts: list[Any] | None = None
    ) -> Domain:
        """The strings a literal or referenced collection holds (its keys, if `keys`)."""
        for kind in ("Set", "Array"):
            if kind in collection:
                items = collection[kind]["items"]
                if keys and kind == "Array":
                    return frozenset()  # array indexes are numbers, never action names
                return strings(self._value(i, [], context) for i in items)
        if "Object" in collection:
            fields = collection["Object"]["fields"]
            chosen = [k if keys else v for _, k, v in fields]
            return strings(self._value(i, [], context) for i in chosen)
        binary = collection.get("BinExpr") or collection.get("ArithExpr")
        if binary is not None and not keys:
            lhs = self._of(binary["lhs"], context, keys=False)
            rhs = self._of(binary["rhs"], context, keys=False)
            if binary["op"] == "Union":
                return union(lhs, rhs)
            if binary["op"] == "Intersection":
                return intersect(lhs, rhs)
            if binary["op"] == "Sub":
                return lhs
            return None
        path = context.resolve(collection)
        if path is None:
            # A part of a constant (`t := table[role]; t[act]`): any string anywhere in it.
            return self._constant_strings(collection, stmts or [], context)
        return self.keys(path) if keys else self.elements(path)

    def _collection(self, path: str, *, keys: bool) -> Domain:
        if path not in self.rules:
            document = self._document(path)
            values: Iterable[Any]
            if isinstance(document, dict):
                values = document.keys() if keys else document.values()
            elif isinstance(document, list):
                values = [] if keys else document
            else:
                return None
            return frozenset(v for v in values if isinstance(v, str))

        def held(kind: str, rule: Mapping[str, Any], context: Context) -> Domain:
            if kind == "Default":
                return self._of(rule["value"], context, keys=keys)
            ((head_kind, head),) = rule["head"].items()
            if head_kind == "Set":
                return strings(
                    self._value(head["key"], stmts, context) for stmts in body_statements(rule)
                )
            if head_kind == "Compr" and head.get("assign"):
                # Whatever the bodies require, the value is this expression.
                return self._of(head["assign"]["value"], context, keys=keys)
            return None

        return self._over_definitions(path, held)

    # ------------------------------------------------------------------ keys of objects

    def _lacks_action(self, expr: Any, stmts: list[Any], context: Context) -> bool:
        """Whether the object `expr` evaluates to can never have the key "action"."""
        if "Object" in expr:
            keys = literal_keys(expr)
            return keys is not None and "action" not in keys
        call = expr.get("Call")
        if call is not None:
            if context.is_builtin(call["fcn"], "object.union"):
                return all(self._lacks_action(p, stmts, context) for p in call["params"])
            function = context.resolve(call["fcn"])
            return function is not None and self._rule_lacks_action(function, elements=False)
        variable = var(expr)
        if variable is not None and not context.is_rule(variable):
            for stmt in plain(stmts):
                bound = binding(stmt, variable)
                if bound is not None:
                    kind, source = bound
                    if kind == "value":
                        return self._lacks_action(source, stmts, context)
                    return self._elements_lack_action(source, stmts, context)
            return False
        path = context.resolve(expr)
        if path in self.rules:
            return self._rule_lacks_action(path, elements=False)
        return self._column_lacks_action(
            expr, stmts, context, elements=False
        ) or self._from_constant(expr, stmts, context)

    def _elements_lack_action(self, expr: Any, stmts: list[Any], context: Context) -> bool:
        """Whether no element of the collection `expr` can be an object with "action"."""
        for kind in ("Set", "Array"):
            if kind in expr:
                return all(self._lacks_action(i, stmts, context) for i in expr[kind]["items"])
        call = expr.get("Call")
        if call is not None:
            function = context.resolve(call["fcn"])
            return function is not None and self._rule_lacks_action(function, elements=True)
        path = context.resolve(expr)
        if path in self.rules:
            return self._rule_lacks_action(path, elements=True)
        return self._column_lacks_action(
            expr, stmts, context, elements=True
        ) or self._from_constant(expr, stmts, context)

    def _column_lacks_action(
        self, expr: Any, stmts: list[Any], context: Context, *, elements: bool
    ) -> bool:
        """For `v[i]` with `some v in s` (s a set rule of arrays): whether item i of every
        array (or every element of item i, with `elements`) lacks the key "action"."""
        column = column_of(expr)
        if column is None:
            return False
        tuple_variable, position = column
        for stmt in plain(stmts):
            some_in = stmt.get("SomeIn")
            if some_in and some_in["key"] is None and var(some_in["value"]) == tuple_variable:
                path = context.resolve(some_in["collection"])
                return path is not None and self._rule_lacks_action(
                    path, elements=elements, position=position
                )
        return False

    def _rule_lacks_action(self, path: str, *, elements: bool, position: int = -1) -> bool:
        """Whether no value (or element, with `elements`; of item `position` of an element, for
        a set of arrays) of the rule at `path` can be an object with the key "action"."""
        key = (path, elements, position)
        if key not in self._lacks:
            self._lacks[key] = False  # a cycle through this rule proves nothing
            definitions = self._definitions(path)
            self._lacks[key] = definitions is not None and all(
                self._definition_lacks_action(definition, context, elements, position)
                for definition, context in definitions
            )
        return self._lacks[key]

    def _definition_lacks_action(
        self, definition: Mapping[str, Any], context: Context, elements: bool, position: int
    ) -> bool:
        check = self._elements_lack_action if elements else self._lacks_action
        ((kind, rule),) = definition.items()
        if kind == "Default":
            return position < 0 and check(rule["value"], [], context)
        ((head_kind, head),) = rule["head"].items()
        bodies = body_statements(rule)
        if head_kind == "Set":
            item = head["key"]
            if position >= 0:
                items = item["Array"]["items"] if "Array" in item else []
                if position >= len(items):
                    return False
                item = items[position]
            elif not elements:
                return False  # a set is not an object; never asked
            else:
                check = self._lacks_action
            return all(check(item, stmts, context) for stmts in bodies)
        assigned = head.get("assign")
        if assigned is None or position >= 0:
            return False
        value = assigned["value"]
        compr = value.get("SetCompr") or value.get("ArrayCompr")
        if elements and compr is not None:
            term, inner = compr["term"], compr["query"]["stmts"]
            return all(self._lacks_action(term, stmts + inner, context) for stmts in bodies)
        return all(check(value, stmts, context) for stmts in bodies)

    def _constant_root(self, expr: Any, stmts: list[Any], context: Context) -> list[Any] | None:
        """The constants `expr` is a part of, reached through lookups (`table[act]`,
        `t := c[x]; t[y]`): literal values of rules (AST) or a data document (JSON)."""
        base = expr
        while context.resolve(base) is None and ("RefDot" in base or "RefBrack" in base):
            base = (base.get("RefDot") or base["RefBrack"])["refr"]
        variable = var(base)
        if variable is not None and not context.is_rule(variable):
            for stmt in plain(stmts):
                bound = binding(stmt, variable)
                if bound is not None and bound[0] == "value":
                    return self._constant_root(bound[1], stmts, context)
            return None
        path = context.resolve(base)
        if path is None:
            return None
        rule = next((r for r in self.rules if path == r or path.startswith(r + ".")), None)
        if rule is None:
            document = self._document(path)
            return None if document is None else [("data", document)]
        definitions = self._definitions(rule)
        if definitions is None:
            return None
        values = []
        for definition, _ in definitions:
            ((kind, rule),) = definition.items()
            if kind == "Default":
                values.append(("ast", rule["value"]))
                continue
            head = rule["head"].get("Compr")
            if head is None or head.get("assign") is None:
                return None
            values.append(("ast", head["assign"]["value"]))
        return values

    def _from_constant(self, expr: Any, stmts: list[Any], context: Context) -> bool:
        """Whether `expr` is a part of constants with no key "action" at any depth."""
        roots = self._constant_root(expr, stmts, context)
        return roots is not None and all(
            json_lacks_action(value) if kind == "data" else literal_lacks_action(value)
            for kind, value in roots
        )

    def _constant_strings(self, expr: Any, stmts: list[Any], context: Context) -> Domain:
        """Every string (key or value, at any depth) of the constants `expr` is a part of."""
        roots = self._constant_root(expr, stmts, context)
        if roots is None:
            return None
        found: Domain = frozenset()
        for kind, value in roots:
            strings = json_strings(value) if kind == "data" else literal_strings(value)
            found = union(found, strings)
        return found

    def _data_at(self, path: str) -> Any:
        document: Any = self.data
        for part in path.split(".")[1:]:
            if not isinstance(document, dict) or part not in document:
                return None
            document = document[part]
        return document


@dataclass(frozen=True)
class Context:
    """What names mean in one module: its package's rules, and its imports."""

    package: str
    rule_names: frozenset[str]
    aliases: Mapping[str, str]
    # Names the definition binds itself (parameters, locals): never its package's rules.
    shadowed: frozenset[str] = frozenset()

    def is_rule(self, name: str) -> bool:
        if name in self.shadowed:
            return False
        return name in self.rule_names or name in self.aliases or name in ("data", "input")

    def is_builtin(self, expr: Any, name: str) -> bool:
        """Whether `expr` names the builtin `name`: a package may define its own `object.union`,
        which then replaces the builtin."""
        return ref_path(expr) == name and not self.is_rule(name.split(".", maxsplit=1)[0])

    def resolve(self, expr: Any) -> str | None:
        """The full path a reference names (`data.…`), or None for anything else."""
        path = ref_path(expr)
        if path is None:
            return None
        head, _, rest = path.partition(".")
        if head in self.shadowed:
            return None
        if head in self.rule_names:
            base = f"{self.package}.{head}"
        elif head in self.aliases:
            base = self.aliases[head]
        elif head == "data":
            return path
        else:
            return None
        return f"{base}.{rest}" if rest else base


def _near(path: str, other: str) -> bool:
    """Whether one of two paths is the other or lies under it."""
    return path == other or path.startswith(other + ".") or other.startswith(path + ".")
