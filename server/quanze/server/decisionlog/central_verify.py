"""`quanze logs verify --db`: prove the central store complete and untouched, or say where not.

Each stream's rows are read in seq order through a server-side cursor (constant memory) and
followed by the same chain follower and rules as the files (`verify_chain.StreamCheck`): the
same verdicts, kinds and messages. A row stands where its line stood: its origin (`FILE:LINE`,
where the shipper read it) gives the file boundaries the rules need, and a problem is located
as `<stream> seq N (shipped from FILE:LINE)`. Files are not the unit of the store, so a file
number missing between two rows is not a problem in itself: the chain says whether records
are missing.

The store adds copies a tamperer can edit without touching `line`, so the database is held to
more than the files are:

- every row's `seq`, `hash`, `prev_hash`, `type`, `ts` and indexed columns must be what its
  line says (`central.columns_of`): else `modified`, naming the columns (an edited `decision`
  would show SQL readers an allow where the record says deny);
- `quanze.streams` holds each stream's tip, written in the same transaction as its rows: rows
  after the tip were `inserted`, a tip beyond the last row means the tail was `truncated`,
  rows missing before `first_seq` were `deleted`, a tip whose hash is not the row's was
  `modified`, and a stream with rows but no tip (or a tip but no rows) is reported too.

A tail cut off together with its tip still chains: anchors from an earlier run catch it, as on
files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from quanze.server.clock import timestamp
from quanze.server.decisionlog import records
from quanze.server.decisionlog.central import COLUMNS, Tip, columns_of, tips
from quanze.server.decisionlog.central_read import source_of, stream_names
from quanze.server.decisionlog.central_schema import require_current
from quanze.server.decisionlog.reader import Progress, progress_stream
from quanze.server.decisionlog.records import LogFile, SignatureChecker
from quanze.server.decisionlog.verify_chain import StreamCheck
from quanze.server.decisionlog.verify_lines import RECORD, Entry, parse_line
from quanze.server.decisionlog.verify_report import (
    MAX_PROBLEMS,
    Findings,
    StreamSummary,
    VerifyReport,
    parse_anchor,
    seq_span,
)
from quanze.server.errors import QuanzeError

_FETCH = 2_000
"""Rows fetched from the server-side cursor at a time."""
_LISTED = 5
"""Rows after a stream's tip that are named (more are counted)."""


_ROWS = (
    f"SELECT seq, ts, type, line, hash, prev_hash, origin, {', '.join(COLUMNS)} "  # noqa: S608 - constant column names
    "FROM quanze.records WHERE stream = %s ORDER BY seq, ts"
)


class _EveryNumber:
    """File numbers in the store: all present (a file that held no records ships no rows)."""

    def __contains__(self, number: object) -> bool:
        return True


def verify_database(
    conn: psycopg.Connection,
    *,
    key_file: Path | None = None,
    anchors: Sequence[str] = (),
    progress: bool | None = None,
    sources: Sequence[str] = (),
) -> VerifyReport:
    """Verify every stream of the store (of `sources`, if given); raises `QuanzeError` if it
    cannot be read at all. `progress` (as for files) counts rows read of the rows held."""
    if conn.info.transaction_status == TransactionStatus.IDLE:
        # One snapshot: a shipper appending meanwhile must not look like rows after the tip.
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
    require_current(conn)
    parsed = [parse_anchor(text) for text in anchors]
    checker = SignatureChecker(key_file) if key_file is not None else None
    chosen = set(sources)
    held = {n: tip for n, tip in tips(conn).items() if not chosen or source_of(n) in chosen}
    names = sorted(set(stream_names(conn, sources)) | set(held))
    if not names and not parsed:
        raise QuanzeError(
            "the database holds no decision-log records"
            + (f" of source {', '.join(sources)}" if sources else "")
            + "; nothing to verify"
        )
    report = VerifyReport(None, database=_database_shown(conn))
    shown = Progress(
        sum(tip.records for tip in held.values()),
        "verifying",
        progress_stream(progress),
        unit="rows",
    )
    try:
        for stream in names:
            wanted = {a.seq: a.hash for a in parsed if a.stream == stream}
            rows = _StreamRows(conn, stream, held.get(stream), checker, wanted, progress=shown)
            report.add(rows.run())
    finally:
        shown.finish()
    report.missing_streams(parsed, "rows in the database")
    return report


def _database_shown(conn: psycopg.Connection) -> str:
    """The database's URL as connected, without a password."""
    info = conn.info
    return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"


class _StreamRows:
    """One stream's rows through the chain follower, plus the checks only a database needs."""

    def __init__(
        self,
        conn: psycopg.Connection,
        stream: str,
        tip: Tip | None,
        checker: SignatureChecker | None,
        anchors: dict[int, str],
        *,
        progress: Progress,
    ) -> None:
        self.conn = conn
        self.stream = stream
        self.tip = tip
        self.progress = progress
        summary = StreamSummary(stream)
        self.check = StreamCheck(summary, self.entries(), _EveryNumber(), checker, anchors)
        self.findings: Findings = self.check.findings
        self.files: dict[int, LogFile] = {}
        """The files rows were shipped from, by number."""
        self.rows = 0
        self.first_row: int | None = None
        self.last_row: Entry | None = None
        self.last_row_seq = 0
        self.edited: list[tuple[Entry, int, str]] = []
        """Rows whose columns are not what their line says (up to `MAX_PROBLEMS`)."""
        self.edited_more = 0

    def run(self) -> Findings:
        findings = self.check.run()
        for entry, seq, message in self.edited:
            findings.problem("modified", entry, seq, message)
        findings.summary.problems += self.edited_more  # counted, beyond the listed ones
        findings.omitted += self.edited_more
        findings.summary.files = len(self.files)
        self.check_tip()
        return findings

    def entries(self) -> Iterator[Entry]:
        """The stream's rows in seq order as the chain follower's lines, their columns checked
        against their lines on the way."""
        with self.conn.cursor(name="quanze_verify") as cursor:
            cursor.itersize = _FETCH
            cursor.execute(_ROWS, (self.stream,))
            for phys, row in enumerate(cursor, start=1):
                seq, line, origin = row[0], row[3], row[6]
                raw = line.encode()
                log_file, number = self.origin_of(origin)
                entry, record = parse_line(raw, log_file, number, phys)
                entry.place = f"{self.stream} seq {seq:,}"
                self.rows += 1
                self.progress.advance(1)
                self.findings.summary.bytes += len(raw) + 1
                if self.first_row is None:
                    self.first_row = seq
                self.last_row, self.last_row_seq = entry, seq
                if entry.kind == RECORD and record is not None:
                    self.check_columns(entry, seq, row, record)
                yield entry

    def origin_of(self, origin: str) -> tuple[LogFile, int]:
        """The file and line a row was shipped from (`FILE:LINE`). A file is known by its
        number: one shipped partly before it was gzipped and partly after is one file."""
        name, _, line = origin.rpartition(":")
        path = Path(name)
        parsed = records.parse_file_name(path) or LogFile(self.stream, 0, "", path)
        log_file = self.files.setdefault(parsed.number, parsed)
        return log_file, int(line) if line.isdigit() else 0

    def check_columns(
        self, entry: Entry, seq: int, row: tuple[Any, ...], record: dict[str, Any]
    ) -> None:
        """The row's copies of what its line says must be exactly that."""
        said: dict[str, Any] = {
            "seq": entry.seq,
            "ts": _moment(record.get("timestamp")),
            "type": entry.type,
            "hash": entry.hash,
            "prev_hash": entry.prev_hash,
        }
        stored = dict(zip(("seq", "ts", "type", "line", "hash", "prev_hash"), row, strict=False))
        if entry.type == records.DECISION:
            said.update(zip(COLUMNS, columns_of(record), strict=True))
        else:
            said.update(dict.fromkeys(COLUMNS))
        stored.update(zip(COLUMNS, row[7:], strict=True))
        wrong = [name for name, value in said.items() if stored[name] != value]
        if not wrong:
            return
        if len(self.edited) >= MAX_PROBLEMS:
            self.edited_more += 1
            return
        first = wrong[0]
        example = (
            f"{first}: the column says {_shown(stored[first])}, the line {_shown(said[first])}"
        )
        what = (
            "its line was changed after it was shipped (it no longer hashes to the row's hash)"
            if "hash" in wrong
            else "the columns were changed; SQL readers of them would be misled"
        )
        self.edited.append(
            (
                entry,
                seq,
                f"the row's {', '.join(wrong)} column{'s' if len(wrong) > 1 else ''} "
                f"disagree{'' if len(wrong) > 1 else 's'} with its line ({example}): {what}",
            )
        )

    def check_tip(self) -> None:
        """`quanze.streams` and the rows must agree on where the stream begins and ends."""
        tip, findings, last = self.tip, self.findings, self.last_row
        if tip is None:
            findings.problem(
                "inserted",
                None,
                self.first_row,
                f"stream {self.stream} has {self.rows:,} rows, but quanze.streams does not "
                "know it: they were not shipped by Quanze",
            )
            return
        if last is None or self.first_row is None:
            findings.problem(
                "deleted",
                None,
                tip.first_seq,
                f"quanze.streams says stream {self.stream} holds "
                f"{seq_span(tip.first_seq, tip.last_seq)}, but it has no rows: they were deleted",
            )
            return
        if self.first_row > tip.first_seq:
            findings.problem(
                "deleted",
                None,
                tip.first_seq,
                f"stream {self.stream} begins at seq {self.first_row:,}, but quanze.streams "
                f"says it holds records from seq {tip.first_seq:,}: "
                f"{seq_span(tip.first_seq, self.first_row - 1)} were deleted",
            )
        if self.last_row_seq < tip.last_seq:
            findings.problem(
                "truncated",
                last,
                self.last_row_seq + 1,
                f"stream {self.stream} ends at seq {self.last_row_seq:,}, but quanze.streams "
                f"says it holds records up to seq {tip.last_seq:,}: "
                f"{seq_span(self.last_row_seq + 1, tip.last_seq)} were cut off",
            )
        elif self.last_row_seq > tip.last_seq:
            self.report_after_tip(tip)
        elif last.hash != tip.last_hash:
            findings.problem(
                "modified",
                last,
                tip.last_seq,
                f"seq {tip.last_seq:,} is not the record shipped: quanze.streams says its hash "
                f"is {tip.last_hash[:16]}…, its line hashes to {last.hash[:16]}…",
            )

    def report_after_tip(self, tip: Tip) -> None:
        rows = self.conn.execute(
            "SELECT count(*) OVER (), seq, origin FROM quanze.records "
            "WHERE stream = %s AND seq > %s ORDER BY seq LIMIT %s",
            (self.stream, tip.last_seq, _LISTED),
        ).fetchall()
        for total, seq, origin in rows:
            log_file, number = self.origin_of(origin)
            entry = Entry(log_file, number, 0, RECORD)
            entry.place = f"{self.stream} seq {seq:,}"
            self.findings.problem(
                "inserted",
                entry,
                seq,
                f"a row after the stream's tip (quanze.streams says it ends at seq "
                f"{tip.last_seq:,}{'' if total == 1 else f'; {total:,} rows are after it'}): "
                "not shipped by Quanze",
            )


def _shown(value: Any) -> str:
    return repr(timestamp(value)) if isinstance(value, datetime) else repr(value)


def _moment(text: Any) -> datetime | None:
    try:
        return records.parse_timestamp(text) if isinstance(text, str) else None
    except ValueError:
        return None
