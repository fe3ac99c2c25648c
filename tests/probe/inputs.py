"""Requests for the probes, made from the input schema the validator uses, and the oracle that
says which are invalid without asking the sidecar's own code.

`schema_problem` and `bytes_problem` decide with protobuf's parser and the reference
`jsonschema` library on `quanze/schema/input.schema.json`; NaN and infinities are invalid too
(issue 11). The
hypothesis strategies build mostly valid requests from the decision table's cases and from the
schema, then mutate them; the schema, not the mutation, says whether the result is invalid.
"""

from __future__ import annotations

import copy
import math
import random
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jsonschema
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from hypothesis import strategies as st

from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.v1 import decision_service_pb2 as pb

BUNDLE = load_bundle()
SCHEMA: dict[str, Any] = BUNDLE.schema
ACTIONS: tuple[str, ...] = tuple(BUNDLE.actions)
ROLES: tuple[str, ...] = tuple(SCHEMA["$defs"]["role"]["enum"])
CASES = load_decision_table(BUNDLE.root)
_CHECK = jsonschema.Draft202012Validator(SCHEMA)
_LIST_SCHEMA = copy.deepcopy(SCHEMA)
_LIST_SCHEMA["required"] = [r for r in SCHEMA["required"] if r != "action"]
del _LIST_SCHEMA["properties"]["action"]
_LIST = jsonschema.Draft202012Validator(_LIST_SCHEMA)

# The objects whose attributes the schema closes (additionalProperties: false), by path.
LOCATIONS: dict[tuple[str, ...], dict[str, Any]] = {
    ("subject", "properties"): SCHEMA["properties"]["subject"]["properties"]["properties"],
    ("resource", "properties"): SCHEMA["properties"]["resource"]["properties"]["properties"],
    ("action", "properties"): SCHEMA["properties"]["action"]["properties"]["properties"],
    ("context",): SCHEMA["properties"]["context"],
}


def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref", "")
    return SCHEMA["$defs"][ref.removeprefix("#/$defs/")] if ref else node


# ------------------------------------------------------------------------------ the oracle


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_non_finite(v) for v in value)
    return False


def schema_problem(request: Any, *, listing: bool = False) -> str:
    """Why `request` (contract JSON) is invalid, or "" when it is valid."""
    if has_non_finite(request):
        return "NaN or infinity"
    validator = _LIST if listing else _CHECK
    try:
        if validator.is_valid(request):
            return ""
        error = jsonschema.exceptions.best_match(validator.iter_errors(request))
    except RecursionError:
        return "nested too deep to check"
    if error is None:  # is_valid said no, yet best_match names nothing
        return "request: does not match the input schema"
    where = ".".join(str(p) for p in error.absolute_path) or "request"
    return f"{where}: {error.message[:200]}"


def parse(method: str, data: bytes) -> tuple[Any, str]:
    """(contract JSON of `data` as a `method` request, "") or (None, why it cannot be one)."""
    message_type = {"Check": pb.CheckRequest, "ListAllowedActions": pb.ListAllowedActionsRequest}
    try:
        message = message_type[method].FromString(data)
        return json_format.MessageToDict(message, preserving_proto_field_name=True), ""
    except (DecodeError, json_format.Error, RecursionError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


def bytes_problem(method: str, data: bytes) -> tuple[Any, str]:
    """(the request, "") when `data` is a valid `method` request, else (request or None, why)."""
    request, problem = parse(method, data)
    if problem:
        return None, problem
    return request, schema_problem(request, listing=method == "ListAllowedActions")


# ------------------------------------------------------------------------------ strategies
#
# Which case, attribute or kind of mutation an example uses is drawn from a `random.Random`
# that hypothesis seeds, so every one is as likely (hypothesis's own choices favour the first
# of a list); the values themselves come from hypothesis's strategies.


def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


# Strings the decision table uses (ids of people, offices, cases): requests made of them reach
# the policies' allow paths instead of stopping at "unknown person".
KNOWN_STRINGS = sorted({s for case in CASES for s in walk_strings(case.request)})
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    TEXT,
)
# What `extensions` holds: JSON values, finite, at most two levels deep.
EXTENSION_VALUES = st.one_of(
    LEAVES,
    st.lists(LEAVES, max_size=3),
    st.dictionaries(TEXT, st.one_of(LEAVES, st.lists(LEAVES, max_size=2)), max_size=3),
)


def _string(node: Mapping[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in node:
        day = st.dates(date(2000, 1, 1), date(2100, 1, 1)).map(date.isoformat)
        moment = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(
            lambda t: t.isoformat(timespec="seconds") + "Z"
        )
        # The dates of grants may be a day or a time; the resource's must be a time.
        return st.one_of(day, moment) if "(T" in node["pattern"] else moment
    low = node.get("minLength", 0)
    high = min(node.get("maxLength", 24), 24)
    known = [s for s in KNOWN_STRINGS if low <= len(s) <= high]
    return st.one_of(st.sampled_from(known), TEXT.filter(lambda s: low <= len(s) <= high))


def value_for(node: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema node accepts (small ones)."""
    node = resolve(node)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "oneOf" in node:
        return st.one_of([value_for(n) for n in node["oneOf"]])
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of([value_for({**node, "type": k}) for k in kind])
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        return _string(node)
    if kind == "array":
        return st.lists(value_for(node["items"]), max_size=min(node.get("maxItems", 3), 3))
    if kind == "object" and "properties" in node:
        required = set(node.get("required", ()))
        properties = node["properties"]
        return st.fixed_dictionaries(
            {k: value_for(v) for k, v in properties.items() if k in required},
            optional={k: value_for(v) for k, v in properties.items() if k not in required},
        )
    if kind == "object":
        return st.dictionaries(TEXT, EXTENSION_VALUES, max_size=3)
    return EXTENSION_VALUES


# Every attribute the schema defines, and a strategy for its valid values (built once).
ATTRIBUTES: list[tuple[tuple[str, ...], str]] = [
    (path, key) for path, node in sorted(LOCATIONS.items()) for key in sorted(node["properties"])
]
VALUES = {(path, key): value_for(LOCATIONS[path]["properties"][key]) for path, key in ATTRIBUTES}
ENUMS = [a for a in ATTRIBUTES if "enum" in resolve(LOCATIONS[a[0]]["properties"][a[1]])]
SUBJECT_IDS = _string(SCHEMA["properties"]["subject"]["properties"]["id"])
RESOURCE_TYPES: tuple[str, ...] = tuple(SCHEMA["$defs"]["resource_type"]["enum"])
WRONG_TYPES: tuple[Any, ...] = ("true", 1, 0.5, True, None, [], {}, ["x"], {"a": 1}, "")


@dataclass(frozen=True)
class Fuzzed:
    """A generated request, the mutations that made it, and whether it is invalid (and why)."""

    request: dict[str, Any]
    mutations: tuple[str, ...]
    problem: str

    @property
    def invalid(self) -> bool:
        return bool(self.problem)

    @property
    def kind(self) -> str:
        """What made it invalid (the invalid change), for the report."""
        if not self.invalid:
            return "valid_request"
        last = self.mutations[-1].split(":")[0] if self.mutations else ""
        return f"invalid_by_{last}" if last in INVALID_KINDS else "invalid_request"


class _Mutator:
    """Changes one request in place; each method returns what it did."""

    def __init__(self, draw: Any, rng: random.Random, request: dict[str, Any]) -> None:
        self.draw = draw
        self.rng = rng
        self.request = request

    def set(self, path: tuple[str, ...], key: str, value: Any) -> str:
        node = self.request
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[key] = value
        return ".".join((*path, key))

    def typo(self, word: str) -> str:
        """`word` misspelt: a letter dropped, doubled, swapped or changed, or its case."""
        how = self.rng.choice(["drop", "double", "swap", "change", "upper", "space", "zwsp"])
        i = self.rng.randrange(max(len(word) - 1, 1))
        if how == "drop":
            return word[:i] + word[i + 1 :]
        if how == "double":
            return word[: i + 1] + word[i:]
        if how == "swap" and len(word) > 1 and word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if how == "upper":
            return word.upper()
        if how == "space":
            return word + " "
        if how == "zwsp":
            return word[:i] + "\u200b" + word[i:]
        return (
            word[:i] + self.rng.choice(string.ascii_lowercase.replace(word[i], "")) + word[i + 1 :]
        )

    # Valid changes: the result is valid if the request was.

    def set_attribute(self) -> str:
        path, key = self.rng.choice(ATTRIBUTES)
        return "set:" + self.set(path, key, self.draw(VALUES[path, key]))

    def delete_attribute(self) -> str:
        path, key = self.rng.choice(ATTRIBUTES)
        node: Any = self.request
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(key, None)
        return f"delete:{'.'.join((*path, key))}"

    def other_action(self) -> str:
        self.request.setdefault("action", {})["name"] = self.rng.choice(ACTIONS)
        return "action"

    def other_cases_part(self) -> str:
        part = self.rng.choice(("subject", "resource", "context"))
        donor = self.rng.choice(CASES).request
        if part in donor:
            self.request[part] = copy.deepcopy(donor[part])
        return f"case_part:{part}"

    # Invalid changes (by the schema's verdict, which `fuzzed_requests` takes, not this label).

    def wrong_type(self) -> str:
        path, key = self.rng.choice(ATTRIBUTES)
        return "wrong_type:" + self.set(path, key, self.rng.choice(WRONG_TYPES))

    def misspelt_attribute(self) -> str:
        path, key = self.rng.choice(ATTRIBUTES)
        return "misspelt_attribute:" + self.set(path, self.typo(key), self.rng.choice(WRONG_TYPES))

    def unknown_action(self) -> str:
        self.request.setdefault("action", {})["name"] = self.typo(self.rng.choice(ACTIONS))
        return "unknown_action:action.name"

    def unknown_role(self) -> str:
        role = self.typo(self.rng.choice(ROLES))
        if self.rng.randrange(2):
            return "unknown_role:" + self.set(("subject", "properties"), "role", role)
        return "unknown_role:" + self.set(("subject", "properties"), "roles", ["procurator", role])

    def missing_required(self) -> str:
        part, name = self.rng.choice((("subject", "id"), ("action", "name"), ("resource", "type")))
        if self.rng.randrange(2) or not isinstance(self.request.get(part), dict):
            self.request.pop(part, None)
            return f"missing_required:{part}"
        self.request[part].pop(name, None)
        return f"missing_required:{part}.{name}"

    def too_long(self) -> str:
        part, name, limit = self.rng.choice(
            (("subject", "id", 256), ("resource", "id", 256), ("context", "assigned_task", 2048))
        )
        return "too_long:" + self.set((part,), name, "x" * (limit + self.rng.randint(1, 100)))

    def too_many(self) -> str:
        roles = ["procurator"] * self.rng.randint(33, 64)
        return "too_many:" + self.set(("subject", "properties"), "roles", roles)

    def bad_enum(self) -> str:
        path, key = self.rng.choice(ENUMS)
        node = resolve(LOCATIONS[path]["properties"][key])
        choices = [c for c in node["enum"] if isinstance(c, str)] or ["none"]
        return "bad_enum:" + self.set(path, key, self.typo(self.rng.choice(choices)))

    def non_finite(self) -> str:
        number = self.rng.choice([math.nan, math.inf, -math.inf])
        if self.rng.randrange(2):
            return "non_finite:" + self.set(("context",), "circumstance", number)
        path = self.rng.choice(sorted(LOCATIONS))
        return "non_finite:" + self.set((*path, "extensions"), "n", number)


VALID_MUTATIONS = (
    _Mutator.set_attribute,
    _Mutator.set_attribute,
    _Mutator.delete_attribute,
    _Mutator.other_action,
    _Mutator.other_cases_part,
)
INVALID_MUTATIONS = (
    _Mutator.wrong_type,
    _Mutator.misspelt_attribute,
    _Mutator.unknown_action,
    _Mutator.unknown_role,
    _Mutator.missing_required,
    _Mutator.too_long,
    _Mutator.too_many,
    _Mutator.bad_enum,
    _Mutator.non_finite,
)


INVALID_KINDS = {m.__name__ for m in INVALID_MUTATIONS}


@st.composite
def fuzzed_requests(draw: Any) -> Fuzzed:
    """Mostly valid requests: a decision-table case (7 in 10) or a minimal request made from the
    schema, some valid changes, and in 4 of 10 one invalid change."""
    rng = draw(st.randoms(use_true_random=False))
    if rng.randrange(10) < 7:
        request = copy.deepcopy(rng.choice(CASES).request)
        changes = rng.randint(0, 3)
    else:
        request = {
            "subject": {"type": "user", "id": draw(SUBJECT_IDS)},
            "action": {"name": rng.choice(ACTIONS)},
            "resource": {"type": rng.choice(RESOURCE_TYPES)},
        }
        changes = rng.randint(1, 8)
    mutator = _Mutator(draw, rng, request)
    mutations = [rng.choice(VALID_MUTATIONS)(mutator) for _ in range(changes)]
    if rng.randrange(10) < 4:
        mutations.append(rng.choice(INVALID_MUTATIONS)(mutator))
    return Fuzzed(request, tuple(mutations), schema_problem(request))
