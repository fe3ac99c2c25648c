"""Mask a decision-log record's request by the policy package `quanze.log` before it is written.

The policy (`policies/quanze/log/mask.rego`) sees the event `{"input": <request>, "path": ...,
"rpc": ...}` and returns `mask`, JSON Pointers (RFC 6901) into it: a string erases that member,
`{"op": "upsert", "path": ..., "value": ...}` replaces it (creating missing objects on the way);
and `drop`, true when only a stub of the record (no input, no answer) is to be kept.

Personal data must never reach disk, so masking fails closed: when the policy errors, returns
anything malformed or a pointer that cannot be applied, the whole request is erased and the
failure is logged (never the request itself).

Facts that shape this module (see engine/regorus_engine.py):
- `regorus.Engine` is bound to the thread that created it; so is a `Masker`.
- The policy walks the request, which the compiled RVM cannot do, so the tree-walking Engine runs
  it; one evaluation per record returns `mask` and `drop` together, as JSON (sets of objects
  cannot cross into Python otherwise).
- That evaluation costs 0.13 to 1 ms per record, so the shipped policy, when the bundle's is that
  file unchanged, is computed in Python instead (`shipped_mask`): the same `mask` and `drop`,
  applied and failing closed here in the same way.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regorus
import structlog

from quanze.server.decisionlog.shipped_mask import ShippedMask
from quanze.server.errors import EngineCallError, EvaluationError, PolicyError, engine_guard
from quanze.server.policy.bundle import PolicyBundle

LOG_POLICY_DIR = "quanze/log/"

# The masker's own entry point, so that a log policy needs to define only `mask` and `drop`:
# an undefined `mask` leaves `result` undefined (a failure); an undefined `drop` is false.
_ENTRY_MODULE_NAME = "quanze.server.decisionlog/masker.rego"
_ENTRYPOINT = "data.quanze_decisionlog_masker.result"
_ENTRY_MODULE = """package quanze_decisionlog_masker

import rego.v1

default drop := false

drop := data.quanze.log.drop

result := {"mask": data.quanze.log.mask, "drop": drop}
"""

_ROOT = "/input/"
_INDEX = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE = re.compile(r"~(?![01])")
_ERROR_DETAIL_LIMIT = 300

# Rust backtraces bloat every engine error message.
os.environ.pop("RUST_BACKTRACE", None)

log = structlog.get_logger("quanze.decisionlog")


@dataclass(frozen=True)
class Masked:
    """A request as the decision log may keep it."""

    input: Any  # the request with erasures and replacements applied; None when erased whole
    erased: list[str]  # JSON Pointers erased, sorted
    masked: list[str]  # JSON Pointers replaced, sorted
    dropped: bool


class _MalformedError(Exception):
    """The mask policy's answer cannot be applied as it stands."""


# A pointer's reference tokens, decoded, and how the policy wrote it.
_Pointer = tuple[tuple[str, ...], str]
# A location that exists, with array indices as ints: comparable between siblings.
_Steps = tuple[str | int, ...]


class Masker:
    """The log policy of one bundle revision, for the thread that builds this object."""

    def __init__(self, bundle: PolicyBundle) -> None:
        self._thread = threading.get_ident()
        self._engine: Any = None
        modules = [(n, s) for n, s in bundle.modules if n.startswith(LOG_POLICY_DIR)]
        self._shipped = ShippedMask.for_bundle(modules, bundle.data)
        if not modules:
            log.warning(
                "decision_log_unmasked",
                reason=f"no {LOG_POLICY_DIR} policy in the bundle",
                root=str(bundle.root),
            )
            return
        engine = regorus.Engine()
        try:
            with engine_guard():
                for name, source in modules:
                    engine.add_policy(name, source)
                engine.add_policy(_ENTRY_MODULE_NAME, _ENTRY_MODULE)
                engine.add_data_json(bundle.data_json)
        except EngineCallError as exc:
            raise PolicyError(
                f"the decision-log policy at {bundle.root / LOG_POLICY_DIR} does not load:\n{exc}"
            ) from exc
        self._engine = engine

    @property
    def enabled(self) -> bool:
        """Whether the bundle has a log policy; without one, requests are logged as they are."""
        return self._engine is not None

    @property
    def in_python(self) -> bool:
        """Whether the log policy is the shipped one, computed in Python (`shipped_mask`)."""
        return self._shipped is not None

    def apply(self, event: Mapping[str, Any]) -> Masked:
        """The event's request as it may be logged: `event` is {"input", "path", "rpc"}."""
        if threading.get_ident() != self._thread:
            raise EvaluationError(
                "the masker was used from a thread other than the one that built it"
            )
        if self._engine is None:
            return Masked(copy.deepcopy(event.get("input")), [], [], False)
        try:
            with engine_guard():
                document, mask, dropped = self._evaluate(event)
                document, erased, masked = _apply(document, mask)
        except EngineCallError as exc:
            detail = (str(exc).splitlines() or [""])[0][:_ERROR_DETAIL_LIMIT]
            # One line, no traceback: enough to fix the policy, and nothing of the request.
            log.error(  # noqa: TRY400
                "decision_log_mask_failed",
                error=f"{exc.kind}: {detail}",
                path=str(event.get("path", "")),
                rpc=str(event.get("rpc", "")),
                outcome="the whole request is erased from the record",
            )
            return Masked(None, ["/input"], [], False)
        return Masked(document, erased, masked, dropped)

    def _evaluate(self, event: Mapping[str, Any]) -> tuple[Any, list[Any], bool]:
        """A copy of the event's request that this module owns, the policy's `mask` and `drop`."""
        if self._shipped is not None:
            found = self._shipped.evaluate(event.get("input"))
            if found is not None:
                return found
        # One serialisation feeds the policy and, parsed back, is the caller-independent copy
        # that is edited: both see exactly the same document.
        event_json = json.dumps(event, ensure_ascii=False, allow_nan=False)
        self._engine.set_input_json(event_json)
        result = json.loads(self._engine.eval_rule_as_json(_ENTRYPOINT))
        mask, dropped = _read_result(result)
        return json.loads(event_json)["input"], mask, dropped


def _read_result(result: Any) -> tuple[list[Any], bool]:
    """The policy's `mask` and `drop`, checked for shape."""
    if not isinstance(result, dict) or set(result) != {"mask", "drop"}:
        raise _MalformedError("the log policy's mask is undefined or not a set")
    mask, dropped = result["mask"], result["drop"]
    if not isinstance(mask, list):
        raise _MalformedError(f"mask is a {type(mask).__name__}, not a set")
    if not isinstance(dropped, bool):
        raise _MalformedError(f"drop is a {type(dropped).__name__}, not a boolean")
    return mask, dropped


def _apply(document: Any, mask: list[Any]) -> tuple[Any, list[str], list[str]]:
    """Apply `mask` to `document` (which this module owns); returns it and what was done."""
    erasures: list[_Pointer] = []
    upserts: list[tuple[_Pointer, Any]] = []
    for entry in mask:
        if isinstance(entry, str):
            erasures.append((_tokens(entry), entry))
        elif (
            isinstance(entry, dict)
            and set(entry) == {"op", "path", "value"}
            and entry["op"] == "upsert"
            and isinstance(entry["path"], str)
        ):
            upserts.append(((_tokens(entry["path"]), entry["path"]), entry["value"]))
        else:
            raise _MalformedError("a mask entry is neither a pointer nor an upsert")

    # Upserts first, parents before children: none changes an array's length, so every
    # pointer still means what it meant to the policy when the erasures are resolved.
    upserts.sort(key=lambda upsert: upsert[0][0])
    for (tokens, text), value in upserts:
        document = _upsert(document, tokens, value, text)

    # Erase deepest and highest-index first, so no removal shifts a location still to come.
    located: dict[_Steps, _Pointer] = {}
    for pointer in erasures:
        steps = _locate(document, pointer[0])
        if steps is not None:
            located.setdefault(steps, pointer)
    for steps in sorted(located, reverse=True):
        parent = document
        for step in steps[:-1]:
            parent = parent[step]
        del parent[steps[-1]]

    erased = [tokens for tokens, _ in located.values()]
    masked = sorted(
        text for (tokens, text), _ in upserts if not any(tokens[: len(e)] == e for e in erased)
    )
    return document, sorted(text for _, text in located.values()), masked


def _tokens(pointer: str) -> tuple[str, ...]:
    """The decoded reference tokens of a pointer into the event's request."""
    if not pointer.startswith(_ROOT):
        raise _MalformedError(f"pointer {pointer!r} does not start with {_ROOT}")
    tokens = pointer[len(_ROOT) :].split("/")
    if any(_BAD_ESCAPE.search(token) for token in tokens):
        raise _MalformedError(f"pointer {pointer!r} has a '~' not followed by 0 or 1")
    # RFC 6901 §4: "~1" before "~0", so that "~01" decodes to "~1".
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def _index(token: str, array: list[Any]) -> int | None:
    if _INDEX.fullmatch(token) and int(token) < len(array):
        return int(token)
    return None


def _locate(document: Any, tokens: tuple[str, ...]) -> _Steps | None:
    """Where `tokens` points in `document`, or None when nothing is there."""
    steps: list[str | int] = []
    node = document
    for token in tokens:
        if isinstance(node, dict) and token in node:
            steps.append(token)
            node = node[token]
        elif isinstance(node, list) and (index := _index(token, node)) is not None:
            steps.append(index)
            node = node[index]
        else:
            return None
    return tuple(steps)


def _upsert(document: Any, tokens: tuple[str, ...], value: Any, pointer: str) -> Any:
    """Set the member `tokens` points to, creating missing objects; a conflict is malformed."""
    node = document
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        if isinstance(node, dict):
            if last:
                node[token] = value
                break
            if token not in node:
                node[token] = {}
            node = node[token]
        elif isinstance(node, list) and (index := _index(token, node)) is not None:
            if last:
                node[index] = value
                break
            node = node[index]
        else:
            raise _MalformedError(f"upsert {pointer!r} goes through a value that is not an object")
    return document
