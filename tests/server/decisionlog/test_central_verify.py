"""`quanze logs verify --db`: an untouched central store verifies as its files do, and every
kind of tampering with its rows is found and located as `<stream> seq N (shipped from …)`.

The logs are written by the real writer (rotated and gzip files, restarts, a crash, signed
checkpoints), loaded into a real PostgreSQL database, and tampered with in SQL the way someone
with write access to the database could.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from quanze.server import cli
from quanze.server.decisionlog import central, central_read, central_verify, records
from quanze.server.decisionlog.central import connect
from quanze.server.decisionlog.central_schema import migrate
from quanze.server.decisionlog.central_verify import verify_database
from quanze.server.decisionlog.reader import read_lines
from quanze.server.decisionlog.records import load_signer
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.decisionlog.verify_report import VerifyReport
from tests.server.decisionlog import support
from tests.server.decisionlog.test_verify import Log, ed25519_keys, restarted_log, two_stream_log

STREAM = "pod-a/w0"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Log]:
    made = {}
    for name, maker in (("restarted", restarted_log), ("two-stream", two_stream_log)):
        base = tmp_path_factory.mktemp(name)
        (base / "keys").mkdir()
        made[name] = maker(base / "log", base / "keys")
    return made


@pytest.fixture
def store(database_url: str, logs: dict[str, Log]) -> Log:
    """A fresh database holding the restarted log (one stream, three writer runs, HMAC), as
    shipped by pod-a; its `directory` is the database URL's log, its key the HMAC secret."""
    with connect(database_url) as conn:
        support.load_directory(conn, logs["restarted"].directory, "pod-a")
    return logs["restarted"]


def verify(url: str, log: Log, anchors: tuple[str, ...] = ()) -> VerifyReport:
    with connect(url) as conn:
        return verify_database(conn, key_file=log.key, anchors=anchors)


def row(conn: psycopg.Connection, condition: str) -> tuple[int, str]:
    """The (seq, line) of the middle row of pod-a/w0 that meets `condition`."""
    found = conn.execute(
        f"SELECT seq, line FROM quanze.records WHERE stream = %s AND {condition} ORDER BY seq",  # noqa: S608 - the tests' own conditions
        (STREAM,),
    ).fetchall()
    assert len(found) > 2, condition
    seq, line = found[len(found) // 2]
    return int(seq), str(line)


# ---------------------------------------------------------------------------- untouched


def test_an_untouched_store_verifies_as_its_files_do(
    database_url: str, logs: dict[str, Log]
) -> None:
    with connect(database_url) as conn:
        for name, source in (("restarted", "pod-a"), ("two-stream", "pod-b")):
            support.load_directory(conn, logs[name].directory, source)
        for name, source in (("restarted", "pod-a"), ("two-stream", "pod-b")):
            log = logs[name]
            from_files = verify_directory(log.directory, key_file=log.key)
            from_db = verify_database(conn, key_file=log.key, sources=[source])
            assert from_db.verdict == from_files.verdict == "intact", from_db.render()
            assert from_db.problems == []
            assert {f"{source}/{s}" for s in from_files.streams} == set(from_db.streams)
            for stream, summary in from_files.streams.items():
                shipped = from_db.streams[f"{source}/{stream}"]
                assert (
                    shipped.records,
                    shipped.first_seq,
                    shipped.last_seq,
                    shipped.last_hash,
                ) == (
                    summary.records,
                    summary.first_seq,
                    summary.last_seq,
                    summary.last_hash,
                )
                assert (shipped.checkpoints, shipped.files, shipped.closed) == (
                    summary.checkpoints,
                    summary.files,
                    summary.closed,
                )
        # Both sources at once need both keys: without one, the signatures are unproven.
        assert verify_database(conn).verdict == "unverified"


def test_the_crash_and_restarts_are_noted_with_where_they_were_shipped_from(
    store: Log, database_url: str
) -> None:
    report = verify(database_url, store)
    crash = next(note for note in report.notes if "restarted after a crash" in note)
    assert crash.startswith(f"{STREAM}: the writer restarted after a crash at {STREAM} seq ")


# ---------------------------------------------------------------------------- tampering

Tamper = Callable[[psycopg.Connection, Log], tuple[str, int]]
"""Changes the store; returns the kind of problem and the seq it must be reported at."""


def edit_line(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    seq, line = row(conn, "decision = 'deny'")
    conn.execute(
        "UPDATE quanze.records SET line = %s WHERE stream = %s AND seq = %s",
        (line.replace('"result":false', '"result":true'), STREAM, seq),
    )
    return "modified", seq


def edit_column(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    seq, _ = row(conn, "decision = 'deny'")
    conn.execute(
        "UPDATE quanze.records SET decision = 'allow' WHERE stream = %s AND seq = %s",
        (STREAM, seq),
    )
    return "modified", seq


def delete_row(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    seq, _ = row(conn, "type = 'decision'")
    conn.execute("DELETE FROM quanze.records WHERE stream = %s AND seq = %s", (STREAM, seq))
    return "deleted", seq


def insert_row(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    """A forged decision with the seq of a real one, a second later (another key)."""
    seq, line = row(conn, "decision = 'deny'")
    forged = line.replace('"result":false', '"result":true')
    conn.execute(
        """INSERT INTO quanze.records (stream, seq, ts, type, line, hash, prev_hash, origin,
               decision_id, rpc, subject_id, roles, action, resource_id, decision, reasons,
               articles, escalate_to, revision)
           SELECT stream, seq, ts + interval '1 second', type, %s, %s, prev_hash, origin,
               decision_id, rpc, subject_id, roles, action, resource_id, 'allow', reasons,
               articles, escalate_to, revision
           FROM quanze.records WHERE stream = %s AND seq = %s""",
        (forged, records.line_hash(forged.encode()), STREAM, seq),
    )
    return "inserted", seq


def append_after_tip(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    """A well-chained record after the last one, not through Quanze (the tip stays)."""
    seq, line, ts = conn.execute(
        "SELECT seq, line, ts FROM quanze.records WHERE stream = %s ORDER BY seq DESC LIMIT 1",
        (STREAM,),
    ).fetchone() or (0, "", None)
    record = support.decision_record(999, seq=seq + 1, prev_hash=records.line_hash(line.encode()))
    forged = records.dumps({"type": "decision", **record})
    conn.execute(
        "INSERT INTO quanze.records (stream, seq, ts, type, line, hash, prev_hash, origin) "
        "VALUES (%s, %s, %s, 'decision', %s, %s, %s, %s)",
        (
            STREAM,
            seq + 1,
            ts,
            forged,
            records.line_hash(forged.encode()),
            record["prev_hash"],
            "decisions-w0-000099-20261101T000000Z.jsonl:1",
        ),
    )
    return "inserted", seq + 1


def swap_lines(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    seq, first = row(conn, "type = 'decision'")
    (second,) = conn.execute(
        "SELECT line FROM quanze.records WHERE stream = %s AND seq = %s", (STREAM, seq + 1)
    ).fetchone() or ("",)
    for at, line in ((seq, second), (seq + 1, first)):
        conn.execute(
            "UPDATE quanze.records SET line = %s WHERE stream = %s AND seq = %s", (line, STREAM, at)
        )
    return "reordered", seq


def cut_tail(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    seq, _ = row(conn, "type = 'decision'")
    conn.execute("DELETE FROM quanze.records WHERE stream = %s AND seq > %s", (STREAM, seq))
    return "truncated", seq + 1


def resign_last_checkpoint(conn: psycopg.Connection, log: Log) -> tuple[str, int]:
    """The closing checkpoint signed again with another key, hash and tip made to fit."""
    seq, line = conn.execute(
        "SELECT seq, line FROM quanze.records WHERE stream = %s ORDER BY seq DESC LIMIT 1",
        (STREAM,),
    ).fetchone() or (0, "")
    record = json.loads(line)
    assert record["type"] == "checkpoint"
    other = log.directory.parent / "keys" / "other.key"
    other.write_bytes(b"another secret of more than sixteen bytes\n")
    record["signature"] = load_signer(other).sign(records.checkpoint_message(record, "w0"))
    forged = records.dumps(record)
    new_hash = records.line_hash(forged.encode())
    conn.execute(
        "UPDATE quanze.records SET line = %s, hash = %s WHERE stream = %s AND seq = %s",
        (forged, new_hash, STREAM, seq),
    )
    conn.execute("UPDATE quanze.streams SET last_hash = %s WHERE stream = %s", (new_hash, STREAM))
    return "signature", seq


def edit_signature(conn: psycopg.Connection, _log: Log) -> tuple[str, int]:
    seq, line = row(conn, "type = 'checkpoint'")
    record = json.loads(line)
    length = len(base64.b64decode(record["signature"]["value"]))
    record["signature"]["value"] = base64.b64encode(random.Random(1).randbytes(length)).decode()
    conn.execute(
        "UPDATE quanze.records SET line = %s WHERE stream = %s AND seq = %s",
        (records.dumps(record), STREAM, seq),
    )
    return "signature", seq


TAMPERS: dict[str, Tamper] = {
    "edited line": edit_line,
    "edited indexed column": edit_column,
    "deleted row": delete_row,
    "inserted row": insert_row,
    "row appended after the tip": append_after_tip,
    "reordered (two lines swapped)": swap_lines,
    "truncated tail": cut_tail,
    "checkpoint re-signed with another key": resign_last_checkpoint,
    "edited signature": edit_signature,
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_each_kind_of_tampering_is_caught_and_located(
    store: Log, database_url: str, name: str
) -> None:
    with connect(database_url) as conn:
        kind, seq = TAMPERS[name](conn, store)
        conn.commit()

    report = verify(database_url, store)

    assert report.verdict == "tampered", report.render()
    located = [p for p in report.problems if p.kind == kind and p.seq == seq]
    assert located, report.render()
    where = located[0].location
    assert where == STREAM or (
        where.startswith(f"{STREAM} seq ") and "(shipped from decisions-w0-" in where
    ), where
    assert report.render().splitlines()[-1].startswith("TAMPERED: ")


def test_an_edited_column_is_named_and_is_the_only_problem(store: Log, database_url: str) -> None:
    with connect(database_url) as conn:
        _, seq = edit_column(conn, store)
        conn.commit()

    report = verify(database_url, store)

    (problem,) = report.problems
    assert problem.seq == seq
    assert problem.kind == "modified"
    assert "the row's decision column disagrees with its line" in problem.message
    assert "the column says 'allow', the line 'deny'" in problem.message


def test_a_tail_cut_with_its_tip_is_caught_only_by_an_anchor(store: Log, database_url: str) -> None:
    anchors = tuple(str(a) for a in verify(database_url, store).anchors())
    assert len(anchors) == 1
    assert anchors[0].startswith(f"{STREAM}:")
    with connect(database_url) as conn:
        seq, line = row(conn, "type = 'decision'")
        conn.execute("DELETE FROM quanze.records WHERE stream = %s AND seq > %s", (STREAM, seq))
        conn.execute(
            "UPDATE quanze.streams SET last_seq = %s, last_hash = %s WHERE stream = %s",
            (seq, records.line_hash(line.encode()), STREAM),
        )
        conn.commit()

    # The chain and the tip agree: the cut does not show, as on files without anchors.
    assert verify(database_url, store).verdict == "intact"
    report = verify(database_url, store, anchors)
    (problem,) = report.problems
    assert problem.kind == "truncated"
    assert problem.location.startswith(f"{STREAM} seq {seq:,} (shipped from ")


def test_rows_deleted_with_their_whole_stream_are_caught(store: Log, database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("DELETE FROM quanze.records WHERE stream = %s", (STREAM,))
        conn.commit()

    report = verify(database_url, store)

    (problem,) = report.problems
    assert (problem.kind, problem.location) == ("deleted", STREAM)


# ---------------------------------------------------------------------------- the command


def test_the_command_verifies_the_store_and_exits_0_or_1(
    store: Log, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["logs", "verify", "--db", database_url, "--key", str(store.key)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("intact: 1 stream, ")
    assert any(line.startswith(f"anchor {STREAM}:") for line in out)

    with connect(database_url) as conn:
        _, seq = delete_row(conn, store)
        conn.commit()
    status = cli.main(["logs", "verify", "--db", database_url, "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 1
    assert document["verdict"] == "tampered"
    assert document["database"].endswith(database_url.rpartition("/")[2])
    (problem,) = document["problems"]
    assert problem["place"].startswith(f"{STREAM} seq {seq + 1:,} (shipped from decisions-w0-")


def test_progress_counts_the_rows_held_on_stderr_when_asked(
    store: Log, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(database_url) as conn:
        (held,) = conn.execute("SELECT sum(records) FROM quanze.streams").fetchone() or (0,)
    verify = ["logs", "verify", "--db", database_url, "--key", str(store.key)]

    assert cli.main([*verify, "--progress"]) == 0
    shown = capsys.readouterr().err
    assert cli.main([*verify, "--no-progress"]) == 0
    quiet = capsys.readouterr().err

    assert re.search(rf"\rverifying: +[0-9.]+% of {held:,} rows", shown), shown
    assert quiet == ""


def test_source_picks_the_sidecars_to_verify(
    store: Log, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(
        ["logs", "verify", "--db", database_url, "--source", "pod-z", "--key", str(store.key)]
    )
    assert status == 1
    assert "no decision-log records of source pod-z" in capsys.readouterr().err


# ---------------------------------------------------------------------------- query and stats


@pytest.mark.parametrize("probe_below", [0.0, 1.01], ids=["in seq order", "by index probes"])
@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        (edit_line, "{seq1} (does not chain to seq {seq})"),
        (delete_row, "{seq} (missing: the chain stops at seq {seq0})"),
    ],
)
def test_query_and_stats_find_the_chain_broken_where_the_rows_were_changed(
    store: Log,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    tamper: Tamper,
    where: str,
    probe_below: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(central_read, "PROBE_BELOW", probe_below)  # stats: both ways
    with connect(database_url) as conn:
        _, seq = tamper(conn, store)
        conn.commit()
    expected = f"{STREAM} seq " + where.format(
        seq=f"{seq:,}", seq1=f"{seq + 1:,}", seq0=f"{seq - 1:,}"
    )
    with connect(database_url) as conn:
        # The subject of the row whose link broke: a few matches, among many rows.
        broken = seq if tamper is edit_line else seq - 1
        (subject,) = conn.execute(
            "SELECT subject_id FROM quanze.records WHERE stream = %s AND seq = %s",
            (STREAM, broken),
        ).fetchone() or ("",)
    assert subject
    for command, *only in (["query"], ["stats"], ["stats", "--subject", subject]):
        status = cli.main(["logs", command, "--db", database_url, *only])
        err = capsys.readouterr().err
        assert status == 1, command
        assert f"WARNING: the hash chain breaks in 1 place: {expected}." in err, (command, err)
        status = cli.main(["logs", command, "--db", database_url, "--no-check-chain"])
        err = capsys.readouterr().err
        assert status == 0
        assert "`quanze logs verify --db URL` checks them" in err


def test_dir_and_db_are_one_or_the_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANZE_LOG_DATABASE_URL", raising=False)
    for command in ("query", "stats", "verify"):
        assert cli.main(["logs", command, str(tmp_path), "--db", "postgresql://x@y/z"]) == 1
        assert "give either DIR" in capsys.readouterr().err
        assert cli.main(["logs", command]) == 1
        assert "give the decision-log directory (DIR) or the central store (--db URL" in (
            capsys.readouterr().err
        )
        assert cli.main(["logs", command, str(tmp_path), "--source", "pod-a"]) == 1
        assert "use it with --db" in capsys.readouterr().err


def test_the_database_url_may_come_from_the_environment(
    store: Log,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANZE_LOG_DATABASE_URL", database_url)
    assert cli.main(["logs", "verify", "--key", str(store.key)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("intact: 1 stream")


def test_a_wrong_key_is_a_signature_problem(store: Log, database_url: str, tmp_path: Path) -> None:
    with connect(database_url) as conn:
        report = verify_database(conn, key_file=ed25519_keys(tmp_path, "other")[1])
    assert report.verdict == "tampered"
    assert {p.kind for p in report.problems} == {"signature"}
    assert "give --key the key that signs this log" in report.problems[0].message


def test_rows_shipped_while_verifying_are_not_taken_for_insertions(
    database_url: str, logs: dict[str, Log], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = logs["restarted"]
    rows = [
        central.row_of(line.raw, f"{log_file.path.name}:{line.number}")
        for log_file in records.list_streams(log.directory)["w0"]
        for line in read_lines(log_file)
    ]
    with connect(database_url) as conn:
        migrate(conn, applied_by="tests")
        central.append(conn, "pod-a", "w0", rows[:50])
    shipped = []

    def tips_then_ship(conn: psycopg.Connection) -> dict[str, central.Tip]:
        found = central.tips(conn)
        with connect(database_url) as shipper:  # another sidecar's shipper, meanwhile
            shipped.append(central.append(shipper, "pod-a", "w0", rows[50:]))
        return found

    monkeypatch.setattr(central_verify, "tips", tips_then_ship)
    with connect(database_url) as conn:
        report = verify_database(conn, key_file=log.key)

    assert shipped[0].last_seq == len(rows)
    assert report.problems == []  # what it read is the first 50, consistently
    assert report.streams[STREAM].last_seq == 50


def test_a_file_shipped_partly_before_and_partly_after_gzip_is_one_file(
    store: Log, database_url: str
) -> None:
    with connect(database_url) as conn:
        changed = conn.execute(
            "UPDATE quanze.records SET origin = replace(origin, '.jsonl.gz:', '.jsonl:') "
            "WHERE origin LIKE '%.jsonl.gz:%' AND seq % 2 = 0"
        ).rowcount
        conn.commit()
    assert changed > 10

    report = verify(database_url, store)

    assert report.verdict == "intact", report.render()
    assert report.streams[STREAM].files == len(list(store.directory.glob("decisions-*")))


def test_a_database_without_the_log_or_out_of_reach_is_said_plainly(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("query", "stats", "verify"):
        assert cli.main(["logs", command, "--db", database_url]) == 1
        assert "holds no Quanze decision log" in capsys.readouterr().err
        assert cli.main(["logs", command, "--db", "postgresql://postgres@127.0.0.1:1/x"]) == 1
        assert "cannot connect to the decision-log database" in capsys.readouterr().err
