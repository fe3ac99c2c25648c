"""Records that never reached the log, as the log itself says: its checkpoints' counts.

A writer's owner counts the records it could not log (`sink.Counters`): `records_lost` in
`best_effort` mode, `records_refused` in `required` mode (their answers became denies). Every
checkpoint carries both counts since that writer started, so a stream's records between one
`start` record and the next (a writer's run) end with the run's totals in its last checkpoint.

The sum over runs of each run's last checkpoint is what the whole log lost. Within a period,
a run counts what its last checkpoint before the end says, less what its last checkpoint
before the start said: precise to a checkpoint (at most a minute by default).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from quanze.server.clock import timestamp
from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import read_lines
from quanze.server.decisionlog.records import LogFile

COUNTS = ("records_lost", "records_refused")
_MARKERS = (b'{"type":"start"', b'{"type":"checkpoint"')


@dataclass
class Losses:
    """Records lost (`best_effort`) and refused (`required`) over some writer runs."""

    records_lost: int = 0
    records_refused: int = 0
    runs: int = 0
    """Writer runs that counted (those with a checkpoint in the period)."""

    def add(self, other: Losses) -> None:
        self.records_lost += other.records_lost
        self.records_refused += other.records_refused
        self.runs += other.runs


class StreamLosses:
    """Follows one stream's start and checkpoint records, in seq order."""

    def __init__(self, since: datetime | None = None, until: datetime | None = None) -> None:
        self._since = timestamp(since) if since is not None else None
        self._until = timestamp(until) if until is not None else None
        self.total = Losses()
        self._before: dict[str, int] = {}
        self._last: dict[str, int] | None = None

    def see(self, record: Mapping[str, Any]) -> None:
        kind = record.get("type")
        if kind == records.START:
            self.end_run()
        elif kind == records.CHECKPOINT:
            stamp = str(record.get("timestamp", ""))
            if self._until is not None and stamp >= self._until:
                return
            counts = {name: _count(record.get(name)) for name in COUNTS}
            if self._since is not None and stamp < self._since:
                self._before = counts
            else:
                self._last = counts

    def end_run(self) -> Losses:
        """Close the current run (a start record or the stream's end); the running total."""
        if self._last is not None:
            lost, refused = (self._last[n] - self._before.get(n, 0) for n in COUNTS)
            self.total.add(Losses(max(lost, 0), max(refused, 0), 1))
        self._before, self._last = {}, None
        return self.total


def _count(value: Any) -> int:
    # A checkpoint written before these counts existed says nothing: zero.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def tally(
    streams: Iterable[Iterable[Mapping[str, Any]]],
    since: datetime | None = None,
    until: datetime | None = None,
) -> Losses:
    """The losses of streams, each given as its start and checkpoint records in seq order."""
    total = Losses()
    for stream in streams:
        follow = StreamLosses(since, until)
        for record in stream:
            follow.see(record)
        total.add(follow.end_run())
    return total


def losses_in_files(
    streams: Mapping[str, list[LogFile]],
    since: datetime | None = None,
    until: datetime | None = None,
) -> Losses:
    """`tally` over a log directory's streams (`records.list_streams`)."""
    return tally((_marked(files) for files in streams.values()), since, until)


def _marked(files: Iterable[LogFile]) -> Iterator[dict[str, Any]]:
    """A stream's start and checkpoint records; other lines are not parsed."""
    for log_file in files:
        try:
            for line in read_lines(log_file):
                if line.complete and line.raw.startswith(_MARKERS):
                    found = _parsed(line.raw)
                    if found is not None:
                        yield found
        except FileNotFoundError:
            continue  # removed by retention since it was listed


def _parsed(raw: bytes | str) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None  # damage: `quanze logs verify` reports it
    return record if isinstance(record, dict) else None


def losses_in_database(
    conn: Any,
    sources: Iterable[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Losses:
    """`tally` over the central store's streams (`central_schema`), of `sources` if given."""
    wanted = list(sources)
    query = "SELECT stream, line FROM quanze.records WHERE type IN ('start', 'checkpoint')"
    if wanted:
        query += " AND split_part(stream, '/', 1) = ANY(%s)"
    rows = conn.execute(query + " ORDER BY stream, seq", (wanted,) if wanted else ())
    streams = (
        (found for _, line in group if (found := _parsed(line)) is not None)
        for _, group in groupby(rows, key=itemgetter(0))
    )
    return tally(streams, since, until)
