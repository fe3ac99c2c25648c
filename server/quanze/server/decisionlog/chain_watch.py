"""The hash chain checked as a stream's lines go by, for the readers that do not verify.

`quanze logs query` and `quanze logs stats` read every line anyway; hashing each one and
comparing it with the next record's `prev_hash` and `seq` costs little and tells them whether
what they show still forms the chain its writer wrote. It finds records changed, removed,
inserted or reordered *inside* what was read; it does not check signatures, so a tail rewritten
with fresh hashes still chains: only `quanze logs verify --key` proves that (see verify.py).
A break is only located here; `quanze logs verify` tells what happened.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import Line

MAX_LISTED = 5
"""Breaks named in the report; more are counted."""

# The writer puts `type` and `seq` first and `prev_hash` last (`records.dumps`), so both are
# read from the bytes; lines written otherwise are parsed.
_HEAD = re.compile(rb'\{"type":"\w+","seq":(\d+),')
_TAIL = b'"prev_hash":"'
_TAIL_LENGTH = len(_TAIL) + 64 + len(b'"}')


@dataclass
class Breaks:
    """Where the chains of a scan's streams break."""

    count: int = 0
    listed: list[str] = field(default_factory=list)
    """The first `MAX_LISTED`, as `FILE:LINE (seq N does not chain to seq M)`."""

    def add(self, where: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(where)


class ChainWatch:
    """Follows one stream's chain: each record names the hash of the one before, seq + 1."""

    def __init__(self, breaks: Breaks) -> None:
        self._hash: str | None = None
        """The last record's hash; None at the stream's start, or after a file vanished."""
        self._seq = 0
        self._breaks = breaks

    def restart(self) -> None:
        """A file could not be read (retention removed it): the chain resumes after it."""
        self._hash = None

    def see(self, line: Line) -> None:
        """Take a complete line; one that is not a record is left to the scan to count."""
        link = _link(line.raw)
        if link is None:
            return
        seq, prev_hash = link
        if self._hash is not None and (prev_hash != self._hash or seq != self._seq + 1):
            self._breaks.add(
                f"{line.file.path.name}:{line.number} (seq {seq:,} does not chain to seq "
                f"{self._seq:,})"
            )
        self._hash = records.line_hash(line.raw)
        self._seq = seq


def _link(raw: bytes) -> tuple[int, str] | None:
    """A record line's `seq` and `prev_hash`, or None if it is not a record."""
    head = _HEAD.match(raw)
    tail = raw[-_TAIL_LENGTH:]
    if head is not None and tail.startswith(_TAIL) and tail.endswith(b'"}'):
        return int(head[1]), tail[len(_TAIL) : -2].decode("ascii", "replace")
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    seq, prev_hash = record.get("seq"), record.get("prev_hash")
    if type(seq) is not int or not isinstance(prev_hash, str):
        return None
    return seq, prev_hash
