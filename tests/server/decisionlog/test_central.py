"""The central store's schema and appends, against a real PostgreSQL server."""

from __future__ import annotations

import json

import pytest

from quanze.server.decisionlog import records
from quanze.server.decisionlog.central import append, connect, row_of, tips
from quanze.server.decisionlog.central_schema import VERSION, migrate, require_current
from quanze.server.errors import QuanzeError


def _lines(count: int, *, start: int = 1, prev: str = records.GENESIS_HASH) -> list[bytes]:
    out = []
    for seq in range(start, start + count):
        month = 11 if seq % 2 else 12  # two monthly partitions
        record = {
            "type": "decision",
            "seq": seq,
            "timestamp": f"2026-{month:02d}-0{1 + seq % 9}T08:00:00.000000Z",
            "decision_id": f"d-{seq}",
            "rpc": "Check",
            "input": {
                "subject": {"id": "p-A1", "properties": {"role": "procurator"}},
                "action": {"name": "decision.prosecute"},
                "resource": {"id": "C-1001"},
            },
            "result": seq % 3 != 0,
            "reasons": [{"code": "within_power_list", "article": "六"}],
            "accountable": [{"subject_id": "p-A1", "article": "三十一"}],
            "bundles": {"quanze": {"revision": "abc123"}},
            "prev_hash": prev,
        }
        raw = records.dumps(record).encode()
        prev = records.line_hash(raw)
        out.append(raw)
    return out


def test_migrate_creates_the_versioned_schema_once(database_url: str) -> None:
    with connect(database_url) as conn:
        assert migrate(conn, applied_by="test") == list(range(1, VERSION + 1))
        assert migrate(conn, applied_by="test") == []
        require_current(conn)


def test_a_database_without_the_schema_is_refused_for_reading(database_url: str) -> None:
    with connect(database_url) as conn, pytest.raises(QuanzeError, match="logs ship"):
        require_current(conn)


def test_a_newer_schema_is_refused(database_url: str) -> None:
    with connect(database_url) as conn:
        migrate(conn, applied_by="test")
        conn.execute("INSERT INTO quanze.schema_version (version, applied_by) VALUES (99, 'x')")
        conn.commit()
        with pytest.raises(QuanzeError, match="version 99, newer"):
            migrate(conn, applied_by="test")


def test_appended_rows_keep_the_line_and_fill_the_indexed_columns(database_url: str) -> None:
    lines = _lines(6)
    with connect(database_url) as conn:
        migrate(conn, applied_by="test")
        tip = append(conn, "pod-a", "w0", [row_of(raw, f"f:{i}") for i, raw in enumerate(lines, 1)])
        assert (tip.stream, tip.first_seq, tip.last_seq, tip.records) == ("pod-a/w0", 1, 6, 6)
        assert tip.last_hash == records.line_hash(lines[-1])
        stored = conn.execute(
            "SELECT line, decision, articles, subject_id, tableoid::regclass::text "
            "FROM quanze.records ORDER BY seq"
        ).fetchall()
    assert [row[0].encode() for row in stored] == lines
    assert [row[1] for row in stored] == ["allow", "allow", "deny", "allow", "allow", "deny"]
    assert stored[0][2] == ["六", "三十一"]
    assert stored[0][3] == "p-A1"
    assert {row[4] for row in stored} == {"quanze.records_2026_11", "quanze.records_2026_12"}


def test_a_row_that_does_not_come_after_the_tip_is_refused_and_nothing_is_stored(
    database_url: str,
) -> None:
    lines = _lines(4)
    rows = [row_of(raw, f"f:{i}") for i, raw in enumerate(lines, 1)]
    with connect(database_url) as conn:
        migrate(conn, applied_by="test")
        append(conn, "pod-a", "w0", rows[:3])
        with pytest.raises(QuanzeError, match="seq 3 of stream pod-a/w0 does not come after seq 3"):
            append(conn, "pod-a", "w0", rows[2:])
        assert tips(conn)["pod-a/w0"].last_seq == 3
        count = conn.execute("SELECT count(*) FROM quanze.records").fetchone()
    assert count == (3,)


def test_the_decisions_view_gives_analysts_the_record_as_json(database_url: str) -> None:
    lines = _lines(2)
    with connect(database_url) as conn:
        migrate(conn, applied_by="test")
        append(conn, "pod-a", "w0", [row_of(raw, "f") for raw in lines])
        found = conn.execute(
            "SELECT record->'input'->'subject'->>'id', record FROM quanze.decisions WHERE seq = 2"
        ).fetchone()
    assert found is not None
    assert found[0] == "p-A1"
    assert found[1] == json.loads(lines[1])


def test_a_line_that_is_not_a_record_is_refused_naming_where_it_was() -> None:
    with pytest.raises(
        QuanzeError, match=r"decisions-w0-000001\.jsonl:7: not a decision-log record"
    ):
        row_of(b'{"type": "decision"', "decisions-w0-000001.jsonl:7")


def test_a_bad_url_is_refused_with_the_form_to_use() -> None:
    with pytest.raises(QuanzeError, match="not a PostgreSQL URL"):
        connect("mysql://x")


def test_an_unreachable_database_is_named(postgres: object) -> None:
    with pytest.raises(QuanzeError, match="cannot connect to the decision-log database"):
        connect("postgresql://postgres@127.0.0.1:1/nothing")
