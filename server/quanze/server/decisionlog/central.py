"""The central decision-log store: connecting, each stream's tip, appending records.

Many sidecars ship into one PostgreSQL database (`central_schema` defines it). A stream there is
named `<source>/<stream>`: the source names the sidecar (its host name by default; the pod name
in Kubernetes) and the stream its writer (`w0`, `w1`, …), so streams of different sidecars never
meet. Records are stored exactly as written — `line` is the record's line, whose UTF-8 bytes the
chain hashes — with the fields compliance filters on copied into indexed columns, computed by the
same code the file queries use (`query.answers_of`), so both answer alike.

`append` adds records to a stream under a lock on its row: seqs only grow, so a retried batch
never stores a record twice and a gap stays visible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from quanze.server.decisionlog import records
from quanze.server.decisionlog.central_schema import ensure_partitions, month_of
from quanze.server.decisionlog.query import Filters, answers_of
from quanze.server.errors import QuanzeError

_CONNECT_TIMEOUT_SECONDS = 10
_WHOLE_RECORD = Filters()


def check_url(url: str) -> None:
    """Raise `QuanzeError` unless `url` can name a PostgreSQL database."""
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise QuanzeError(
            f"--db {url!r} is not a PostgreSQL URL; write postgresql://USER@HOST:PORT/DATABASE "
            "(or a libpq connection string such as 'host=… dbname=…')"
        )


class ConnectError(QuanzeError):
    """The store could not be connected to; `reason` is the server's or libpq's word for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot connect to the decision-log database: {reason}")
        self.reason = reason


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection to the store at `url`; raises `ConnectError` saying why it failed."""
    check_url(url)
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            application_name="quanze",
            # A server that vanished without closing the connection (a network cut, a host
            # gone) is noticed within about a minute, not never: TCP keepalives while idle,
            # and a bound on how long sent data may stay unacknowledged (TCP only).
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            tcp_user_timeout=60_000,
        )
    except psycopg.Error as exc:
        raise ConnectError(one_line(exc)) from None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class Row:
    """One record ready for the store."""

    seq: int
    ts: datetime
    type: str
    line: str
    hash: str
    prev_hash: str
    origin: str
    """Where it was read from: `<file>:<line>`."""
    columns: tuple[Any, ...]
    """The indexed columns, in `COLUMNS` order."""


COLUMNS = (
    "decision_id",
    "rpc",
    "subject_id",
    "roles",
    "action",
    "resource_id",
    "decision",
    "reasons",
    "articles",
    "escalate_to",
    "revision",
)
_NO_COLUMNS: tuple[Any, ...] = (None,) * len(COLUMNS)


def row_of(raw: bytes, origin: str) -> Row:
    """A complete record line as a `Row`; raises `QuanzeError` if it is not a record."""
    try:
        line = raw.decode("utf-8")
        record = json.loads(line)
        seq, prev_hash, kind = record["seq"], record["prev_hash"], record["type"]
        moment = records.parse_timestamp(record["timestamp"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise QuanzeError(
            f"{origin}: not a decision-log record ({one_line(exc)}); `quanze logs verify` on the "
            "directory says what happened to it"
        ) from None
    if not isinstance(seq, int) or not isinstance(prev_hash, str) or not isinstance(kind, str):
        raise QuanzeError(f"{origin}: a record needs an integer seq and text type and prev_hash")
    return Row(
        seq=seq,
        ts=moment,
        type=kind,
        line=line,
        hash=records.line_hash(raw),
        prev_hash=prev_hash,
        origin=origin,
        columns=columns_of(record) if kind == records.DECISION else _NO_COLUMNS,
    )


def columns_of(record: dict[str, Any]) -> tuple[Any, ...]:
    """The indexed columns of a decision record: its whole-record answer (a listing is one
    answer with action `*` and decision `list`), as the file queries see it."""
    (answer,) = answers_of(record, _WHOLE_RECORD)
    return (
        answer.decision_id,
        answer.rpc,
        answer.subject,
        list(answer.roles),
        answer.action,
        answer.resource,
        answer.decision,
        list(answer.reasons),
        list(answer.articles),
        answer.escalate,
        answer.revision,
    )


@dataclass(frozen=True)
class Tip:
    """What the store holds of a stream: its first and last seq and the last record's hash."""

    stream: str
    first_seq: int
    last_seq: int
    last_hash: str
    records: int


def tips(conn: psycopg.Connection, source: str | None = None) -> dict[str, Tip]:
    """Every stream's tip (of one source, if given), by stream name."""
    query = "SELECT stream, first_seq, last_seq, last_hash, records FROM quanze.streams"
    rows = (
        conn.execute(query + " WHERE source = %s", (source,)).fetchall()
        if source is not None
        else conn.execute(query).fetchall()
    )
    return {row[0]: Tip(*row) for row in rows}


def append(conn: psycopg.Connection, source: str, local_stream: str, rows: Sequence[Row]) -> Tip:
    """Append `rows` (in seq order) to `<source>/<local_stream>` in one transaction; returns
    the new tip. Raises `QuanzeError` if a row does not come after what the store holds."""
    stream = f"{source}/{local_stream}"
    with conn.transaction():
        held = conn.execute(
            "SELECT stream, first_seq, last_seq, last_hash, records FROM quanze.streams "
            "WHERE stream = %s FOR UPDATE",
            (stream,),
        ).fetchone()
        tip = Tip(*held) if held else None
        last = tip.last_seq if tip else 0
        for row in rows:
            if row.seq <= last:
                raise QuanzeError(
                    f"{row.origin}: seq {row.seq} of stream {stream} does not come after seq "
                    f"{last}, which the database already holds"
                )
            last = row.seq
        if not rows:
            if tip is None:
                raise QuanzeError(f"nothing to append to stream {stream}")
            return tip
        ensure_partitions(conn, (month_of(row.ts) for row in rows))
        with conn.cursor().copy(
            "COPY quanze.records (stream, seq, ts, type, line, hash, prev_hash, origin, "
            + ", ".join(COLUMNS)
            + ") FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(
                    (
                        stream,
                        row.seq,
                        row.ts,
                        row.type,
                        row.line,
                        row.hash,
                        row.prev_hash,
                        row.origin,
                        *row.columns,
                    )
                )
        first = tip.first_seq if tip else rows[0].seq
        count = (tip.records if tip else 0) + len(rows)
        conn.execute(
            """INSERT INTO quanze.streams AS s
                   (stream, source, local_stream, first_seq, last_seq, last_hash, records,
                    shipped_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (stream) DO UPDATE SET last_seq = EXCLUDED.last_seq,
                   last_hash = EXCLUDED.last_hash, records = EXCLUDED.records,
                   shipped_at = EXCLUDED.shipped_at""",
            (stream, source, local_stream, first, rows[-1].seq, rows[-1].hash, count),
        )
        return Tip(stream, first, rows[-1].seq, rows[-1].hash, count)
