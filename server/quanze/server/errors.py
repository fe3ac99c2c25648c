"""The one family of errors the sidecar raises; every one names what to fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Exceptions a catch-all around an engine call must let through: the process is stopping.
PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


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


class EvaluationError(QuanzeError):
    """The engine failed to produce a well-formed decision."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` naming the known name closest to a misspelt one, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
