"""Streaming reads of a decision-log directory: line by line, across rotated and gzip files.

Memory stays constant whatever the size of the log: one line is held at a time.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from quanze.server.decisionlog.records import LogFile, list_streams
from quanze.server.errors import QuanzeError


@dataclass(frozen=True)
class Line:
    """One line of a log file, as bytes without its newline."""

    file: LogFile
    number: int
    """1-based line number within the file."""
    raw: bytes
    complete: bool
    """False for a last line with no newline: a write the writer never finished."""


class Progress:
    """Reports how much of the total is done on stderr, at most twice a second, for long runs:
    bytes read of files (`unit` "MB"), or rows read of the central store (`unit` "rows")."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, *, unit: str = "MB"
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self._stream = stream
        self._last = 0.0
        self._of = f"{total / 1e6:,.1f} MB" if unit == "MB" else f"{total:,} {unit}"

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self._stream is None:
            return
        now = time.monotonic()
        if now - self._last >= 0.5:
            self._last = now
            percent = min(100.0, 100.0 * self.done / self.total)
            self._stream.write(f"\r{self.label}: {percent:5.1f}% of {self._of}")
            self._stream.flush()

    def finish(self) -> None:
        if self._stream is not None and self._last:
            self._stream.write("\r" + " " * 60 + "\r")
            self._stream.flush()


def progress_for(files: list[LogFile], label: str, enabled: bool | None = None) -> Progress:
    """A `Progress` over `files`; shown when stderr is a terminal unless `enabled` says."""
    total = sum(f.path.stat().st_size for f in files if f.path.exists())
    return Progress(total, label, progress_stream(enabled))


def progress_stream(enabled: bool | None) -> TextIO | None:
    """Where progress goes: stderr when `enabled`, or (None) when stderr is a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    return sys.stderr if show else None


def read_lines(log_file: LogFile, progress: Progress | None = None) -> Iterator[Line]:
    """The lines of one file in order; a gzip file is decompressed as it streams."""
    with open(log_file.path, "rb") as raw_file:
        stream: IO[bytes] = (
            gzip.GzipFile(fileobj=raw_file) if log_file.compressed else raw_file  # type: ignore[assignment]
        )
        position = 0
        for number, chunk in enumerate(stream, start=1):
            if progress is not None:
                now = raw_file.tell()
                progress.advance(now - position)
                position = now
            complete = chunk.endswith(b"\n")
            yield Line(log_file, number, chunk[:-1] if complete else chunk, complete)


def log_directory(directory: str | Path) -> Path:
    """`directory` as a Path once it is one; raises `QuanzeError` naming what to give instead."""
    path = Path(directory)
    if not path.exists():
        raise QuanzeError(
            f"{directory} does not exist; give the decision-log directory "
            "(decision_log.directory in the configuration, or `quanze serve --decision-log`)"
        )
    if not path.is_dir():
        raise QuanzeError(f"{directory} is a file; give the directory that holds the log files")
    return path


def all_files(directory: Path) -> list[LogFile]:
    """Every log file in `directory`, stream by stream, each stream in order."""
    return [f for files in list_streams(directory).values() for f in files]
