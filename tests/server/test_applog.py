"""The application log never stops what it reports on."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest
import structlog

from quanze.server import applog


def test_a_line_to_a_stderr_whose_reader_has_gone_is_dropped_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A supervisor whose stderr pipe is closed once could not stop on SIGTERM: its handler logs
    # before it sets the stop event, and the write raised BrokenPipeError.
    reader, writer = os.pipe()
    os.close(reader)
    broken = os.fdopen(writer, "w", buffering=1)  # line-buffered: each line is written at once
    monkeypatch.setattr(sys, "stderr", broken)
    applog.configure("info")
    try:
        with pytest.raises(BrokenPipeError):  # what writing a line there does
            broken.write("a line\n")
        structlog.get_logger("test").info("stopping_workers", signal="SIGTERM")
    finally:
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
        structlog.reset_defaults()
        with contextlib.suppress(BrokenPipeError):  # what it still holds cannot be written
            broken.close()
