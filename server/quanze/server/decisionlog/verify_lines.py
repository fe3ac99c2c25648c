"""A stream's lines as `quanze logs verify` sees them: read once, in order, and parsed.

Every line of a stream's files (plain and gzip) becomes an `Entry`: a record, or a line that is
not one (garbage, a write cut short, damaged gzip data). The records the chain takes become
`Accepted`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import Progress, read_lines
from quanze.server.decisionlog.records import LogFile
from quanze.server.errors import QuanzeError

WINDOW = 32
"""Lines looked ahead to tell insertions, deletions, modifications and reorderings apart."""

# Line kinds.
RECORD = 0
GARBAGE = 1
PARTIAL = 2
DAMAGED = 3


class Entry:
    """One line of a stream as the chain follower sees it."""

    __slots__ = (
        "defect",
        "file",
        "hash",
        "kind",
        "line",
        "phys",
        "place",
        "prev_hash",
        "record",
        "seq",
        "skipped_at",
        "type",
    )

    def __init__(self, file: LogFile, line: int, phys: int, kind: int, defect: str = "") -> None:
        self.file = file
        self.line = line
        self.phys = phys
        """Position in the stream, counting every line."""
        self.kind = kind
        self.defect = defect
        self.hash = ""
        self.seq = 0
        self.prev_hash = ""
        self.type = ""
        self.record: dict[str, Any] | None = None
        """Kept for start and checkpoint records only (decisions need nothing more)."""
        self.skipped_at = -1
        """Accepted-record count when the chain passed over this line; -1 while not passed."""
        self.place = ""
        """In the central store: the row, `<stream> seq N` (`file` and `line` are its origin)."""

    @property
    def where(self) -> str:
        return self.place or f"{self.file.path.name}:{self.line}"


class Accepted:
    """A record taken into the chain: what the checks of the records after it need."""

    __slots__ = ("entry", "hash", "modified", "seq")

    def __init__(self, entry: Entry | None, seq: int, hash_: str, *, modified: bool) -> None:
        self.entry = entry
        """None for the virtual record before the first one (the genesis hash)."""
        self.seq = seq
        """The seq the chain gives it (a modified `seq` field is not believed)."""
        self.hash = hash_
        self.modified = modified
        """Its hash is known not to be the original: the next chain link fails because of it."""

    @property
    def where(self) -> str:
        return self.entry.where if self.entry is not None else "the beginning"

    def is_checkpoint(self, reason: str) -> bool:
        return (
            self.entry is not None
            and self.entry.type == records.CHECKPOINT
            and self.entry.record is not None
            and self.entry.record.get("reason") == reason
        )


def stream_entries(files: list[LogFile], progress: Progress) -> Iterator[Entry]:
    """Every line of a stream's files, parsed; a damaged gzip file ends in a `DAMAGED` entry."""
    phys = 0
    for log_file in files:
        number = 0
        try:
            for line in read_lines(log_file, progress):
                number = line.number
                phys += 1
                yield _parse(line.raw, log_file, number, phys, complete=line.complete)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            phys += 1
            yield Entry(log_file, number + 1, phys, DAMAGED, f"its gzip data is damaged: {exc}")
        except OSError as exc:
            raise QuanzeError(
                f"cannot read {log_file.path}: {exc.strerror or exc}; check its permissions"
            ) from exc


def _parse(raw: bytes, log_file: LogFile, number: int, phys: int, *, complete: bool) -> Entry:
    if not complete:
        return Entry(log_file, number, phys, PARTIAL, "the line has no newline")
    return parse_line(raw, log_file, number, phys)[0]


def parse_line(
    raw: bytes, log_file: LogFile, number: int, phys: int
) -> tuple[Entry, dict[str, Any] | None]:
    """A complete line as an `Entry`, and the record it holds (None if it is not one)."""
    try:
        record = json.loads(raw.decode())  # str: json skips guessing the encoding of bytes
    except UnicodeDecodeError:
        return Entry(log_file, number, phys, GARBAGE, "not UTF-8"), None
    except ValueError:
        return Entry(log_file, number, phys, GARBAGE, "not JSON"), None
    if not isinstance(record, dict):
        return Entry(log_file, number, phys, GARBAGE, "not a JSON object"), None
    seq, prev_hash = record.get("seq"), record.get("prev_hash")
    if type(seq) is not int or seq < 1:
        return Entry(log_file, number, phys, GARBAGE, "no positive integer seq"), None
    if not isinstance(prev_hash, str):
        return Entry(log_file, number, phys, GARBAGE, "no prev_hash"), None
    entry = Entry(log_file, number, phys, RECORD)
    entry.hash = records.line_hash(raw)
    entry.seq = seq
    entry.prev_hash = prev_hash
    kind = record.get("type")
    entry.type = kind if isinstance(kind, str) else ""
    if entry.type != records.DECISION:
        entry.record = record
    if entry.type not in records.RECORD_TYPES:
        entry.defect = f"unknown record type {kind!r}"
    elif not isinstance(record.get("timestamp"), str):
        entry.defect = "no timestamp"
    elif entry.type == records.DECISION and not isinstance(record.get("decision_id"), str):
        entry.defect = "a decision record without a decision_id"
    return entry, record


def after_failed_write(entry: Entry) -> bool:
    """A start record saying a write failed: the writer went on from its last good record."""
    return (
        entry.type == records.START
        and entry.record is not None
        and entry.record.get("previous") == "write_failed"
    )
