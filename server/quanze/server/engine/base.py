"""The engine interface: the decision service knows engines only through this."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from quanze.server.errors import non_finite_number
from quanze.server.policy.bundle import PolicyBundle


class DecisionEngine(Protocol):
    """Evaluates the policy's decision documents for one request.

    Implementations may be bound to the thread that built them; they raise
    `EvaluationError` for any failure and never return a partial answer.
    """

    def decide(self, request: Mapping[str, Any]) -> Any:
        """The raw `decision` document for the request's action."""

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        """The raw `decisions` document: every catalog action to its decision."""


EngineFactory = Callable[[PolicyBundle], DecisionEngine]


def input_json(request: Mapping[str, Any]) -> str:
    """The request as an engine's input document.

    Python writes NaN and Infinity, which no JSON reader (nor the engine) accepts: such a
    request is invalid (`InvalidRequestError` naming the field), not an evaluation error.
    """
    try:
        return json.dumps(request, ensure_ascii=False, allow_nan=False)
    except ValueError:
        found = _non_finite(request, "")
        if found is None:
            raise
        raise non_finite_number(*found) from None


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    if isinstance(value, Mapping):
        children: Any = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        children = ((f"{path}.{i}", v) for i, v in enumerate(value))
    else:
        return None
    for child_path, child in children:
        found = _non_finite(child, child_path)
        if found is not None:
            return found
    return None
