"""The shipper's reading of a live log directory: from a byte offset in a file, across files.

Positions are offsets into a file's content as written (uncompressed), so a position stays
good when its file is gzipped meanwhile: a file listed plain is opened as the `.gz` it became.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import Progress
from quanze.server.decisionlog.records import LogFile
from quanze.server.decisionlog.tail import first_seq


@dataclass(frozen=True)
class FileLine:
    """One line of a file, as bytes without its newline, and where it ends."""

    file: str
    """The name of the file it was read from (plain or gzip)."""
    log_file: LogFile
    number: int
    """1-based line number within the file."""
    end: int
    """Bytes of the file's content up to and including this line."""
    raw: bytes
    complete: bool
    """False for a line without its newline: a write in progress, or a crash's remains."""


def lines_from(
    log_file: LogFile, offset: int = 0, number: int = 0, progress: Progress | None = None
) -> Iterator[FileLine]:
    """The lines of `log_file` after `offset` bytes (`number` lines); none if it is gone."""
    opened = _open(log_file)
    if opened is None:
        return
    name, raw, handle = opened
    try:
        if offset:
            handle.seek(offset)
        at = raw.tell()
        for chunk in handle:
            number += 1
            offset += len(chunk)
            if progress is not None:
                now = raw.tell()
                progress.advance(now - at)
                at = now
            complete = chunk.endswith(b"\n")
            yield FileLine(
                name, log_file, number, offset, chunk[:-1] if complete else chunk, complete
            )
    finally:
        handle.close()
        raw.close()


def _open(log_file: LogFile) -> tuple[str, IO[bytes], IO[bytes]] | None:
    """(name, raw file, line reader) of a file, or of the `.gz` it became; None when gone."""
    for path in log_file.as_found():
        try:
            raw = open(path.path, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            continue
        if path.compressed:
            return path.path.name, raw, gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
        return path.path.name, raw, raw
    return None


def first_seq_of(log_file: LogFile) -> int | None:
    """The seq of the file's first record; None if it holds none or is gone."""
    for candidate in log_file.as_found():
        try:
            return first_seq(candidate)
        except FileNotFoundError:
            continue
        except (OSError, EOFError, ValueError, KeyError):
            return None
    return None


def is_newest(log_file: LogFile) -> bool:
    """Whether `log_file` is still the newest file of its stream (looked up now)."""
    files = records.list_streams(log_file.path.parent).get(log_file.stream, [])
    return not any(f.number > log_file.number for f in files)
