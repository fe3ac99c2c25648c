"""The central decision-log store's SQL schema (PostgreSQL), created and migrated by Quanze.

Everything lives in the schema `quanze`; `quanze.schema_version` holds one row per migration
applied, so a database says which version it is at and `migrate` applies only what is missing,
in order, each in its own transaction, under an advisory lock (two shippers starting together
do not both migrate). A database at a newer version than this Quanze knows is refused: an older
tool must not write rows a newer schema would misread.

`quanze.records` is partitioned by month of the record's timestamp (`ts`); the partitions are
made as records arrive (`ensure_partitions`). The primary key is (stream, seq, ts) because a
partitioned table's keys must include the partition key; `quanze.streams` holds each stream's
tip and is locked while a batch is appended, so a (stream, seq) is never stored twice.
docs/decision-log.md ("The central store") documents every table and column for analysts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg

from quanze.server.errors import QuanzeError

SCHEMA = "quanze"
# Any number: taken with pg_advisory_xact_lock while migrating.
_MIGRATION_LOCK = 0x7175616E7A65  # "quanze"

# Each migration's statements; the list index + 1 is the version it brings the database to.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE quanze.streams (
            stream      text PRIMARY KEY,
            source      text NOT NULL,
            local_stream text NOT NULL,
            first_seq   bigint NOT NULL,
            last_seq    bigint NOT NULL,
            last_hash   text NOT NULL,
            records     bigint NOT NULL,
            shipped_at  timestamptz NOT NULL
        )""",
        """CREATE TABLE quanze.records (
            stream      text NOT NULL,
            seq         bigint NOT NULL,
            ts          timestamptz NOT NULL,
            type        text NOT NULL,
            line        text NOT NULL,
            hash        text NOT NULL,
            prev_hash   text NOT NULL,
            origin      text NOT NULL,
            decision_id text,
            rpc         text,
            subject_id  text,
            roles       text[],
            action      text,
            resource_id text,
            decision    text,
            reasons     text[],
            articles    text[],
            escalate_to text,
            revision    text,
            shipped_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (stream, seq, ts)
        ) PARTITION BY RANGE (ts)""",
        "CREATE INDEX records_ts ON quanze.records (ts)",
        # With the stream: `logs query --db` reads each stream by its own page queries, which
        # then read only that stream's entries, in seq order (docs/benchmarks.md).
        "CREATE INDEX records_subject ON quanze.records (subject_id, stream, seq)",
        "CREATE INDEX records_resource ON quanze.records (resource_id, stream, seq)",
        "CREATE INDEX records_decision_id ON quanze.records (decision_id)",
        "CREATE INDEX records_articles ON quanze.records USING gin (articles)",
        """CREATE VIEW quanze.decisions AS
            SELECT stream, seq, ts, decision_id, rpc, subject_id, roles, action, resource_id,
                   decision, reasons, articles, escalate_to, revision, line::jsonb AS record
            FROM quanze.records WHERE type = 'decision'""",
    ),
)
VERSION = len(MIGRATIONS)


def schema_version(conn: psycopg.Connection) -> int:
    """The version the database's schema is at (0: no Quanze schema yet)."""
    found = conn.execute("SELECT to_regclass('quanze.schema_version') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM quanze.schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: psycopg.Connection, *, applied_by: str) -> list[int]:
    """Bring the schema to `VERSION`; returns the versions applied (empty if it was there)."""
    if schema_version(conn) == VERSION:
        return []  # the common case, every shipper connect: no lock, no DDL
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS quanze.schema_version (
                version    integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now(),
                applied_by text NOT NULL
            )"""
        )
        current = schema_version(conn)
        if current > VERSION:
            raise QuanzeError(
                f"the database's decision-log schema is at version {current}, newer than the "
                f"{VERSION} this Quanze knows: upgrade Quanze before shipping to or reading it"
            )
        for version in range(current + 1, VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO quanze.schema_version (version, applied_by) VALUES (%s, %s)",
                (version, applied_by),
            )
            applied.append(version)
    return applied


def require_current(conn: psycopg.Connection) -> None:
    """Refuse to read a database whose schema is missing or not this Quanze's."""
    current = schema_version(conn)
    if current == 0:
        raise QuanzeError(
            "the database holds no Quanze decision log (no quanze.schema_version table): "
            "ship a log into it first (`quanze logs ship DIR --db URL`), or check the URL"
        )
    if current != VERSION:
        newer = current > VERSION
        raise QuanzeError(
            f"the database's decision-log schema is at version {current}, this Quanze reads "
            f"version {VERSION}: "
            + ("upgrade Quanze" if newer else "run `quanze logs ship` once to migrate it")
        )


def month_of(moment: datetime) -> tuple[int, int]:
    moment = moment.astimezone(UTC)
    return moment.year, moment.month


def partition_name(year: int, month: int) -> str:
    return f"records_{year:04d}_{month:02d}"


def ensure_partitions(conn: psycopg.Connection, months: Iterable[tuple[int, int]]) -> None:
    """Make the monthly partitions of `quanze.records` that `months` need and do not have yet
    (call it inside a transaction: the lock keeps two shippers from making the same one at
    once). Only a missing month takes the lock, which is held to commit: taken on every batch
    it would put every sidecar's appends in one queue."""
    wanted = sorted(set(months))
    names = [partition_name(year, month) for year, month in wanted]
    row = conn.execute(
        "SELECT array_agg(n) FROM unnest(%s::text[]) n WHERE to_regclass('quanze.' || n) IS NULL",
        (names,),
    ).fetchone()
    missing = set(row[0] or []) if row else set(names)
    if not missing:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK + 1,))
    for year, month in wanted:
        if partition_name(year, month) not in missing:
            continue
        after = (year + 1, 1) if month == 12 else (year, month + 1)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS quanze.{partition_name(year, month)} "
            f"PARTITION OF quanze.records FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00+00') "
            f"TO ('{after[0]:04d}-{after[1]:02d}-01 00:00+00')"
        )
