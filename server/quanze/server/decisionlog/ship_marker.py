"""How far each stream of a log directory is shipped to the central store: `.shipped-<stream>.json`.

The shipper writes the marker after each batch the database confirmed; the writer's retention
reads it and never removes a record above it (with shipping configured). The database is the
truth of what it holds — a shipper that died between a commit and the marker resumes from the
database — so a marker can only lag, which keeps files longer: the safe side. No marker, or one
that cannot be read, means nothing is shipped.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from quanze.server.clock import timestamp
from quanze.server.decisionlog import disk


def marker_path(directory: Path, stream: str) -> Path:
    """The marker of `stream`: hidden, and no decision-log file name (readers skip it)."""
    return directory / f".shipped-{stream}.json"


def shipped_seq(directory: Path, stream: str) -> int:
    """The last seq of `stream` the central store confirmed; 0 when none is known."""
    try:
        marker = json.loads(marker_path(directory, stream).read_text(encoding="utf-8"))
        seq = marker["seq"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else 0


def write_marker(directory: Path, stream: str, *, seq: int, hash: str, shipped_to: str) -> None:
    """Record that the store holds `stream` up to `seq` (atomically; raises `OSError`)."""
    target = marker_path(directory, stream)
    temporary = target.with_name(target.name + ".tmp")
    body = {"stream": stream, "seq": seq, "hash": hash, "shipped_to": shipped_to}
    body["updated"] = timestamp()
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(body) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    disk.sync_directory(directory)
