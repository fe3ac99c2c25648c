"""The shipped log policy (`policies/quanze/log/mask.rego`) computed in Python: the same `mask`
and `drop`, from the same data (`data.quanze.log`), in microseconds instead of the 0.13 ms (no
personal data) to 1 ms (some) that evaluating it on regorus's tree-walking engine costs each
logged decision.

The Rego stays the definition. This transcription is used only for that policy byte for byte
(`POLICY_SHA256`, which a test keeps equal to the file's) and for data in the shape the policy
documents (`ShippedMask.for_bundle`); for a request that is not plain JSON it answers None. In
each of those cases the masker evaluates the policy as before. The tests hold the two to the
same answers over the decision table and generated requests full of personal keys.

How the policy decides, and so this module (see mask.rego for why):
- Only free-form members are searched, at any depth: `context`, `<part>.properties` and the
  members the schema does not define (at the top level and in subject, action and resource).
- A key is personal when, written as JSON text (escapes included), put in lower snake_case and
  with `-` and spaces as `_`, it ends with a listed key. Erasing wins over masking; under a key
  naming a party anything but a record (an object, or a non-empty array of objects) is erased.
- A member inside one erased or masked goes with it and is not listed.
- A masked member becomes "****" plus its last `mask_keep_last` characters, when it is a string
  at least twice that long (as regorus counts and cuts strings: see `_masked`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

POLICY_FILE = "quanze/log/mask.rego"
# sha256 of the mask.rego this module transcribes: change both together.
POLICY_SHA256 = "bf48f6cb2490aeea0d43d7b3a2b46a55cd3fa2fcee7313344dbc79bc2b9ffe52"

_LISTS = ("erase", "mask", "parties")
_DATA_KEYS = frozenset({"description", "personal_keys", "mask_keep_last", "drop_subjects"})
# The members of subject, action and resource the schema defines.
_MEMBERS = {
    "subject": ("type", "id", "properties"),
    "action": ("name", "properties"),
    "resource": ("type", "id", "properties"),
}
_PARTS = frozenset({*_MEMBERS, "context"})
_WORD_BREAK = re.compile(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])")
# Characters a listed key may have for this transcription to hold (the data's documented form:
# lower snake_case or Chinese): no quote, backslash or bracket of JSON text, and no letter case.
_LISTED_KEY = re.compile(r"[a-z0-9_]+|[^\x00-\x7f]+")
# Keys remembered per revision, each of at most _CACHED_KEY_LENGTH characters (so that requests
# cannot fill memory with long ones): the cache starts again past this many.
_CLASSIFIED_KEYS = 4096
_CACHED_KEY_LENGTH = 64


class _NotPlainJsonError(Exception):
    """The request holds what only the policy's own evaluation says how to log."""


class ShippedMask:
    """The shipped policy's `mask` and `drop` for one revision's data."""

    def __init__(
        self, lists: tuple[tuple[str, ...], ...], keep: int, drop_subjects: frozenset[str]
    ) -> None:
        self._lists = lists
        self._keep = keep
        self._drop_subjects = drop_subjects
        self._classified: dict[str, tuple[bool, bool, bool] | None] = {}

    @classmethod
    def for_bundle(
        cls, modules: Sequence[tuple[str, str]], data: Mapping[str, Any]
    ) -> ShippedMask | None:
        """The transcription of `modules` (the bundle's log policy) with `data`, or None when the
        policy is not the shipped one or the data is not in the shape it documents."""
        if [name for name, _ in modules] != [POLICY_FILE]:
            return None
        if hashlib.sha256(modules[0][1].encode()).hexdigest() != POLICY_SHA256:
            return None
        log = data.get("quanze", {}).get("log")
        if not isinstance(log, dict) or not set(log) <= _DATA_KEYS:
            return None
        keys = log.get("personal_keys")
        if not isinstance(keys, dict) or set(keys) != set(_LISTS):
            return None
        lists = tuple(keys[name] for name in _LISTS)
        if not all(
            isinstance(listed, list)
            and all(isinstance(k, str) and _LISTED_KEY.fullmatch(k) for k in listed)
            for listed in lists
        ):
            return None
        keep = log.get("mask_keep_last", 0)
        if type(keep) is not int or keep < 0:
            return None
        drop_subjects = log.get("drop_subjects", [])
        if not isinstance(drop_subjects, list) or not all(
            isinstance(s, str) for s in drop_subjects
        ):
            return None
        return cls(tuple(tuple(listed) for listed in lists), keep, frozenset(drop_subjects))

    def evaluate(self, request: Any) -> tuple[Any, list[Any], bool] | None:
        """(a copy of `request` as JSON reads it back, the policy's `mask`, its `drop`), or None
        for a request that is not a plain JSON object."""
        if type(request) is not dict:
            return None
        try:
            document = _copy(request)
        except _NotPlainJsonError:
            return None
        subject = document.get("subject")
        subject_id = subject.get("id") if type(subject) is dict else None
        dropped = type(subject_id) is str and subject_id in self._drop_subjects
        mask: list[Any] = []
        for pointer, value in _roots(document):
            self._search(value, pointer, mask)
        return document, mask, dropped

    def _search(self, value: Any, pointer: str, mask: list[Any]) -> None:
        """Add to `mask` what the policy erases or masks inside `value` (at `pointer`)."""
        if type(value) is dict:
            members: Any = value.items()
        elif type(value) is list:
            members = enumerate(value)
        else:
            return
        for key, child in members:
            how = self._how(key, child) if type(key) is str else None
            if how == "erase":
                mask.append(f"{pointer}/{_escape(key)}")
            elif how == "mask":
                at = f"{pointer}/{_escape(key)}"
                mask.append({"op": "upsert", "path": at, "value": self._masked(child)})
            elif type(child) is dict or type(child) is list:  # what goes, goes whole
                self._search(child, f"{pointer}/{_escape(str(key))}", mask)

    def _how(self, key: str, value: Any) -> str | None:
        if key in self._classified:
            lists = self._classified[key]
        else:
            lists = self._classify(key)
            if len(key) <= _CACHED_KEY_LENGTH:
                if len(self._classified) >= _CLASSIFIED_KEYS:
                    self._classified.clear()
                self._classified[key] = lists
        if lists is None:
            return None
        erase, mask, party = lists
        if erase or (party and not _record(value)):
            return "erase"
        return "mask" if mask else None

    def _classify(self, key: str) -> tuple[bool, bool, bool] | None:
        """Which lists `key` matches, compared as the policy compares it, or None for none."""
        if '":' in key:
            # The policy finds keys by splitting the request's JSON text at `":`, which such a
            # key's own text holds (as `\":`): no piece of the text ends with the whole key.
            return None
        text = json.dumps(key, ensure_ascii=False)[1:-1]  # as json.marshal writes it
        snake = _WORD_BREAK.sub(r"\1\3_\2\4", text).lower().replace("-", "_").replace(" ", "_")
        erase, mask, party = (snake.endswith(listed) for listed in self._lists)
        return (erase, mask, party) if erase or mask or party else None

    def _masked(self, value: Any) -> str:
        if not isinstance(value, str):
            return "****"
        # regorus's `count` of a string is its UTF-16 length; its `substring` counts characters
        # (and is empty past the end): a character outside the BMP counts twice, then once.
        length = len(value) if value.isascii() else len(value.encode("utf-16-le")) // 2
        if length < 2 * self._keep:
            return "****"
        start = length - self._keep
        return "****" + value[start : start + self._keep]


def _roots(request: dict[str, Any]) -> list[tuple[str, Any]]:
    """(pointer, value) of each value whose members, at any depth, are all free-form."""
    roots: list[tuple[str, Any]] = [
        ("/input/context", request.get("context")),
        ("/input", {k: v for k, v in request.items() if k not in _PARTS}),
    ]
    for part, known in _MEMBERS.items():
        if part not in request:
            continue
        holder, pointer = request[part], f"/input/{part}"
        if type(holder) is dict:
            roots.append((f"{pointer}/properties", holder.get("properties")))
            roots.append((pointer, {k: v for k, v in holder.items() if k not in known}))
        else:  # not what the schema defines at all: searched whole
            roots.append((pointer, holder))
    return roots


def _record(value: Any) -> bool:
    if type(value) is dict:
        return True
    return type(value) is list and bool(value) and all(type(v) is dict for v in value)


def _escape(step: str) -> str:
    """RFC 6901: "~" is written "~0" and "/" is written "~1"."""
    return step.replace("~", "~0").replace("/", "~1")


def _copy(value: Any) -> Any:
    """`value` as `json.loads(json.dumps(value))` gives it back, for plain JSON only."""
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _check_encodable(value)
        return value
    if kind is dict:
        copied = {}
        for key, child in value.items():
            if type(key) is not str:
                raise _NotPlainJsonError
            if not key.isascii():
                _check_encodable(key)
            copied[key] = _copy(child)
        return copied
    if kind is list:
        return [_copy(child) for child in value]
    if kind is float:
        if not math.isfinite(value):
            raise _NotPlainJsonError
        return value
    if kind in (int, bool) or value is None:
        return value
    raise _NotPlainJsonError


def _check_encodable(text: str) -> None:
    """A lone surrogate (only `json.loads` of an escape makes one) is not text the engine reads."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise _NotPlainJsonError from None
