"""What a writer (re)starting a stream finds at its end: where the chain stands, a line a crash
cut short, the retention the last checkpoint signed; and the first seq of a file (retention)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import read_lines
from quanze.server.decisionlog.records import LogFile


@dataclass
class TailScan:
    """What a restarting writer needs from the end of its stream."""

    last: tuple[bytes, dict[str, Any]] | None = None
    partial: dict[str, Any] | None = None
    retained_from_seq: int = 1


def scan_tail(files: list[LogFile]) -> TailScan:
    """The last complete record, a trailing partial line, and the last checkpoint's retention.

    Walks back from the newest file until it has seen a record and a checkpoint: a crash just
    after rotation leaves an empty newest file, which must not restart the chain.
    """
    scan = TailScan()
    checkpoint_seen = False
    for log_file in reversed(files):
        last, checkpoint = None, None
        for line in read_lines(log_file):
            if not line.complete:
                if scan.last is None and scan.partial is None:
                    scan.partial = {"file": log_file.path.name, "line": line.number}
                break
            record = _parse(line.raw)
            if record is not None:
                last = (line.raw, record)
                if record.get("type") == records.CHECKPOINT:
                    checkpoint = record
        if scan.last is None and last is not None:
            scan.last = last
        if checkpoint is not None and not checkpoint_seen:
            checkpoint_seen = True
            scan.retained_from_seq = int(checkpoint.get("retained_from_seq", 1) or 1)
        if scan.last is not None and checkpoint_seen:
            break
    return scan


def first_seq(log_file: LogFile) -> int | None:
    for line in read_lines(log_file):
        record = _parse(line.raw)
        return None if record is None else int(record["seq"])
    return None


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A record with an integer `seq`, or None for anything else."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if isinstance(record, dict) and isinstance(record.get("seq"), int):
        return record
    return None
