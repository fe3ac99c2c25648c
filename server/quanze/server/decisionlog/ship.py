"""Shipping a decision-log directory into the central store (PostgreSQL), once and in order.

For each stream of the directory the database says what it holds (its tip: last seq and hash);
the shipper finds where the local files continue from there and appends the complete lines
after it, in batches, each in one transaction (`central.append`). The (stream, seq) key makes
delivery exactly-once: a batch retried after a lost acknowledgement is refused by the database
as already held, so after any failure the shipper re-reads the tips and continues from them.

The files are the buffer: nothing is held in memory but the batch in hand, and the position in
the files moves only after the database confirmed a commit. After each commit the stream's
`.shipped-<stream>.json` marker says how far it is shipped, for retention (`ship_marker`).

What is not shipped: a last line without its newline in a stream's newest file (a write in
progress: shipped once complete), and a line cut short by a crash and followed by more (it is
no record; the writer's next `start` record names it). A stream whose files do not continue the
chain the database holds under its name is refused: it is another log under the same name.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from quanze.server import __version__
from quanze.server.config import ShipConfig
from quanze.server.config import ship_source_problem as source_problem
from quanze.server.decisionlog import central, central_schema, records
from quanze.server.decisionlog.central import Row, Tip, one_line
from quanze.server.decisionlog.reader import Progress
from quanze.server.decisionlog.records import LogFile
from quanze.server.decisionlog.ship_files import FileLine, first_seq_of, is_newest, lines_from
from quanze.server.decisionlog.ship_marker import marker_path, write_marker
from quanze.server.errors import QuanzeError

BATCH_RECORDS = ShipConfig.batch_records
BATCH_BYTES = 1024 * 1024
POLL_SECONDS = 0.25
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
# While the database stays away, its state is logged again at most this often.
_REPEAT_SECONDS = 60.0
# Batches of one stream per pass, so a busy stream does not hold up the others.
_BATCHES_PER_PASS = 20
_SEQ = re.compile(rb'"seq":(\d+)')
# A server that answers but refuses the login for good (libpq gives no SQLSTATE for these).
_REFUSED_LOGIN = re.compile(
    r"FATAL:\s+(database .* does not exist|role .* does not exist|password authentication "
    r"failed|no pg_hba.conf entry|permission denied)"
)


# Where the shipper says what happens, as (level, event, message): text on stderr (the
# command) or JSON log lines (the shipper `serve` runs).
Reporter = Callable[[str, str, str], None]


@dataclass
class Position:
    """Where a stream's shipping stands: after `seq` (hash `hash`), which ends `offset` bytes
    (`line` lines) into file number `number` (uncompressed)."""

    number: int
    offset: int
    line: int
    seq: int
    hash: str
    seam: bool = False
    """The next record must continue the database's chain (checked once, then cleared)."""


@dataclass
class StreamReport:
    """What a run did for one stream."""

    name: str
    shipped: int = 0
    first: int | None = None
    last: int | None = None
    held: Tip | None = None
    refused: str = ""

    def summary(self) -> str:
        shipped = f"shipped {self.shipped:,} records"
        if self.shipped:
            shipped += f" (seq {self.first:,}..{self.last:,})"
        held = (
            f"the database holds seq {self.held.first_seq:,}..{self.held.last_seq:,}"
            if self.held
            else "the database holds none of it"
        )
        line = f"{self.name}: {shipped}; {held}"
        return f"{line}; REFUSED (see above)" if self.refused else line


@dataclass
class Outcome:
    streams: dict[str, StreamReport] = field(default_factory=dict)
    gave_up: str = ""
    """Why shipping stopped before all was shipped (the database stayed away)."""

    @property
    def ok(self) -> bool:
        return not self.gave_up and not any(s.refused for s in self.streams.values())


class _RefusedError(Exception):
    """This stream cannot be shipped under its name; the message says why."""


class _DatabaseAwayError(Exception):
    """The database cannot be reached or stopped answering mid-way."""


class Shipper:
    """Ships one directory's streams to the database at `url`, as `<source>/<stream>`."""

    def __init__(
        self,
        directory: Path,
        url: str,
        source: str,
        *,
        report: Reporter,
        batch_records: int = BATCH_RECORDS,
        progress: Progress | None = None,
    ) -> None:
        problem = source_problem(source)
        if problem:
            raise QuanzeError(f"--source {problem}")
        central.check_url(url)
        self.directory = directory
        self.source = source
        self._url = url
        self._report = report
        self._batch_records = batch_records
        self.stop = threading.Event()
        """Set: finish the batch in hand and return."""
        self.drain = threading.Event()
        """Set (with `follow`): return once caught up."""
        self._progress = progress
        self._conn: psycopg.Connection | None = None
        self._tips: dict[str, Tip] = {}
        self._positions: dict[str, Position] = {}
        self._said: set[str] = set()
        self._connected_once = False
        self._follow = False
        self.outcome = Outcome()

    # ------------------------------------------------------------------ running

    def run(self, *, follow: bool, retry_for: float | None = None) -> Outcome:
        """Ship until caught up (or, with `follow`, until `stop`; with `drain` set, until caught
        up); `retry_for` bounds how long the database may stay away (None: forever)."""
        self._follow = follow
        outage = _Outage(time.monotonic)
        try:
            while not self.stop.is_set():
                try:
                    if self._conn is None:
                        self._connect()
                    shipped = self._pass()
                except _DatabaseAwayError as exc:
                    self._disconnect()
                    delay = outage.failed(str(exc), retry_for, self._report)
                    if delay is None:
                        self.outcome.gave_up = (
                            f"the database stayed unreachable for {outage.waited():.0f} s "
                            f"({exc}); what is not shipped stays in the files: run `quanze logs "
                            "ship` again"
                        )
                        break
                    self.stop.wait(delay)
                    continue
                outage.over(self._report)
                if shipped:
                    continue
                if not follow or self.drain.is_set():
                    break
                self.stop.wait(POLL_SECONDS)
        finally:
            self._disconnect()
        for report in self.outcome.streams.values():
            report.held = self._tips.get(report.name)
        return self.outcome

    def _connect(self) -> None:
        try:
            conn = central.connect(self._url, autocommit=True)
        except central.ConnectError as exc:
            if _REFUSED_LOGIN.search(exc.reason) and not (self._follow or self._connected_once):
                raise  # a wrong user, password or database name: waiting will not help
            raise _DatabaseAwayError(exc.reason) from None
        self._connected_once = True
        self._conn = conn
        try:
            central_schema.migrate(conn, applied_by=f"quanze {__version__} ship {self.source}")
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise _DatabaseAwayError(one_line(exc)) from None
        self._tips = self._read_tips()
        # A commit may have landed though its acknowledgement was lost: the tips decide.
        for stream, position in list(self._positions.items()):
            tip = self._tips.get(self._name(stream))
            if tip is None or tip.last_seq != position.seq:
                del self._positions[stream]

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _name(self, stream: str) -> str:
        return f"{self.source}/{stream}"

    # ------------------------------------------------------------------ one pass

    def _pass(self) -> bool:
        """Ship some of every stream; whether anything was shipped."""
        shipped = False
        if self._follow and not self.directory.is_dir():
            return False  # the writers have not made it yet
        for stream, files in records.list_streams(self.directory).items():
            name = self._name(stream)
            report = self.outcome.streams.setdefault(stream, StreamReport(name))
            if report.refused or not files or self.stop.is_set():
                continue
            try:
                shipped |= self._ship_stream(stream, files, report)
            except _TipMovedError:
                shipped = True  # the next pass continues from the tip that moved
            except _RefusedError as exc:
                report.refused = str(exc)
                self._report("error", "decision_log_ship_refused", str(exc))
        return shipped

    def _ship_stream(self, stream: str, files: list[LogFile], report: StreamReport) -> bool:
        position = self._positions.get(stream)
        if position is None:
            position = self._locate(stream, files, self._tips.get(self._name(stream)))
            self._positions[stream] = position
        with contextlib.closing(self._lines(files, position)) as lines:
            return self._ship_lines(stream, lines, position, report)

    def _ship_lines(
        self, stream: str, lines: Iterator[FileLine], position: Position, report: StreamReport
    ) -> bool:
        shipped = False
        batch: list[Row] = []
        size = 0
        batches = 0
        end = position
        for line in lines:
            row = self._row(line)
            if row is None:
                continue
            end = self._check_order(stream, end, row, line)
            batch.append(row)
            size += len(line.raw)
            if len(batch) >= self._batch_records or size >= BATCH_BYTES:
                self._commit(stream, batch, end, report)
                shipped, batch, size, batches = True, [], 0, batches + 1
                if batches >= _BATCHES_PER_PASS or self.stop.is_set():
                    return True
        if batch:
            self._commit(stream, batch, end, report)
            shipped = True
        return shipped

    def _check_order(self, stream: str, before: Position, row: Row, line: FileLine) -> Position:
        """The position after `row`, once it may follow `before`; raises `_RefusedError` if not."""
        origin = row.origin
        if row.seq <= before.seq:
            raise _RefusedError(
                f"{self._name(stream)}: {self.directory / line.file}:{line.number} has seq "
                f"{row.seq} after seq {before.seq}: the stream's files are not one log "
                f"(`quanze logs verify {self.directory}` says what happened); it is not shipped "
                "past here"
            )
        linked = row.prev_hash == before.hash
        if before.seam and before.seq and row.seq == before.seq + 1 and not linked:
            raise self._different_log(stream, origin, f"(seq {row.seq:,}) does not link to")
        if row.seq > before.seq + 1:
            self._say_once(
                f"gap:{stream}:{row.seq}",
                "warning",
                "decision_log_ship_gap",
                f"{self._name(stream)}: seq {before.seq + 1:,}..{row.seq - 1:,} are not in "
                f"{self.directory} (removed before they were shipped?); shipping on from seq "
                f"{row.seq:,} at {origin}: the gap stays visible in the database",
            )
        return Position(line.log_file.number, line.end, line.number, row.seq, row.hash)

    def _commit(self, stream: str, batch: list[Row], end: Position, report: StreamReport) -> None:
        assert self._conn is not None  # noqa: S101 - connected before each pass
        try:
            tip = central.append(self._conn, self.source, stream, batch)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise _DatabaseAwayError(one_line(exc)) from None
        except QuanzeError:
            # Someone else appended to the stream meanwhile: continue from what it holds now.
            self._positions.pop(stream, None)
            self._tips = self._read_tips()
            raise _TipMovedError from None
        except psycopg.Error as exc:
            raise _RefusedError(
                f"{self._name(stream)}: the database refused seq {batch[0].seq}..{batch[-1].seq} "
                f"from {batch[0].origin}: {one_line(exc)}"
            ) from None
        self._tips[tip.stream] = tip
        self._positions[stream] = end
        report.shipped += len(batch)
        report.first = report.first if report.first is not None else batch[0].seq
        report.last = batch[-1].seq
        self._mark(stream, tip)

    def _read_tips(self) -> dict[str, Tip]:
        assert self._conn is not None  # noqa: S101 - connected before each pass
        try:
            return central.tips(self._conn, self.source)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise _DatabaseAwayError(one_line(exc)) from None

    def _mark(self, stream: str, tip: Tip) -> None:
        try:
            write_marker(
                self.directory, stream, seq=tip.last_seq, hash=tip.last_hash, shipped_to=tip.stream
            )
        except OSError as exc:
            self._say_once(
                f"marker:{stream}",
                "error",
                "decision_log_ship_marker_failed",
                f"cannot write {marker_path(self.directory, stream)} ({exc.strerror or exc}): "
                "retention keeps this stream's files until the marker can be written",
            )

    def _row(self, line: FileLine) -> Row | None:
        try:
            return central.row_of(line.raw, f"{line.file}:{line.number}")
        except QuanzeError as exc:
            self._say_once(
                f"unreadable:{line.file}:{line.number}",
                "error",
                "decision_log_ship_unreadable",
                f"{self.directory / line.file}:{line.number} is not shipped: {exc}",
            )
            return None

    def _say_once(self, key: str, level: str, event: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self._report(level, event, message)

    # ------------------------------------------------------------------ files

    def _locate(self, stream: str, files: list[LogFile], tip: Tip | None) -> Position:
        """Where the files continue from the database's tip; raises `_RefusedError` when they
        cannot (the local stream ends before it, or holds another record at its seq)."""
        if tip is None:
            return Position(files[0].number, 0, 0, 0, records.GENESIS_HASH)
        start = 0
        for index in range(len(files) - 1, -1, -1):
            first = first_seq_of(files[index])
            if first is not None and first <= tip.last_seq:
                start = index
                break
        else:
            self._mark(stream, tip)
            return Position(files[0].number, 0, 0, tip.last_seq, tip.last_hash, seam=True)
        before = Position(files[start].number, 0, 0, tip.last_seq, tip.last_hash, seam=True)
        with contextlib.closing(self._lines(files[start:], before, quiet=True)) as lines:
            found = self._find_tip(stream, lines, before, tip)
        if found is not None:
            self._mark(stream, tip)
            return found
        raise _RefusedError(
            f"{self._name(stream)}: the database holds seq {tip.first_seq:,}..{tip.last_seq:,} "
            f"of it, but the stream in {self.directory} ends before seq {tip.last_seq:,}: it is "
            f"a different log than the one the database holds under that name; ship it under a "
            f"source of its own (--source NAME; in serve, decision_log.ship.source)"
        )

    def _find_tip(
        self, stream: str, lines: Iterator[FileLine], before: Position, tip: Tip
    ) -> Position | None:
        """The position after the tip's record among `lines` (or before the first record past
        it, when the files lack it); None when they end before it."""
        for line in lines:
            match = _SEQ.search(line.raw)
            seq = int(match[1]) if match else None
            if seq is None or seq < tip.last_seq:
                continue
            if seq == tip.last_seq:
                if records.line_hash(line.raw) != tip.last_hash:
                    raise self._different_log(stream, f"{line.file}:{line.number}", "is not")
                return Position(line.log_file.number, line.end, line.number, seq, tip.last_hash)
            # A local gap around the tip: shipped from this record on, the gap warned of.
            start_of_line = line.end - len(line.raw) - 1
            return replace(
                before, number=line.log_file.number, offset=start_of_line, line=line.number - 1
            )
        return None

    def _different_log(self, stream: str, origin: str, finding: str) -> _RefusedError:
        tip = self._tips[self._name(stream)]
        return _RefusedError(
            f"{self._name(stream)}: {self.directory / origin} {finding} the record the database "
            f"holds at seq {tip.last_seq:,} (hash {tip.last_hash[:16]}…): the stream in "
            f"{self.directory} is a different log than the one the database holds under that "
            "name; ship it under a source of its own (--source NAME; in serve, "
            "decision_log.ship.source)"
        )

    def _lines(
        self, files: list[LogFile], position: Position, *, quiet: bool = False
    ) -> Generator[FileLine, None, None]:
        """The complete lines after `position`, file after file. A line without its newline
        ends the reading if its file is the stream's newest (a write in progress); else it is
        a crash's remains, skipped (and said once)."""
        progress = None if quiet else self._progress
        for log_file in files:
            if log_file.number < position.number:
                continue
            resume = log_file.number == position.number
            start = (position.offset, position.line) if resume else (0, 0)
            for line in lines_from(log_file, *start, progress=progress):
                if line.complete:
                    yield line
                elif is_newest(log_file):
                    return
                elif not quiet:
                    self._say_once(
                        f"partial:{line.file}:{line.number}",
                        "warning",
                        "decision_log_ship_partial_line",
                        f"{self.directory / line.file}:{line.number} is a line cut short (a crash "
                        "mid-write; the next start record names it): it is no record and is not "
                        "shipped",
                    )


class _Outage:
    """How long the database has been away, the back-off, and what was said of it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._since: float | None = None
        self._backoff = FIRST_BACKOFF_SECONDS
        self._said = ("", 0.0)

    def waited(self) -> float:
        return 0.0 if self._since is None else self._clock() - self._since

    def failed(self, problem: str, retry_for: float | None, report: Reporter) -> float | None:
        """The wait before the next attempt; None once `retry_for` is used up. Says so once
        per kind of failure (again at most every `_REPEAT_SECONDS` while it lasts)."""
        now = self._clock()
        if self._since is None:
            self._since, self._backoff = now, FIRST_BACKOFF_SECONDS
        left = None if retry_for is None else retry_for - (now - self._since)
        if left is not None and left <= 0:
            return None
        if problem != self._said[0] or now - self._said[1] >= _REPEAT_SECONDS:
            self._said = (problem, now)
            report(
                "warning",
                "decision_log_ship_database_unavailable",
                f"cannot reach the decision-log database ({problem}); retrying in "
                f"{self._backoff:.1f} s, with back-off (the files keep every record)",
            )
        delay = self._backoff if left is None else min(self._backoff, left)
        self._backoff = min(MAX_BACKOFF_SECONDS, self._backoff * 2)
        return delay

    def over(self, report: Reporter) -> None:
        """The database answered: say so if it had been away."""
        if self._since is not None:
            report(
                "info",
                "decision_log_ship_database_back",
                f"the decision-log database answers again after {self.waited():.1f} s; "
                "shipping goes on from its tips",
            )
            self._since, self._said = None, ("", 0.0)


class _TipMovedError(Exception):
    """Not an outage: a stream's tip moved under us; the next pass continues from it."""
