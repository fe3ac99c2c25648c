"""Validate requests against the input schema that lives with the policies.

Valid requests take a compiled fast path; an invalid one is re-checked with `jsonschema`
to name the offending field and say how to fix it. Before either, `Limits` checks the schema's
size bounds (`maxItems`, `maxLength`, `maxProperties`) by looking only at the lengths it bounds:
a request of 40,000 roles is refused in microseconds, and it works on protobuf `Struct`s and
`ListValue`s too (they are a `Mapping` and a `Sequence`), before they are converted to dicts.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
import jsonschema
from fastjsonschema.ref_resolver import RefResolver

from quanze.server.errors import InvalidRequestError, did_you_mean

_TYPE_NAMES = {
    "boolean": "true or false",
    "string": "a string",
    "object": "a JSON object",
    "array": "a JSON array",
    "number": "a number",
    "integer": "an integer",
    "null": "null",
}


class RequestValidator:
    """Checks Check requests and ListAllowedActions requests (which carry no action)."""

    def __init__(self, schema: Mapping[str, Any], actions: Iterable[str]) -> None:
        self._actions = sorted(actions)
        list_schema = copy.deepcopy(dict(schema))
        list_schema["required"] = [r for r in list_schema["required"] if r != "action"]
        list_schema["properties"].pop("action", None)
        self._check = _Compiled(schema)
        self._list = _Compiled(list_schema)
        self.limits = Limits(schema)

    def check_request(self, request: Any, *, within_limits: bool = False) -> None:
        """Raise `InvalidRequestError` naming the field when `request` breaks the schema.

        `within_limits`: `limits` already passed on this request (as `convert.request_dict`
        checks them while converting), so they are not checked again.
        """
        if not within_limits:
            self.limits.check(request)
        self._check.validate(request, self._actions)

    def list_request(self, request: Any, *, within_limits: bool = False) -> None:
        """The same for a ListAllowedActions request."""
        if not within_limits:
            self.limits.check(request)
        self._list.validate(request, self._actions)


@dataclass
class Bounds:
    """The size bounds of one schema node, and of the nodes below it.

    Its `check_*` methods raise the `InvalidRequestError` that names a field over its bound:
    `Limits` walks a request with them, and `convert.request_dict` reads a message with them.
    """

    max_length: int | None = None
    max_items: int | None = None
    max_properties: int | None = None
    properties: dict[str, Bounds] = field(default_factory=dict)
    closed: bool = False  # additionalProperties: false
    items: Bounds | None = None
    additional: Bounds | None = None

    def check_length(self, text: str, path: str) -> None:
        """A string of at most `max_length` characters."""
        if self.max_length is not None and len(text) > self.max_length:
            raise InvalidRequestError(
                path, f"at most {self.max_length} characters (has {len(text)})"
            )

    def check_items(self, count: int, path: str) -> None:
        """An array of at most `max_items` items."""
        if self.max_items is not None and count > self.max_items:
            raise InvalidRequestError(path, f"at most {self.max_items} items (has {count})")

    def check_fields(self, keys: Collection[str], path: str) -> None:
        """An object of at most `max_properties` fields, and no more than the schema defines
        when it is closed; a closed object's keys are looked at only when there are too many."""
        if self.max_properties is not None and len(keys) > self.max_properties:
            raise InvalidRequestError(
                path or "request", f"at most {self.max_properties} fields (has {len(keys)})"
            )
        if self.closed and len(keys) > len(self.properties):
            # Among the first len(properties) + 1 keys at least one is unknown: name it.
            known = sorted(self.properties)
            unknown = next(key for key in keys if key not in self.properties)
            raise _unknown_attribute(path.split(".") if path else [], {unknown}, known)


class Limits:
    """The schema's size bounds, checked before anything that costs time in the request's size.

    Only what is bounded is looked at: the length of a string or array is read before any item,
    and an object with more fields than its schema defines is refused after looking at no more
    than that many keys. So the check costs what a legitimate request costs, whatever was sent.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._defs: Mapping[str, Any] = schema.get("$defs", {})
        self._compiled: dict[str, Bounds] = {}
        self.root = self._compile(schema)

    def check(self, request: Any, prefix: str = "") -> None:
        """Raise `InvalidRequestError` naming the first field over its bound."""
        _walk(self.root, request, prefix)

    def _compile(self, node: Mapping[str, Any]) -> Bounds:
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name not in self._compiled:  # recursive definitions refer to the same bounds
                self._compiled[name] = Bounds()
                self._fill(self._compiled[name], self._defs[name])
            return self._compiled[name]
        bounds = Bounds()
        self._fill(bounds, node)
        return bounds

    def _fill(self, bounds: Bounds, node: Mapping[str, Any]) -> None:
        for alternative in (*node.get("oneOf", ()), *node.get("anyOf", ())):
            self._fill(bounds, alternative)
        bounds.max_length = node.get("maxLength", bounds.max_length)
        bounds.max_items = node.get("maxItems", bounds.max_items)
        bounds.max_properties = node.get("maxProperties", bounds.max_properties)
        for name, child in node.get("properties", {}).items():
            bounds.properties[name] = self._compile(child)
        additional = node.get("additionalProperties")
        if additional is False:
            bounds.closed = True
        elif isinstance(additional, Mapping):
            bounds.additional = self._compile(additional)
        if isinstance(node.get("items"), Mapping):
            bounds.items = self._compile(node["items"])


def _walk(bounds: Bounds, value: Any, path: str) -> None:
    if isinstance(value, str):
        bounds.check_length(value, path)
    elif isinstance(value, Mapping):
        _walk_object(bounds, value, path)
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        bounds.check_items(len(value), path)
        if bounds.items is not None:
            for index, item in enumerate(value):
                _walk(bounds.items, item, f"{path}.{index}")


def _walk_object(bounds: Bounds, value: Mapping[str, Any], path: str) -> None:
    bounds.check_fields(value.keys(), path)
    for key in value:
        child = bounds.properties.get(key, bounds.additional)
        if child is not None:
            _walk(child, value[key], f"{path}.{key}" if path else key)


@functools.lru_cache(maxsize=8)
def _compile_fast(schema_json: str) -> Callable[[Any], Any]:
    """fastjsonschema's validator for a schema (as canonical JSON), compiled once per schema.

    Compiling execs generated code, which holds the GIL for about 0.1 s: a policy revision
    that keeps the schema (most do) reuses the validator rather than stall the serving thread.
    The validator keeps no state, so any thread may use it.
    """
    schema = json.loads(schema_json)
    code = _LOCALS_FORMAT.sub(_as_f_string, fastjsonschema.compile_to_code(schema))
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - what fastjsonschema.compile does, on its own code
    # The root function's name, found as fastjsonschema.compile finds it.
    validate: Callable[[Any], Any] = namespace[
        RefResolver.from_schema(schema, store={}).get_scope_name()
    ]
    return validate


# fastjsonschema names each array item it hands to a `$ref`'s function (role ids, extension
# values, ...) with `"...[{i}]".format(**locals())`, even when nothing fails: that copies every
# local of the generated function, hundreds in the root one, and was 35 of the 40 µs a request's
# validation took. The same literal as an f-string reads only the names it shows. Only literals
# whose braces are all plain names are rewritten, so both spellings give the same text.
_LOCALS_FORMAT = re.compile(
    r'"((?:[^"\\{}\n]|\{[A-Za-z_][A-Za-z0-9_]*\})*)"\.format\(\*\*locals\(\)\)'
)


def _as_f_string(found: re.Match[str]) -> str:
    return f'f"{found.group(1)}"'


class _Compiled:
    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._fast = _compile_fast(json.dumps(schema, sort_keys=True, ensure_ascii=False))
        self._full = jsonschema.Draft202012Validator(schema)

    def validate(self, request: Any, actions: list[str]) -> None:
        try:
            self._fast(request)
        except fastjsonschema.JsonSchemaException:
            pass
        else:
            return
        errors = sorted(self._full.iter_errors(request), key=_error_rank)
        if not errors:  # the two validators disagree; refuse rather than guess
            raise InvalidRequestError("", "the request does not match the input schema")
        raise _describe(errors[0], actions)


def _error_rank(error: jsonschema.ValidationError) -> tuple[int, str]:
    # Report a missing or unknown top-level field before problems deep inside it.
    return (len(error.absolute_path), ".".join(str(p) for p in error.absolute_path))


def _describe(error: jsonschema.ValidationError, actions: list[str]) -> InvalidRequestError:
    # jsonschema types these as "maybe unset"; for an error from iter_errors they are always set.
    instance: Any = error.instance
    schema: Any = error.schema
    expected: Any = error.validator_value
    path = [str(p) for p in error.absolute_path]
    field = ".".join(path)
    if error.validator == "required":
        missing = next(iter(r for r in expected if r not in (instance or {})), "")
        name = ".".join([*path, missing])
        return InvalidRequestError(name, "is required")
    if error.validator == "additionalProperties":
        return _unknown_attribute(path, instance, sorted(schema.get("properties", {})))
    if field == "action.name" and error.validator == "enum":
        return InvalidRequestError(field, _unknown_action(instance, actions))
    if error.validator == "enum":
        choices = ", ".join(repr(c) for c in expected)
        return InvalidRequestError(field, f"{instance!r} is not one of {choices}")
    if error.validator == "type":
        wanted = " or ".join(
            _TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)
        )
        return InvalidRequestError(
            field or "request", f"must be {wanted}, got {_json_type(instance)}"
        )
    if error.validator == "minLength":
        return InvalidRequestError(field, "must not be empty")
    if error.validator in _BOUNDS:  # normally caught first by `Limits`, with the same words
        return InvalidRequestError(
            field or "request", f"at most {expected} {_BOUNDS[error.validator]}"
        )
    return InvalidRequestError(field or "request", error.message)


def _unknown_attribute(path: list[str], instance: Any, known: list[str]) -> InvalidRequestError:
    """An attribute the schema does not define: a misspelt one must never be silently ignored."""
    extra = sorted(set(instance) - set(known))
    name = ".".join([*path, extra[0]]) if extra else ".".join(path)
    message = "is not a known field" + (did_you_mean(extra[0], known) if extra else "")
    if "extensions" in known:
        # The documented opt-out: free-form data the policies never read.
        message += f"; put data the policies do not read under {'.'.join([*path, 'extensions'])}"
    if len(known) <= _LISTED_FIELDS:
        message += f"; expected one of: {', '.join(known)}"
    else:
        message += f" (the {len(known)} known fields are in quanze/schema/input.schema.json)"
    return InvalidRequestError(name, message)


_BOUNDS = {"maxLength": "characters", "maxItems": "items", "maxProperties": "fields"}

# Objects with more fields than this are not listed in full in an error message.
_LISTED_FIELDS = 12


def _unknown_action(name: Any, actions: list[str]) -> str:
    if not isinstance(name, str):
        return f"must be an action id string, got {_json_type(name)}"
    close = difflib.get_close_matches(name, actions, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    example = f"the catalog has {len(actions)} actions, e.g. {actions[0]!r}"
    return f"unknown action {name!r}{hint} ({example})"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    return "an object"
