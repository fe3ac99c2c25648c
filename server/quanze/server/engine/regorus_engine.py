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

import asyncio
import base64
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import regorus
import structlog

from quanze.server import metrics
from quanze.server.children import communicate_or_kill
from quanze.server.engine.base import input_json
from quanze.server.errors import EngineCallError, EvaluationError, PolicyError, engine_guard
from quanze.server.policy.bundle import DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT, PolicyBundle
from quanze.server.policy.routing import Routes, plan_routes, plan_routes_from_ast

UNDEFINED = "<undefined>"
_ENTRYPOINTS = [DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT]

# Rust backtraces bloat every engine error message; the sidecar never wants them.
os.environ.pop("RUST_BACKTRACE", None)

log = structlog.get_logger("quanze.engine")


class RegorusEngine:
    """One revision of the policies, compiled for the thread that builds this object."""

    def __init__(
        self,
        bundle: PolicyBundle,
        *,
        fast_path: bool = True,
        program: bytes | None = None,
        routes: Routes | None = None,
    ) -> None:
        for _ in self._build(bundle, fast_path, program, routes):
            pass

    @classmethod
    def in_steps(
        cls,
        bundle: PolicyBundle,
        *,
        fast_path: bool = True,
        program: bytes | None = None,
        routes: Routes | None = None,
    ) -> tuple[RegorusEngine, Iterator[None]]:
        """An engine and the steps that build it: run them all on the thread that will use it.

        Each step is one short call into regorus (one module, the data, loading `program`),
        which holds the GIL; a caller that serves between steps is held up by one step at most.
        `program` and `routes` are what `compile_program` made elsewhere; without them the
        compile, the longest call by far, is one step here, and so is planning the routes.
        """
        engine = cls.__new__(cls)
        return engine, engine._build(bundle, fast_path, program, routes)

    def _build(
        self,
        bundle: PolicyBundle,
        fast_path: bool,
        program: bytes | None,
        routes: Routes | None,
    ) -> Iterator[None]:
        self._thread = threading.get_ident()
        self.fallbacks = 0
        self._rvm: Any = None
        self._engine = regorus.Engine()
        self.routes = routes or Routes()
        try:
            for name, source in bundle.modules:
                with engine_guard():
                    self._engine.add_policy(name, source)
                yield
            with engine_guard():
                self._engine.add_data_json(bundle.data_json)
            yield
            if routes is None:
                with engine_guard():
                    self.routes = plan_routes_from_ast(self._engine.get_ast_as_json(), bundle.data)
                yield
            modules = _with_routes(bundle.modules, self.routes)
            if self.routes.module:
                with engine_guard():
                    self._engine.add_policy(*self.routes.module)
                yield
            compiled = None
            if program is not None and fast_path:
                compiled = load_program(program)
                yield
            if program is None or (fast_path and compiled is None):
                # Compiling the RVM program rejects unsafe variables, unknown functions and
                # recursion up front, with file:line:col, which the lazy Engine would not.
                with engine_guard():
                    compiled = regorus.Program.compile_from_modules(
                        bundle.data_json, modules, _entry_points(self.routes)
                    )
                yield
        except EngineCallError as exc:
            raise PolicyError(f"policies at {bundle.root} do not compile:\n{exc}") from exc
        if fast_path:
            if threading.get_ident() != self._thread:
                raise PolicyError("an engine's build steps ran on more than one thread")
            self._rvm = regorus.Rvm()
            self._rvm.load_program(compiled)
            self._rvm.set_data_json(bundle.data_json)

    def decide(self, request: Mapping[str, Any]) -> Any:
        action = request.get("action")
        name = action.get("name") if isinstance(action, Mapping) else None
        return self._evaluate(self.routes.entry_point(name), input_json(request))

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        """Every catalog action's answer, decided in parts (`Routes.listing`).

        One evaluation of the whole catalog exceeds the RVM's instruction budget; each part
        names its actions in `input.action.names`, which the policies decide alone. A part
        the RVM cannot finish is halved and tried again, and a single action it cannot finish
        goes to the Engine, so the budget only ever costs time.
        """
        if self._rvm is None or not self.routes.listing:
            return self._evaluate(DECISIONS_ENTRYPOINT, input_json(request))
        answers: dict[str, Any] = {}
        for names in self.routes.listing:
            answers.update(self._decide_part(request, names))
        return answers

    def _decide_part(self, request: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
        document = input_json({**request, "action": {"names": list(names)}})
        if len(names) > 1:
            try:
                decided = self._on_rvm(DECISIONS_ENTRYPOINT, document)
            except EngineCallError:
                half = len(names) // 2
                return {
                    **self._decide_part(request, names[:half]),
                    **self._decide_part(request, names[half:]),
                }
        else:
            decided = self._evaluate(DECISIONS_ENTRYPOINT, document)
        if not isinstance(decided, dict):
            raise EvaluationError(f"{DECISIONS_ENTRYPOINT} is not an object of answers")
        return {name: decided[name] for name in names if name in decided}

    def _evaluate(self, entrypoint: str, document: str) -> Any:
        """`entrypoint` for the input `document`: on the RVM, else on the Engine."""
        if self._rvm is not None:
            try:
                return self._on_rvm(entrypoint, document)
            except EngineCallError as exc:
                # Expected for large evaluations (e.g. many rules firing for one action).
                self.fallbacks += 1
                metrics.engine_fallback()
                log.debug("rvm_fallback", entrypoint=entrypoint, error=str(exc).splitlines()[0])
        self._check_thread()
        try:
            with engine_guard():
                self._engine.set_input_json(document)
                return parse_result(self._engine.eval_rule_as_json(entrypoint))
        except EngineCallError as exc:
            raise EvaluationError(f"{entrypoint}: {exc}") from exc

    def _on_rvm(self, entrypoint: str, document: str) -> Any:
        self._check_thread()
        with engine_guard():
            self._rvm.set_input_json(document)
            return parse_result(self._rvm.execute_entry_point(entrypoint))

    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise EvaluationError(
                "the engine was used from a thread other than the one that built it"
            )


def compile_program(data_json: str, modules: Sequence[tuple[str, str]]) -> tuple[bytes, Routes]:
    """The policies' per-action routes and RVM program, compiled and serialised."""
    routes = plan_routes(modules, json.loads(data_json))
    with engine_guard():
        program = regorus.Program.compile_from_modules(
            data_json, _with_routes(modules, routes), _entry_points(routes)
        )
        return bytes(program.serialize_binary()), routes


def _with_routes(modules: Sequence[tuple[str, str]], routes: Routes) -> list[tuple[str, str]]:
    """The serving modules, plus the generated module of per-action entry points if any."""
    return [*modules, routes.module] if routes.module else list(modules)


def _entry_points(routes: Routes) -> list[str]:
    return [*_ENTRYPOINTS, *routes.extra_entry_points]


def load_program(blob: bytes) -> Any:
    """A program `compile_program` serialised, for an `Rvm` of this thread; None if unreadable."""
    try:
        with engine_guard():
            program, partial = regorus.Program.deserialize_binary(blob)
    except EngineCallError as exc:
        log.warning("policy_program_unreadable", error=str(exc).splitlines()[0])
        return None
    if partial:
        log.warning("policy_program_unreadable", error="read only in part")
        return None
    return program


async def compile_elsewhere(
    bundle: PolicyBundle, *, timeout_s: float = 300.0
) -> tuple[bytes, Routes] | None:
    """`compile_program` in a child process, so the GIL-holding compile never stalls serving.

    None when the child fails for any reason: the caller then compiles here, which also
    reports a broken policy the usual way.
    """
    started = time.perf_counter()
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "quanze.server.engine.compile_child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:  # e.g. no processes or file descriptors left
        log.warning("policy_compile_child_failed", revision=bundle.revision, error=str(exc))
        return None
    request = json.dumps({"data_json": bundle.data_json, "modules": list(bundle.modules)})
    answer, error = await communicate_or_kill(child, request.encode(), timeout_s)
    try:
        decoded = json.loads(answer) if child.returncode == 0 else {}
        program = base64.b64decode(decoded["program"], validate=True)
        routes = Routes.from_json(decoded["routes"])
    except (ValueError, KeyError, TypeError) as exc:
        program, error = b"", error or f"unreadable answer: {exc}".encode()
    if child.returncode != 0 or not program:
        log.warning(
            "policy_compile_child_failed",
            revision=bundle.revision,
            exit=child.returncode,
            error=error.decode(errors="replace").strip()[-500:],
        )
        return None
    log.info(
        "policy_compiled_in_child",
        revision=bundle.revision,
        seconds=round(time.perf_counter() - started, 2),
        bytes=len(program),
        routes=len(routes.extra_entry_points),
    )
    return program, routes


def parse_result(result_json: str) -> Any:
    """An engine's JSON result; undefined (the policy decided nothing) is an `EvaluationError`."""
    value = json.loads(result_json)
    if value == UNDEFINED:
        raise EvaluationError("the policy's decision is undefined for this input")
    return value
