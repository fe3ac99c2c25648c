"""Application log: one JSON object per line on stderr, through structlog."""

from __future__ import annotations

import contextlib
import logging
import sys

import structlog


def configure(level: str = "info") -> None:
    """Route structlog to stderr as JSON lines at `level` and above."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # One write per line (message and newline together): worker processes share stderr,
        # and separate writes interleave mid-line.
        logger_factory=structlog.WriteLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured.

    A line that cannot be written (the reader of stderr has gone: a closed pipe) is dropped:
    logging must never stop what it reports on, such as a signal handler stopping the workers.
    """

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError):  # ValueError: a closed file object
            sys.stderr.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
