"""The one family of errors the sidecar raises; every one names what to fix."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from types import TracebackType

# What a guard around an engine call lets through: the process is stopping.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


class QuanzeError(Exception):
    """Base class of every error Quanze raises on purpose."""


class ConfigError(QuanzeError):
    """The configuration has one or more problems; all are listed at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{listing}")


class PolicyError(QuanzeError):
    """The policies cannot be loaded or compiled."""


class PolicySourceError(QuanzeError):
    """A revision of the policies cannot be had from its source (a directory or git)."""


class UnsignedRevisionError(PolicySourceError):
    """A git revision is unsigned or signed by a key that is not allowed; `revision` is its SHA."""

    def __init__(self, revision: str, message: str) -> None:
        self.revision = revision
        super().__init__(message)


class InvalidRequestError(QuanzeError):
    """A request is malformed; `field` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


def non_finite_number(field: str, value: float) -> InvalidRequestError:
    """JSON has no NaN or Infinity, so a request carrying one is invalid: say where."""
    shown = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return InvalidRequestError(field, f"{shown} is not a JSON number; send a finite number")


class EvaluationError(QuanzeError):
    """The engine failed to produce a well-formed decision."""


class EngineCallError(QuanzeError):
    """An engine call failed; `cause` is what it raised (regorus panics are BaseExceptions)."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(str(cause).strip() or type(cause).__name__)

    @property
    def kind(self) -> str:
        """The type name of what the engine raised, e.g. `PanicException`."""
        return type(self.cause).__name__


class _EngineGuard:
    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, (EngineCallError, *_PASS_THROUGH)):
            return
        raise EngineCallError(exc) from exc


_GUARD = _EngineGuard()


def engine_guard() -> _EngineGuard:
    """`with engine_guard():` turns anything an engine call raises into `EngineCallError`.

    regorus reports a panic as a BaseException, so a plain `except Exception` would let it
    crash the caller; this is the one place that knows it, and lets only a stopping process
    (KeyboardInterrupt, SystemExit, GeneratorExit) through. A plain class, not a generator
    context manager: it sits on every decision's path.
    """
    return _GUARD


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` naming the known name closest to a misspelt one, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
