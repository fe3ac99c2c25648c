"""`quanze logs query|stats --db`: the central store answers as the files do.

The same log (two streams written at once by the real writer: Check, CheckBatch and
ListAllowedActions records, dropped and null inputs, several roles and articles) is read from
its directory and from a real PostgreSQL database it was loaded into; every output format of
both commands must be byte for byte the same, for a spread of filters. The database also holds
the same log under a second source, which `--source` leaves out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quanze.server import cli
from quanze.server.decisionlog.central import connect
from quanze.server.decisionlog.central_read import counts_in_sql, database_stats, scan_database
from quanze.server.decisionlog.query import Filters, ScanCounts
from quanze.server.decisionlog.stats import STATS_DIMENSIONS, Stats
from quanze.server.errors import QuanzeError
from tests.postgres import PostgresServer
from tests.server.decisionlog import support
from tests.server.decisionlog.test_query import CHINESE_SUBJECT, write_varied_log


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_varied_log(tmp_path_factory.mktemp("decision-log"), seed=11, per_stream=400)


@pytest.fixture(scope="module")
def db_url(postgres: PostgresServer, log_dir: Path) -> str:
    """A database holding the log twice: as shipped by pod-a, and by pod-b."""
    url = postgres.create_database()
    with connect(url) as conn:
        assert support.load_directory(conn, log_dir, "pod-a") == support.load_directory(
            conn, log_dir, "pod-b"
        )
    return url


def run(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> tuple[int, bytes, str]:
    code = cli.main(["logs", *argv])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def first_list_call(log_dir: Path) -> str:
    listing = next(
        r for r in support.records_in(log_dir, "decision") if r["rpc"] == "ListAllowedActions"
    )
    return str(listing["decision_id"])


FILTERS: list[list[str]] = [
    [],
    ["--subject", "u-3"],
    ["--subject", "u-3", "--subject", CHINESE_SUBJECT],
    ["--role", "department_head"],
    ["--case", "C-7", "--case", "C-8"],
    ["--decision", "deny"],
    ["--decision", "allow", "--decision", "deny"],
    ["--article", "十七"],
    ["--article", "十一", "--article", "五"],
    ["--reason", "not_handling_procurator"],
    ["--escalate", "committee"],
    ["--revision", "abc123"],
    ["--revision", "a"],
    ["--rpc", "CheckBatch"],
    ["--rpc", "ListAllowedActions"],
    ["--since", "2026-11-01T12:00", "--until", "2026-11-02T03:30"],
    ["--role", "procurator", "--article", "十七", "--since", "2026-11-01T20:00"],
    # ListAllowedActions records answer each asked action (a catalog action and one outside).
    ["--action", "case.interrogate_suspect"],
    ["--action", "case.view", "--action", "decision.prosecute"],
    ["--action", "document.draft", "--decision", "deny"],
    ["--decision-id", "00000001-0000-4000-8000-000000000042"],
    ["--subject", ""],
]


BY_EVERYTHING = [option for dimension in STATS_DIMENSIONS for option in ("--by", dimension)]
OUTPUTS = [
    *(["query", "--format", kind] for kind in ("table", "jsonl", "csv")),
    *(["stats", "--format", kind, *BY_EVERYTHING] for kind in ("table", "json", "csv")),
]


@pytest.mark.parametrize("argv", FILTERS, ids=[" ".join(a) or "(all)" for a in FILTERS])
@pytest.mark.parametrize("output", OUTPUTS, ids=[" ".join(o[:3]) for o in OUTPUTS])
def test_the_database_prints_the_same_as_the_files(
    log_dir: Path,
    db_url: str,
    capsysbinary: pytest.CaptureFixture[bytes],
    output: list[str],
    argv: list[str],
) -> None:
    command, *options = output
    code, from_files, _ = run(capsysbinary, command, str(log_dir), *options, *argv)
    assert code == 0
    code, from_db, err = run(
        capsysbinary, command, "--db", db_url, "--source", "pod-a", *options, *argv
    )
    assert code == 0, err
    assert "WARNING" not in err
    assert from_db == from_files
    if command == "query" and argv != ["--subject", ""]:  # no record has an empty subject id
        assert from_files.strip(), "the case would prove nothing"


def test_a_list_call_answer_id_finds_the_same_answer(
    log_dir: Path, db_url: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    answer = f"{first_list_call(log_dir)}#case.assign"
    argv = ["--decision-id", answer, "--format", "csv"]
    _, from_files, _ = run(capsysbinary, "query", str(log_dir), *argv)
    code, from_db, _ = run(capsysbinary, "query", "--db", db_url, "--source", "pod-a", *argv)
    assert code == 0
    assert from_db == from_files
    assert b"#case.assign" in from_db


def test_limit_stops_at_the_same_records(
    log_dir: Path, db_url: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    argv = ["--format", "jsonl", "--article", "十七", "--limit", "7"]
    _, from_files, _ = run(capsysbinary, "query", str(log_dir), *argv)
    _, from_db, _ = run(capsysbinary, "query", "--db", db_url, "--source", "pod-a", *argv)
    assert from_db == from_files
    assert from_db.count(b"\n") == 7


def test_stats_in_sql_and_from_the_matches_agree(db_url: str) -> None:
    """The SQL aggregate and the match stream (its fallback) count the same, over both
    sources too: the aggregate is not only right where the files could check it."""
    filters = Filters(articles=frozenset({"十七", "五"}))
    assert counts_in_sql(filters)
    with connect(db_url) as conn:
        in_sql = database_stats(conn, filters, STATS_DIMENSIONS, ScanCounts())
        one_source = database_stats(
            conn, filters, STATS_DIMENSIONS, ScanCounts(), sources=["pod-b"]
        )
        from_matches = Stats(STATS_DIMENSIONS)
        for match in scan_database(conn, filters, ScanCounts(), merge=False):
            from_matches.add(match)
    assert in_sql.totals() == from_matches.totals()
    assert in_sql.sections() == from_matches.sections()
    assert in_sql.records == 2 * one_source.records > 0


def test_without_source_every_sidecar_is_read_in_time_order(
    log_dir: Path, db_url: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    _, from_files, _ = run(capsysbinary, "query", str(log_dir), "--format", "jsonl")
    code, from_db, _ = run(capsysbinary, "query", "--db", db_url, "--format", "jsonl")
    assert code == 0
    lines = from_db.splitlines()
    assert sorted(lines) == sorted(from_files.splitlines() * 2)
    stamps = [json.loads(line)["timestamp"] for line in lines]
    assert stamps == sorted(stamps)
    code, out, _ = run(capsysbinary, "stats", "--db", db_url, "--format", "json")
    assert json.loads(out)["totals"]["records"] == len(lines)


def test_only_known_dimensions_are_counted(db_url: str) -> None:
    with connect(db_url) as conn, pytest.raises(QuanzeError, match="cannot count by x'; DROP"):
        database_stats(conn, Filters(), ["x'; DROP TABLE quanze.records; --"], ScanCounts())
