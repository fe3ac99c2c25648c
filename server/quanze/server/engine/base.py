"""The engine interface: the decision service knows engines only through this."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

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
