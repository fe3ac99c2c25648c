"""The tree-walking Engine alone, for `quanze policy test` and `eval` where the RVM cannot serve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import regorus

from quanze.server.engine.base import DecisionEngine, input_json
from quanze.server.engine.regorus_engine import RegorusEngine, parse_result
from quanze.server.errors import EngineCallError, EvaluationError, PolicyError, engine_guard
from quanze.server.policy.bundle import DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT, PolicyBundle
from quanze.server.policy.lint import parse_engine_error


def compiled_engine(policies: PolicyBundle) -> Any:
    """A tree-walking Engine holding `policies`; a module that does not compile is a PolicyError."""
    engine = regorus.Engine()
    try:
        with engine_guard():
            for name, source in policies.modules:
                engine.add_policy(name, source)
    except EngineCallError as exc:
        raise PolicyError(
            f"{policies.root} does not compile: {parse_engine_error(str(exc))}; "
            f"`quanze policy check {policies.root}` lists every problem"
        ) from exc
    engine.add_data_json(policies.data_json)
    return engine


class TreeWalkingEngine:
    """Decisions from regorus's tree-walking Engine alone, with print() output gathered.

    For policies the RVM cannot compile only because they call print(): `test` and `eval`
    keep working while such policies are being debugged (the sidecar refuses them).
    """

    def __init__(self, policies: PolicyBundle) -> None:
        self._engine = compiled_engine(policies)
        self._engine.set_gather_prints(True)

    def decide(self, request: Mapping[str, Any]) -> Any:
        return self._evaluate(DECISION_ENTRYPOINT, request)

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        return self._evaluate(DECISIONS_ENTRYPOINT, request)

    def take_prints(self) -> tuple[str, ...]:
        return tuple(self._engine.take_prints())

    def _evaluate(self, entrypoint: str, request: Mapping[str, Any]) -> Any:
        self._engine.set_input_json(input_json(request))
        try:
            with engine_guard():
                raw = self._engine.eval_rule_as_json(entrypoint)
        except EngineCallError as exc:
            raise EvaluationError(f"{entrypoint}: {exc}") from exc
        return parse_result(raw)


def serving_engine(policies: PolicyBundle) -> tuple[DecisionEngine, str]:
    """The sidecar's engine, or the tree-walking Engine and a warning when print() stops it."""
    try:
        return RegorusEngine(policies), ""
    except PolicyError as exc:
        if "Missing builtin function: print" not in str(exc):
            raise
    return TreeWalkingEngine(policies), (
        "warning: these policies call print(), which the compiled RVM lacks: the sidecar "
        "would refuse them. Answering with the tree-walking Engine; remove print() before "
        "serving (quanze policy check lists the calls)."
    )
