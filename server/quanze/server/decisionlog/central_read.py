"""Reading the central store for `quanze logs query --db`: the same matches as on the files.

The answers are the files' by construction: SQL only narrows (on the indexed columns, which
`central.columns_of` fills from each record's whole-record answer) to a superset of the rows
that can match, and every row it returns goes through `query.match_of`, the code that decides
on files. Each stream is read in seq order, a page at a time (keyset paging on (seq, ts)), and
the streams are interleaved by `query.merged` as files are: memory holds one page per stream,
however many rows the store has.

What SQL narrows, and why it is a superset:
- `--action`: the action column, or any whole-call listing (decision `list`), which answers
  actions it does not name;
- `--decision`: also the listings, whose answers are allow/deny only per asked action;
- `--decision-id`: the ids as given and their call part (`<call>#<action>`);
- `--revision`: a prefix (`starts_with`); the other filters compare the column with the value.

The chain is checked where the rows are: each matching row's line must say the row's seq, and
hash to the `prev_hash` of the row after it (one index probe per match, not a full scan); a
missing successor before the stream's tip is a break too. Breaks are located as
`<stream> seq N`, like `FILE:LINE` on files; `quanze logs verify --db` says what happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from quanze.server.decisionlog import records
from quanze.server.decisionlog.central import tips
from quanze.server.decisionlog.central_schema import require_current
from quanze.server.decisionlog.chain_watch import MAX_LISTED, Breaks
from quanze.server.decisionlog.query import (
    LIST_RPCS,
    Filters,
    Match,
    ScanCounts,
    match_of,
    merged,
)
from quanze.server.decisionlog.stats import NONE, STATS_DIMENSIONS, Stats
from quanze.server.errors import QuanzeError

_BUFFERED_ROWS = 10_000
"""Rows held at once across all streams (one page each): memory stays bounded."""
_MIN_PAGE = 50
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


# Filters whose values a column holds as such (`= ANY`), or among its values (`&&`).
_EQUALS = (
    ("rpcs", "rpc"),
    ("subjects", "subject_id"),
    ("resources", "resource_id"),
    ("escalations", "escalate_to"),
)
_OVERLAPS = (("roles", "roles"), ("articles", "articles"), ("reasons", "reasons"))


def narrowing(filters: Filters, *, exact: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions on `quanze.records r` that every row `filters` can match meets, and
    their parameters: a superset, which `match_of` then decides exactly; or, with `exact`
    (for filters that `counts_in_sql`), the matching rows themselves."""
    conditions = ["r.type = 'decision'"]
    params: list[Any] = []

    def add(condition: str, *values: Any) -> None:
        conditions.append(condition)
        params.extend(values)

    if filters.since is not None:
        add("r.ts >= %s", filters.since)
    if filters.until is not None:
        add("r.ts < %s", filters.until)
    for name, column in _EQUALS:
        if getattr(filters, name):
            add(f"r.{column} = ANY(%s)", sorted(getattr(filters, name)))
    for name, column in _OVERLAPS:
        if getattr(filters, name):
            add(f"r.{column} && %s::text[]", sorted(getattr(filters, name)))
    if filters.revisions:
        prefixes = " OR ".join("starts_with(r.revision, %s)" for _ in filters.revisions)
        add(f"({prefixes})", *filters.revisions)
    if filters.actions:
        # A listing answers actions it does not name (the ones it denies).
        add(
            "(r.action = ANY(%s) OR r.decision = 'list' OR r.rpc = ANY(%s))",
            list(filters.actions),
            list(LIST_RPCS),
        )
    if filters.decisions:
        # Without --action a listing answers `list`, which no --decision picks.
        listed = "" if exact else " OR r.decision = 'list'"
        add(f"(r.decision = ANY(%s){listed})", sorted(filters.decisions))
    if filters.decision_ids:
        ids = set(filters.decision_ids) | {i.partition("#")[0] for i in filters.decision_ids}
        add("r.decision_id = ANY(%s)", sorted(ids))
    return " AND ".join(conditions), params


def stream_names(conn: psycopg.Connection, sources: Sequence[str] = ()) -> list[str]:
    """Every stream with rows (of `sources`, if given), in the order files list theirs.

    Read from the rows themselves (a loose index scan, one probe per stream), not from
    `quanze.streams`, so that rows nobody registered are not passed over."""
    found = conn.execute(
        """WITH RECURSIVE s(stream) AS (
               (SELECT stream FROM quanze.records ORDER BY stream LIMIT 1)
               UNION ALL
               SELECT (SELECT r.stream FROM quanze.records r WHERE r.stream > s.stream
                       ORDER BY r.stream LIMIT 1)
               FROM s WHERE s.stream IS NOT NULL)
           SELECT stream FROM s WHERE stream IS NOT NULL"""
    ).fetchall()
    names = sorted(row[0] for row in found)  # Python's order, as files sort: not the collation's
    if sources:
        wanted = set(sources)
        names = [n for n in names if source_of(n) in wanted]
    return names


def source_of(stream: str) -> str:
    """The sidecar part of `<source>/<local stream>`."""
    return stream.rpartition("/")[0]


def scan_database(
    conn: psycopg.Connection,
    filters: Filters,
    counts: ScanCounts,
    *,
    merge: bool = True,
    sources: Sequence[str] = (),
) -> Iterator[Match]:
    """The matching decision records of the store, as `query.scan` yields them from files:
    each stream in seq order, with `merge` interleaved in time order across streams."""
    require_current(conn)
    names = stream_names(conn, sources)
    reading = _Reading(
        conn,
        filters,
        counts,
        last_seqs={name: tip.last_seq for name, tip in tips(conn).items()},
        page=max(_MIN_PAGE, _BUFFERED_ROWS // max(1, len(names))),
    )
    return merged([reading.stream(name) for name in names], merge=merge)


class _Reading:
    """One scan of the store: reads streams a page at a time and checks their chain."""

    def __init__(
        self,
        conn: psycopg.Connection,
        filters: Filters,
        counts: ScanCounts,
        *,
        last_seqs: dict[str, int],
        page: int,
    ) -> None:
        self.conn = conn
        self.filters = filters
        self.counts = counts
        self.last_seqs = last_seqs
        self.page = page
        where, self.params = narrowing(filters)
        # The prev_hash of the row after each one: duplicates of a seq (inserted rows) too.
        successors = (
            "ARRAY(SELECT n.prev_hash FROM quanze.records n "
            "WHERE n.stream = r.stream AND n.seq = r.seq + 1)"
            if counts.breaks is not None
            else "NULL"
        )
        self.statement = (
            f"SELECT r.seq, r.ts, r.line, {successors} FROM quanze.records r "  # noqa: S608 - our own fragments; every value is a parameter
            f"WHERE r.stream = %s AND (r.seq, r.ts) > (%s, %s) AND {where} "
            "ORDER BY r.seq, r.ts LIMIT %s"
        )

    def stream(self, stream: str) -> Iterator[Match]:
        """The matches of one stream, in seq order."""
        after: tuple[int, datetime] = (0, _EARLIEST)
        counts = self.counts
        while True:
            rows = self.conn.execute(
                self.statement, (stream, *after, *self.params, self.page)
            ).fetchall()
            for seq, _, line, next_hashes in rows:
                counts.lines += 1
                raw = line.encode()
                match = match_of(raw, self.filters, counts)
                if match is None:
                    continue
                if counts.breaks is not None:
                    self.check_link(counts.breaks, stream, seq, match, next_hashes)
                yield match
            if len(rows) < self.page:
                return
            after = (rows[-1][0], rows[-1][1])

    def check_link(
        self, breaks: Breaks, stream: str, seq: int, match: Match, next_hashes: list[str]
    ) -> None:
        """A matching row's place in the chain: its own seq, and the row after it."""
        said = match.record.get("seq")
        if said != seq:
            breaks.add(_located(stream, seq, "seq", said))
        elif next_hashes:
            if records.line_hash(match.raw) not in next_hashes:
                breaks.add(_located(stream, seq, "chain", said))
        elif seq < self.last_seqs.get(stream, seq + 1):
            breaks.add(_located(stream, seq, "missing", said))


def _located(stream: str, seq: int, problem: str, said: Any) -> str:
    """Where the chain breaks at row `seq`, as the query's stderr warning lists it."""
    if problem == "seq":
        return f"{stream} seq {seq:,} (its line says seq {said})"
    if problem == "missing":
        return f"{stream} seq {seq + 1:,} (missing: the chain stops at seq {seq:,})"
    return f"{stream} seq {seq + 1:,} (does not chain to seq {seq:,})"


# ---------------------------------------------------------------------------- stats in SQL

# How `stats._keys` reads each dimension off an answer, as SQL on a row's columns (a row's
# columns are its whole-record answer): empty values count as `(none)`.
_SCALAR_KEYS = {
    "action": "r.action",
    "decision": "r.decision",
    "revision": "r.revision",
    "rpc": "r.rpc",
    "subject": "r.subject_id",
    "resource": "r.resource_id",
}
_ARRAY_KEYS = {
    "role": "r.roles",
    "article": "r.articles",
    "reason": "ARRAY(SELECT DISTINCT x FROM unnest(r.reasons) x)",
}
_UTC_DAY = "to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
_UTC_TIME = """to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def counts_in_sql(filters: Filters) -> bool:
    """Whether SQL alone gives what `Stats` counts from the matches: the filters must pick
    exactly the rows that match (not a superset), each with its whole-record answer.

    Not so when ListAllowedActions calls expand into one answer per asked action (--action,
    --decision-id), nor for an empty subject or resource id (the column holds "" for a
    missing one too)."""
    return not (
        filters.actions or filters.decision_ids or "" in filters.subjects or "" in filters.resources
    )


def database_stats(
    conn: psycopg.Connection,
    filters: Filters,
    dimensions: Sequence[str],
    counts: ScanCounts,
    *,
    sources: Sequence[str] = (),
) -> Stats:
    """What `Stats` counts over the store's matching answers: in one SQL aggregate where that
    is exact (`counts_in_sql`), else from the matches themselves."""
    unknown = sorted(set(dimensions) - set(STATS_DIMENSIONS))
    if unknown:  # they become SQL: only the known ones
        raise QuanzeError(f"cannot count by {', '.join(unknown)}: choose from {STATS_DIMENSIONS}")
    stats = Stats(tuple(dimensions))
    if not counts_in_sql(filters):
        for match in scan_database(conn, filters, counts, merge=False, sources=sources):
            stats.add(match)
        return stats
    require_current(conn)
    where, params = narrowing(filters, exact=True)
    if sources:
        where += " AND r.stream = ANY(%s)"
        params.append(stream_names(conn, sources))
    keys = " UNION ALL ".join(
        [
            "SELECT '$decision', r.decision",
            "SELECT '$escalated', CASE WHEN r.escalate_to <> '' THEN 'yes' ELSE 'no' END",
            *(_keys_sql(dimension) for dimension in stats.dimensions),
        ]
    )
    first, last = _UTC_TIME % "min(r.ts)", _UTC_TIME % "max(r.ts)"
    statement = f"SELECT d.dim, d.key, count(*), {first}, {last} FROM quanze.records r "  # noqa: S608 - our own fragments; every value is a parameter
    statement += f"CROSS JOIN LATERAL ({keys}) d(dim, key) WHERE {where} GROUP BY d.dim, d.key"
    rows = conn.execute(statement, params).fetchall()
    decided: Counter[str] = Counter()
    for dimension, key, count, first, last in rows:
        if dimension == "$decision":
            decided[key] += count
            stats.first = min(stats.first or first, first)
            stats.last = max(stats.last, last)
        elif dimension == "$escalated":
            stats.escalated += count if key == "yes" else 0
        else:
            stats.counts[dimension][key] += count
    # In SQL every row is one answer: its whole-record answer.
    stats.records = stats.answers = sum(decided.values())
    stats.allowed, stats.denied = decided["allow"], decided["deny"]
    stats.list_calls = decided["list"]
    counts.lines += stats.records
    if counts.breaks is not None:
        _breaks_in_sql(conn, counts.breaks, filters, (where, params), stats.records)
    return stats


def _keys_sql(dimension: str) -> str:
    """A SELECT of (dimension, key) for each key a row counts under, as `stats._keys` does."""
    if dimension in _ARRAY_KEYS:
        values = f"array_remove({_ARRAY_KEYS[dimension]}, '')"
        return (
            f"SELECT '{dimension}', k "  # noqa: S608 - our own fragments
            f"FROM unnest(coalesce(nullif({values}, '{{}}'), ARRAY['{NONE}'])) k"
        )
    value = {"day": _UTC_DAY, "escalate": "coalesce(nullif(r.escalate_to, ''), 'no')"}.get(
        dimension, _SCALAR_KEYS.get(dimension)
    )
    return f"SELECT '{dimension}', coalesce(nullif({value}, ''), '{NONE}')"


_HEAD_SEQ = """substring(r.line FROM '^[{]"type":"[a-z]+","seq":([0-9]+),')"""
_LINE_HASH = "encode(sha256(convert_to(r.line, 'UTF8')), 'hex')"
_NEXT = "SELECT FROM quanze.records n WHERE n.stream = c.stream AND n.seq = c.seq + 1"

# The chain check of `_Reading.check_link` in SQL, over the matching rows: a row's line must
# say its seq, and hash to the prev_hash of a row after it (there may be several: inserted
# copies), unless it is the last row before the stream's tip. Two ways to find the rows after:
# an index probe per matching row (few matches), or one pass in seq order over the rows that
# can be successors (`lead`, many matches: probes cost ~50 µs a row), probing only where the
# next row read is not seq + 1 (a gap, a duplicate, or a successor beyond the time bound).
_BREAKS = f"""SELECT count(*) OVER (), stream, seq, said, problem FROM (
    SELECT c.stream, c.seq, c.said,
        CASE
        WHEN c.said IS DISTINCT FROM c.seq::text THEN 'seq'
        WHEN c.next_seq = c.seq + 1 AND c.next_prev = c.line_hash THEN NULL
        WHEN EXISTS ({_NEXT} AND n.prev_hash = c.line_hash) THEN NULL
        WHEN EXISTS ({_NEXT}) THEN 'chain'
        WHEN t.last_seq IS NULL OR c.seq < t.last_seq THEN 'missing'
        END AS problem
    FROM (<rows>) c
    LEFT JOIN quanze.streams t ON t.stream = c.stream) checked
WHERE problem IS NOT NULL
ORDER BY stream COLLATE "C", seq LIMIT %s"""  # noqa: S608 - our own fragments; values are parameters
_PROBED = f"""SELECT r.stream, r.seq, {_HEAD_SEQ} AS said, {_LINE_HASH} AS line_hash,
        NULL::bigint AS next_seq, NULL::text AS next_prev
    FROM quanze.records r WHERE <where>"""  # noqa: S608 - our own fragments; values are parameters
_IN_ORDER = f"""SELECT * FROM (
        SELECT r.stream, r.seq, m.matched,
            CASE WHEN m.matched THEN {_HEAD_SEQ} END AS said,
            CASE WHEN m.matched THEN {_LINE_HASH} END AS line_hash,
            lead(r.seq) OVER s AS next_seq, lead(r.prev_hash) OVER s AS next_prev
        FROM quanze.records r CROSS JOIN LATERAL (SELECT <where> AS matched) m
        WHERE <bound>
        WINDOW s AS (PARTITION BY r.stream ORDER BY r.seq, r.ts)) w
    WHERE w.matched"""  # noqa: S608 - our own fragments; values are parameters
PROBE_BELOW = 0.05
"""The share of the store's rows under which matching rows are probed, not read in order."""
_SUCCESSOR_SLACK = timedelta(hours=1)
"""How far past --until the in-order pass reads for successors (later ones are probed)."""


def _breaks_in_sql(
    conn: psycopg.Connection,
    breaks: Breaks,
    filters: Filters,
    narrowed: tuple[str, list[Any]],
    matched: int,
) -> None:
    """Where the chain breaks at the `matched` rows `narrowed` selects: counted, the first
    few located."""
    where, params = narrowed
    total = conn.execute("SELECT coalesce(sum(records), 0)::bigint FROM quanze.streams").fetchone()
    if matched < PROBE_BELOW * (total[0] if total else 0):
        rows, rows_params = _PROBED.replace("<where>", where), params
    else:
        bound, bound_params = "TRUE", []
        if filters.since is not None:
            bound, bound_params = "r.ts >= %s", [filters.since]
        if filters.until is not None:
            bound += " AND r.ts < %s"
            bound_params.append(filters.until + _SUCCESSOR_SLACK)
        rows = _IN_ORDER.replace("<where>", where).replace("<bound>", bound)
        rows_params = [*params, *bound_params]
    found = conn.execute(_BREAKS.replace("<rows>", rows), [*rows_params, MAX_LISTED]).fetchall()
    for _, stream, seq, said, problem in found:
        breaks.add(_located(stream, seq, problem, said))
    if found:
        breaks.count = found[0][0]
