"""Check that attribute values are JSON and copy them as plain dicts and lists.

`google.protobuf.Struct` accepts only dict/list containers and stores every number as a
double, so values are normalised (and rejected with the field named) before they reach it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import TypeAlias

from quanze.client.errors import InvalidRequestError

JSONValue: TypeAlias = (
    str | int | float | bool | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
)
JSONObject: TypeAlias = Mapping[str, JSONValue]

# Larger integers would silently change on their way through a double.
_MAX_EXACT_INT = 2**53


def plain_object(value: object, field: str) -> dict[str, JSONValue]:
    """A plain-dict deep copy of the JSON object `value`; raises naming `field` otherwise."""
    if not isinstance(value, Mapping):
        raise InvalidRequestError(field, f"must be a JSON object, got {describe(value)}")
    copy: dict[str, JSONValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidRequestError(
                field, f"has the non-string key {key!r}; JSON keys are strings"
            )
        copy[key] = plain(item, f"{field}.{key}")
    return copy


def plain(value: object, field: str) -> JSONValue:
    """A plain deep copy of the JSON value `value`; raises naming `field` otherwise."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_EXACT_INT:
            raise InvalidRequestError(
                field, f"{value} is too large for a JSON number (limit 2**53)"
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(field, f"must be a finite number, got {value}")
        return value
    if isinstance(value, Mapping):
        return plain_object(value, field)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [plain(item, f"{field}[{index}]") for index, item in enumerate(value)]
    raise InvalidRequestError(field, f"must be a JSON value, got {describe(value)}")


def describe(value: object) -> str:
    """How a value reads in an error message, in JSON terms where it has one."""
    if isinstance(value, str):
        return f"the string {value!r}"
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


# bool before int: a bool is an int to isinstance.
_KINDS: tuple[tuple[type | UnionType, str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    (int | float, "a number"),
    (Mapping, "an object"),
    (list | tuple, "an array"),
)
