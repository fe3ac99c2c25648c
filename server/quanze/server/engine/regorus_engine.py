"""regorus behind the engine interface: the compiled RVM serves, the tree-walking Engine backs it.

Facts that shape this module (shared notes, rego-engines.md):
- `Engine`, `Program` and `Rvm` are bound to the thread that created them; touching one from
  another thread raises `pyo3_runtime.PanicException`, a `BaseException`. We check the thread
  ourselves first so misuse is an `EvaluationError`, never a panic.
- The RVM stops after a fixed instruction budget; any RVM failure re-evaluates on the `Engine`,
  so the budget can never become an answer.
- Sets of objects cannot cross into Python: results are taken as JSON; undefined comes back as
  the string "<undefined>".
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

import regorus
import structlog

from quanze.server.errors import EngineCallError, EvaluationError, PolicyError, engine_guard
from quanze.server.policy.bundle import DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT, PolicyBundle

UNDEFINED = "<undefined>"
_ENTRYPOINTS = [DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT]

# Rust backtraces bloat every engine error message; the sidecar never wants them.
os.environ.pop("RUST_BACKTRACE", None)

log = structlog.get_logger("quanze.engine")


class RegorusEngine:
    """One revision of the policies, compiled for the thread that builds this object."""

    def __init__(self, bundle: PolicyBundle, *, fast_path: bool = True) -> None:
        self._thread = threading.get_ident()
        self._engine = regorus.Engine()
        try:
            with engine_guard():
                for name, source in bundle.modules:
                    self._engine.add_policy(name, source)
                self._engine.add_data_json(bundle.data_json)
                # Compiling the RVM program rejects unsafe variables, unknown functions and
                # recursion up front, with file:line:col, which the lazy Engine would not.
                program = regorus.Program.compile_from_modules(
                    bundle.data_json, list(bundle.modules), _ENTRYPOINTS
                )
        except EngineCallError as exc:
            raise PolicyError(f"policies at {bundle.root} do not compile:\n{exc}") from exc
        self._rvm: Any = None
        if fast_path:
            self._rvm = regorus.Rvm()
            self._rvm.load_program(program)
            self._rvm.set_data_json(bundle.data_json)
        self.fallbacks = 0

    def decide(self, request: Mapping[str, Any]) -> Any:
        return self._evaluate(DECISION_ENTRYPOINT, request)

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        # Deciding every catalog action always exceeds the RVM's instruction budget, so trying
        # it first would only add its cost to every call: go straight to the Engine.
        return self._evaluate(DECISIONS_ENTRYPOINT, request, fast_path=False)

    def _evaluate(
        self, entrypoint: str, request: Mapping[str, Any], *, fast_path: bool = True
    ) -> Any:
        if threading.get_ident() != self._thread:
            raise EvaluationError(
                "the engine was used from a thread other than the one that built it"
            )
        input_json = json.dumps(request, ensure_ascii=False)
        if fast_path and self._rvm is not None:
            try:
                with engine_guard():
                    self._rvm.set_input_json(input_json)
                    return parse_result(self._rvm.execute_entry_point(entrypoint))
            except EngineCallError as exc:
                # Expected for large evaluations (e.g. a whole catalog with many rules firing).
                self.fallbacks += 1
                log.debug("rvm_fallback", entrypoint=entrypoint, error=str(exc).splitlines()[0])
        try:
            with engine_guard():
                self._engine.set_input_json(input_json)
                return parse_result(self._engine.eval_rule_as_json(entrypoint))
        except EngineCallError as exc:
            raise EvaluationError(f"{entrypoint}: {exc}") from exc


def parse_result(result_json: str) -> Any:
    """An engine's JSON result; undefined (the policy decided nothing) is an `EvaluationError`."""
    value = json.loads(result_json)
    if value == UNDEFINED:
        raise EvaluationError("the policy's decision is undefined for this input")
    return value
