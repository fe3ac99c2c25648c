"""Shipping a log directory into PostgreSQL: real files by the real writer, a real database."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from structlog.testing import capture_logs

from quanze.server import config
from quanze.server.app import build_decision_log
from quanze.server.decisionlog import central, central_schema, records, ship
from quanze.server.decisionlog.ship import Outcome, Shipper
from quanze.server.decisionlog.ship_marker import marker_path, shipped_seq
from quanze.server.decisionlog.tail import first_seq
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from tests.integration.support import wait_until
from tests.postgres import PostgresServer, held_tips
from tests.server.decisionlog.support import (
    abandon,
    decision_record,
    stream_lines,
    write_log,
    write_streams,
)
from tests.support import environment_without_quanze_settings, free_port

# Small files: a few hundred records rotate through several files, most of them gzipped.
ROTATING = WriterSettings(max_file_bytes=40_000, checkpoint_records=50)


def _ship_command(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`quanze logs ship ARGS`, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "quanze.server.cli", "logs", "ship", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env or environment_without_quanze_settings(),
    )


def _ship(
    directory: Path, url: str, source: str = "pod-a", **options: Any
) -> tuple[Outcome, list[str]]:
    said: list[str] = []
    shipper = Shipper(
        directory,
        url,
        source,
        report=lambda _level, _event, message: said.append(message),
        **options,
    )
    return shipper.run(follow=False, retry_for=30.0), said


def _stored(url: str, stream: str) -> list[tuple[int, str, str, str]]:
    """(seq, line, hash, prev_hash) of every row of `stream`, by seq."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT seq, line, hash, prev_hash FROM quanze.records WHERE stream = %s ORDER BY seq",
            (stream,),
        ).fetchall()


def _file_lines(directory: Path, stream: str = "w0") -> list[bytes]:
    return stream_lines(directory)[stream]


def _assert_shipped_exactly(url: str, stream: str, lines: list[bytes]) -> None:
    """The database holds exactly `lines`, once each, in order, byte for byte, chained."""
    rows = _stored(url, stream)
    assert [row[1].encode() for row in rows] == lines
    seqs = [row[0] for row in rows]
    assert seqs == [json.loads(line)["seq"] for line in lines]
    for (before, _, previous_hash, _), (seq, line, digest, prev_hash) in itertools.pairwise(rows):
        assert digest == records.line_hash(line.encode())
        if seq == before + 1:  # across a gap there is nothing to link to
            assert prev_hash == previous_hash


def test_every_record_of_rotated_and_gzipped_files_is_shipped_once_in_order(
    tmp_path: Path, database_url: str
) -> None:
    write_log(tmp_path, 600, settings=ROTATING)
    names = [f.path.name for f in records.list_streams(tmp_path)["w0"]]
    assert len(names) > 3
    assert any(n.endswith(".gz") for n in names)
    outcome, said = _ship(tmp_path, database_url, batch_records=64)
    lines = _file_lines(tmp_path)
    assert outcome.ok
    assert said == []
    report = outcome.streams["w0"]
    assert (report.shipped, report.first, report.last) == (len(lines), 1, len(lines))
    assert report.summary() == (
        f"pod-a/w0: shipped {len(lines):,} records (seq 1..{len(lines):,}); "
        f"the database holds seq 1..{len(lines):,}"
    )
    _assert_shipped_exactly(database_url, "pod-a/w0", lines)
    assert shipped_seq(tmp_path, "w0") == len(lines)
    again, _ = _ship(tmp_path, database_url)
    assert again.streams["w0"].shipped == 0
    assert len(_stored(database_url, "pod-a/w0")) == len(lines)


def test_shipping_resumes_after_the_database_tip_and_across_writer_restarts(
    tmp_path: Path, database_url: str
) -> None:
    write_log(tmp_path, 120, settings=ROTATING)
    lines = _file_lines(tmp_path)
    # A shipper that committed the first 70 and died before noting it: the database decides.
    with central.connect(database_url) as conn:
        central_schema.migrate(conn, applied_by="test")
        central.append(conn, "pod-a", "w0", [central.row_of(raw, "x") for raw in lines[:70]])
        conn.commit()
    outcome, _ = _ship(tmp_path, database_url)
    assert (outcome.streams["w0"].first, outcome.streams["w0"].last) == (71, len(lines))
    # The writer restarts (killed: no shutdown checkpoint) and writes on.
    abandon(write_log(tmp_path, 30, settings=ROTATING, close=False, seed=1))
    write_log(tmp_path, 30, settings=ROTATING, seed=2)
    starts = [json.loads(raw) for raw in _file_lines(tmp_path) if b'"type":"start"' in raw]
    assert [s["previous"] for s in starts] == ["new", "closed", "unclosed"]
    outcome, _ = _ship(tmp_path, database_url)
    assert outcome.streams["w0"].first == len(lines) + 1
    _assert_shipped_exactly(database_url, "pod-a/w0", _file_lines(tmp_path))


def test_a_shipper_killed_between_commit_and_marker_duplicates_nothing(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_log(tmp_path, 300, settings=ROTATING)
    commits: list[int] = []

    def killed(_directory: Path, _stream: str, *, seq: int, **_: Any) -> None:
        commits.append(seq)
        raise SystemExit("killed after the commit, before the marker")

    monkeypatch.setattr(ship, "write_marker", killed)
    with pytest.raises(SystemExit):
        _ship(tmp_path, database_url, batch_records=100)
    monkeypatch.undo()
    assert commits == [100]
    assert not marker_path(tmp_path, "w0").exists()
    outcome, _ = _ship(tmp_path, database_url, batch_records=100)
    assert outcome.streams["w0"].first == 101
    _assert_shipped_exactly(database_url, "pod-a/w0", _file_lines(tmp_path))
    assert shipped_seq(tmp_path, "w0") == len(_file_lines(tmp_path))


def test_a_line_a_crash_cut_short_is_never_shipped_and_said_once(
    tmp_path: Path, database_url: str
) -> None:
    writer = write_log(tmp_path, 40, close=False)
    abandon(writer)
    (cut,) = records.list_streams(tmp_path)["w0"]
    with open(cut.path, "ab") as handle:
        handle.write(b'{"type":"decision","seq":42,"timestamp":"2026-1')
    write_log(tmp_path, 10, seed=1)  # the restart: a new file whose start names the partial
    outcome, said = _ship(tmp_path, database_url)
    assert outcome.ok
    partial_said = [m for m in said if "cut short" in m]
    assert partial_said == [
        f"{cut.path}:42 is a line cut short (a crash mid-write; the next "
        "start record names it): it is no record and is not shipped"
    ]
    lines = _file_lines(tmp_path)
    _assert_shipped_exactly(database_url, "pod-a/w0", lines)
    start = json.loads(lines[41])
    assert start["type"] == "start"
    assert start["partial_line"] == {"file": cut.path.name, "line": 42}


def test_a_write_in_progress_is_shipped_once_complete(tmp_path: Path, database_url: str) -> None:
    writer = write_log(tmp_path, 20, close=False)
    abandon(writer)
    (newest,) = records.list_streams(tmp_path)["w0"]
    complete = _file_lines(tmp_path)
    record = {"type": "decision", "seq": 22, "timestamp": "2026-12-01T00:00:00.000000Z"}
    record["prev_hash"] = records.line_hash(complete[-1])
    line = records.dumps(record).encode()
    with open(newest.path, "ab") as handle:
        handle.write(line[:30])
    outcome, said = _ship(tmp_path, database_url)
    assert outcome.streams["w0"].last == 21
    assert said == []
    with open(newest.path, "ab") as handle:
        handle.write(line[30:] + b"\n")
    outcome, _ = _ship(tmp_path, database_url)
    assert (outcome.streams["w0"].first, outcome.streams["w0"].last) == (22, 22)
    _assert_shipped_exactly(database_url, "pod-a/w0", [*complete, line])


def test_a_different_log_under_the_same_name_is_refused(tmp_path: Path, database_url: str) -> None:
    first, longer, shorter = tmp_path / "first", tmp_path / "longer", tmp_path / "shorter"
    write_log(first, 50)
    write_log(longer, 80, seed=5)
    write_log(shorter, 20, seed=6)
    _ship(first, database_url)
    held = _stored(database_url, "pod-a/w0")
    for other, why in (
        (longer, "is not the record the database holds at seq 52 (hash"),
        (shorter, "ends before seq 52"),
    ):
        result = _ship_command(str(other), "--db", database_url, "--source", "pod-a")
        assert result.returncode == 1, result.stderr
        assert why in result.stderr
        assert f"the stream in {other} " in result.stderr
        assert "a different log than the one the database holds under that name" in result.stderr
        assert "ship it under a source of its own (--source NAME;" in result.stderr
        assert result.stdout == (
            "pod-a/w0: shipped 0 records; the database holds seq 1..52; REFUSED (see above)\n"
        )
    assert _stored(database_url, "pod-a/w0") == held
    outcome, _ = _ship(longer, database_url, source="pod-b")
    assert outcome.ok
    assert outcome.streams["w0"].last == 82


def test_records_removed_before_shipping_leave_a_gap_shipped_and_warned(
    tmp_path: Path, database_url: str
) -> None:
    write_log(tmp_path, 400, settings=ROTATING)
    files = records.list_streams(tmp_path)["w0"]
    removed = files[1]
    gap_from, gap_to = first_seq(removed) or 0, (first_seq(files[2]) or 0) - 1
    removed.path.unlink()
    outcome, said = _ship(tmp_path, database_url)
    assert outcome.ok
    assert [m for m in said if "are not in" in m] == [
        f"pod-a/w0: seq {gap_from:,}..{gap_to:,} are not in {tmp_path} (removed before they "
        f"were shipped?); shipping on from seq {gap_to + 1:,} at {files[2].path.name}:1: the "
        "gap stays visible in the database"
    ]
    _assert_shipped_exactly(database_url, "pod-a/w0", _file_lines(tmp_path))
    seqs = [row[0] for row in _stored(database_url, "pod-a/w0")]
    assert gap_from - 1 in seqs
    assert not set(range(gap_from, gap_to + 1)) & set(seqs)


def test_retention_keeps_unshipped_files_and_removes_shipped_ones(
    tmp_path: Path, database_url: str
) -> None:
    settings = WriterSettings(max_file_bytes=20_000, retention_files=2, wait_for_shipping=True)
    writer = StreamWriter(tmp_path, settings=settings)
    writer.open()
    with capture_logs() as logged:
        for index in range(0, 300, 10):
            writer.append([decision_record(i) for i in range(index, index + 10)])
    kept = records.list_streams(tmp_path)["w0"]
    waits = [e for e in logged if e["event"] == "decision_log_retention_waits_for_shipping"]
    assert waits[-1]["shipped_seq"] == 0
    assert waits[-1]["files_kept"] == [f.path.name for f in kept[: len(waits[-1]["files_kept"])]]
    assert len(kept) > 4  # nothing shipped: everything kept
    assert first_seq(kept[0]) == 1
    outcome, _ = _ship(tmp_path, database_url)
    shipped = outcome.streams["w0"].last
    assert shipped is not None
    assert shipped_seq(tmp_path, "w0") == shipped
    for index in range(300, 600, 10):
        writer.append([decision_record(i) for i in range(index, index + 10)])
    writer.close()
    files = records.list_streams(tmp_path)["w0"]
    # What was shipped went; all that was not is still there, and the checkpoints say so.
    assert 1 < (first_seq(files[0]) or 0) <= shipped + 1
    checkpoints = [json.loads(raw) for raw in _file_lines(tmp_path) if b'"checkpoint"' in raw]
    assert checkpoints[-1]["retained_from_seq"] == first_seq(files[0])
    # Nothing was lost on the way: the database holds every seq, the files the newest ones.
    assert _ship(tmp_path, database_url)[0].ok
    lines = _file_lines(tmp_path)
    stored = _stored(database_url, "pod-a/w0")
    assert [row[0] for row in stored] == list(range(1, json.loads(lines[-1])["seq"] + 1))
    assert [row[1].encode() for row in stored[-len(lines) :]] == lines


def test_an_unwritable_marker_is_said_once_and_shipping_goes_on(
    tmp_path: Path, database_url: str
) -> None:
    write_log(tmp_path, 250)
    marker_path(tmp_path, "w0").mkdir()  # a marker that cannot be replaced
    outcome, said = _ship(tmp_path, database_url, batch_records=50)
    assert outcome.ok
    assert outcome.streams["w0"].shipped == 252
    assert len([m for m in said if ".shipped-w0.json" in m]) == 1
    assert "retention keeps this stream's files" in said[0]


@contextlib.contextmanager
def _following(directory: Path, url: str) -> Iterator[subprocess.Popen[str]]:
    """`quanze logs ship --follow` as source pod-f, killed on the way out if still running."""
    follower = subprocess.Popen(
        [
            *(sys.executable, "-m", "quanze.server.cli", "logs", "ship", str(directory)),
            *("--db", url, "--source", "pod-f", "--follow"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment_without_quanze_settings(),
    )
    try:
        yield follower
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()


def _stop(follower: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    """Send `sig`; what the follower printed on stdout and stderr, once it exited."""
    follower.send_signal(sig)
    return follower.communicate(timeout=60)


def _all_shipped(directory: Path, url: str, source: str = "pod-f") -> bool:
    want = {
        f"{source}/{s}": len(_file_lines(directory, s)) for s in records.list_streams(directory)
    }
    return held_tips(url) == want


def test_follow_ships_new_records_files_and_streams_until_sigterm(
    tmp_path: Path, database_url: str
) -> None:
    with _following(tmp_path, database_url) as follower:
        write_log(tmp_path, 30)
        wait_until(lambda: _all_shipped(tmp_path, database_url), "the first stream is shipped", 60)
        write_streams(tmp_path, [[decision_record(i) for i in range(500)]] * 2, settings=ROTATING)
        wait_until(lambda: _all_shipped(tmp_path, database_url), "new files and streams", 60)
        assert set(held_tips(database_url)) == {"pod-f/w0", "pod-f/w1"}
        out, err = _stop(follower, signal.SIGTERM)
    assert follower.returncode == 0, err
    assert "pod-f/w0: shipped" in out
    assert "pod-f/w1: shipped" in out
    for stream in ("w0", "w1"):
        _assert_shipped_exactly(database_url, f"pod-f/{stream}", _file_lines(tmp_path, stream))


def test_follow_outlasts_the_database_going_away(
    tmp_path: Path, private_postgres: PostgresServer
) -> None:
    url = private_postgres.create_database()
    writer = StreamWriter(tmp_path, settings=ROTATING)
    writer.open()
    with _following(tmp_path, url) as follower:
        writer.append([decision_record(i) for i in range(100)])
        wait_until(lambda: _all_shipped(tmp_path, url), "the first records are shipped", 60)
        private_postgres.stop("fast")
        for index in range(100, 400, 20):
            writer.append([decision_record(i) for i in range(index, index + 20)])
        time.sleep(1.5)  # the shipper meets the closed door and backs off
        private_postgres.start()
        wait_until(lambda: _all_shipped(tmp_path, url), "everything is shipped after", 90)
        writer.close()
        wait_until(lambda: _all_shipped(tmp_path, url), "the shutdown checkpoint is shipped", 60)
        _out, err = _stop(follower, signal.SIGINT)
    assert follower.returncode == 0, err
    away = [line for line in err.splitlines() if "cannot reach the decision-log database" in line]
    assert 1 <= len(away) <= 2, err  # said once per state, not once per retry
    assert "answers again" in err
    _assert_shipped_exactly(url, "pod-f/w0", _file_lines(tmp_path))


def test_without_a_database_the_command_says_how_to_give_one(tmp_path: Path) -> None:
    write_log(tmp_path, 1)
    env = environment_without_quanze_settings()
    env.pop("QUANZE_LOG_DATABASE_URL", None)
    result = _ship_command(str(tmp_path), env=env)
    assert result.returncode == 1
    assert (
        "pass --db postgresql://USER@HOST:PORT/DB or set QUANZE_LOG_DATABASE_URL" in result.stderr
    )


def test_an_unreachable_database_is_given_up_after_retry_for(tmp_path: Path) -> None:
    write_log(tmp_path, 5)
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    result = _ship_command(str(tmp_path), "--db", url, "--retry-for", "1")
    assert result.returncode == 1
    assert "retrying in 0.5 s" in result.stderr
    assert "stayed unreachable for 1 s" in result.stderr
    assert "run `quanze logs ship` again" in result.stderr
    assert os.listdir(tmp_path)  # nothing removed


def test_files_that_do_not_link_to_the_database_tip_are_refused(
    tmp_path: Path, database_url: str
) -> None:
    local, other = tmp_path / "local", tmp_path / "other"
    write_log(local, 300, settings=ROTATING)
    write_log(other, 300, settings=ROTATING, seed=9)
    files = records.list_streams(local)["w0"]
    tip = (first_seq(files[1]) or 0) - 1
    files[0].path.unlink()  # the record at the tip is gone here: only the link can tell
    with central.connect(database_url) as conn:
        central_schema.migrate(conn, applied_by="test")
        rows = [central.row_of(raw, "x") for raw in _file_lines(other)[:tip]]
        central.append(conn, "pod-a", "w0", rows)
        conn.commit()
    outcome, said = _ship(local, database_url)
    assert not outcome.ok
    assert outcome.streams["w0"].refused == said[0]
    assert said[0].startswith(
        f"pod-a/w0: {files[1].path}:1 (seq {tip + 1:,}) does not link to the record the "
        f"database holds at seq {tip:,} (hash {rows[-1].hash[:16]}…): the stream in {local} is a "
        "different log"
    )
    assert len(_stored(database_url, "pod-a/w0")) == tip


def test_a_shipper_killed_mid_way_again_and_again_resumes_without_duplicates(
    tmp_path: Path, database_url: str
) -> None:
    write_log(tmp_path, 2000, settings=ROTATING)
    total = len(_file_lines(tmp_path))
    command = [sys.executable, "-m", "quanze.server.cli", "logs", "ship", str(tmp_path)]
    command += ["--db", database_url, "--source", "pod-k", "--batch-records", "3"]
    cut_short = [0]
    for _ in range(4):
        shipper = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=environment_without_quanze_settings(),
        )
        # Killed as soon as it has committed something: somewhere mid-way, mid-batch or not.
        wait_until(
            lambda: held_tips(database_url).get("pod-k/w0", 0) > cut_short[-1],
            "the shipper commits a batch",
            60,
        )
        shipper.kill()
        shipper.wait(30)
        cut_short.append(held_tips(database_url)["pod-k/w0"])
    assert cut_short == sorted(set(cut_short))
    assert cut_short[-1] < total
    result = _ship_command(*command[5:])
    assert result.returncode == 0, result.stderr
    _assert_shipped_exactly(database_url, "pod-k/w0", _file_lines(tmp_path))


def test_a_sidecar_that_ships_or_is_told_to_wait_keeps_unshipped_files(tmp_path: Path) -> None:
    def waits(*overrides: str) -> bool:
        settings = config.load(
            environ={}, overrides=[f"decision_log.directory={tmp_path}", *overrides]
        )
        decision_log = build_decision_log(settings)
        assert decision_log is not None
        return decision_log.writer.settings.wait_for_shipping

    assert not waits()
    assert waits("decision_log.retention_waits_for_shipping=true")
    assert waits("decision_log.ship.database_url=postgresql://quanze@db/audit")
