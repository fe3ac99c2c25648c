"""The central store end to end: real sidecars under load ship their logs into a real PostgreSQL
that goes away mid-way, one sidecar is SIGKILLed, and the database ends up holding every record
each sidecar acknowledged, once, in order, byte for byte."""

from __future__ import annotations

import collections
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

import psycopg

from quanze.server.decisionlog import records
from tests.integration.load import LoadRecorder, Sidecar
from tests.integration.support import start, wait_serving, wait_until
from tests.postgres import PostgresServer, held_tips
from tests.server.decisionlog.support import stream_lines
from tests.support import environment_without_quanze_settings, free_port

# At shutdown the shipper drains what the workers wrote last: on a loaded machine, after the
# database was away, that may take longer than the default 10 s.
_GENEROUS_DRAIN = ("--set", "decision_log.ship.drain_seconds=60")


@contextlib.contextmanager
def _sidecar(cwd: Path, address: str, log_dir: Path, *args: str) -> Iterator[Sidecar]:
    """`quanze serve` in a process group of its own (so it can be killed whole), SERVING."""
    process = start(
        "--address", address, "--decision-log", str(log_dir), *args, cwd=cwd, preexec_fn=os.setpgrp
    )
    server = Sidecar(process)
    try:
        server.address = str(server.wait_event("listening", 60)["address"])
        wait_serving(server.address, timeout=180)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            server.reader.join(30)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()


def _follower(log_dir: Path, url: str, source: str, said: Path) -> subprocess.Popen[str]:
    """`quanze logs ship --follow`, its stderr in the file `said`."""
    with open(said, "w", encoding="utf-8") as stderr:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "quanze.server.cli", "logs", "ship", str(log_dir)),
                *("--db", url, "--source", source, "--follow"),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=environment_without_quanze_settings(),
        )


def _all_shipped(url: str, source: str, log_dir: Path, shipper: subprocess.Popen[str]) -> bool:
    assert shipper.poll() is None, "the shipper exited"
    held = held_tips(url)
    return all(
        held.get(f"{source}/{stream}") == json.loads(lines[-1])["seq"]
        for stream, lines in stream_lines(log_dir).items()
    )


def assert_central_store_matches(url: str, log_dirs: dict[str, Path]) -> None:
    """For every stream of every source: the database holds seq 1..N, no gap, no duplicate,
    each line byte for byte the file's, each prev_hash the previous line's SHA-256."""
    with psycopg.connect(url) as conn:
        for source, log_dir in log_dirs.items():
            streams = stream_lines(log_dir)
            assert streams, f"{log_dir} holds no stream"
            held = {
                row[0]
                for row in conn.execute(
                    "SELECT stream FROM quanze.streams WHERE source = %s", (source,)
                )
            }
            assert held == {f"{source}/{s}" for s in streams}
            for stream, lines in streams.items():
                rows = conn.execute(
                    "SELECT seq, line, hash, prev_hash FROM quanze.records WHERE stream = %s "
                    "ORDER BY seq",
                    (f"{source}/{stream}",),
                ).fetchall()
                assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
                assert [row[1].encode() for row in rows] == lines
                assert rows[0][3] == records.GENESIS_HASH
                for before, after in itertools.pairwise(rows):
                    assert after[3] == records.line_hash(before[1].encode()) == before[2]


def _decision_ids(url: str, sources: list[str]) -> collections.Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT decision_id FROM quanze.records r JOIN quanze.streams s USING (stream) "
            "WHERE r.type = 'decision' AND s.source = ANY(%s)",
            (sources,),
        ).fetchall()
    return collections.Counter(row[0] for row in rows)


def test_two_sidecars_ship_every_acknowledged_record_once_through_outage_and_kill(
    tmp_path: Path, private_postgres: PostgresServer
) -> None:
    url = private_postgres.create_database()
    dir_a, dir_b = tmp_path / "log-a", tmp_path / "log-b"
    address_b = f"127.0.0.1:{free_port()}"
    shipping = ("--set", f"decision_log.ship.database_url={url}", *_GENEROUS_DRAIN)
    samples = []
    with _sidecar(
        tmp_path,
        "127.0.0.1:0",
        dir_a,
        *shipping,
        "--set",
        "decision_log.ship.source=side-a",
        "--set",
        "server.workers=2",
    ) as side_a:
        said = tmp_path / "follower.err"
        follower = _follower(dir_b, url, "side-b", said)
        try:
            with _sidecar(tmp_path, address_b, dir_b) as side_b:
                load_a = LoadRecorder(side_a.address, threads=2, timeout=10, own_connections=True)
                load_b = LoadRecorder(side_b.address, threads=2, timeout=10)
                with load_a, load_b:
                    time.sleep(2)
                    private_postgres.stop("fast")
                    time.sleep(3)
                    private_postgres.start()
                    time.sleep(1)
                    os.killpg(side_b.process.pid, signal.SIGKILL)
                    side_b.process.wait(30)
                    with _sidecar(tmp_path, address_b, dir_b):
                        time.sleep(2)
                samples = load_a.samples + load_b.samples
                # The database going away never reaches the answers: shipping is apart.
                assert load_a.failures == []
            # Sidecar A stops here and its shipper drains; B's follower catches up.
            try:
                wait_until(
                    lambda: _all_shipped(url, "side-b", dir_b, follower), "side-b is shipped", 90
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the follower said:\n{said.read_text()}") from None
            follower.send_signal(signal.SIGTERM)
            follower.communicate(timeout=60)
            follower_err = said.read_text()
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
    assert follower.returncode == 0, follower_err
    assert "cannot reach the decision-log database" in follower_err
    shipper_a = [e["event"] for e in side_a.events if "ship" in str(e.get("event"))]
    assert "decision_log_ship_database_unavailable" in shipper_a
    assert shipper_a[-1] == "decision_log_shipper_stopped"

    assert_central_store_matches(url, {"side-a": dir_a, "side-b": dir_b})
    acknowledged = [i for sample in samples for i in sample.decision_ids]
    assert len(acknowledged) > 100
    stored = _decision_ids(url, ["side-a", "side-b"])
    assert {i: stored[i] for i in acknowledged if stored[i] != 1} == {}
    starts = [json.loads(line) for line in stream_lines(dir_b)["w0"] if b'"start"' in line]
    assert [s["previous"] for s in starts] == ["new", "unclosed"]

    # The store verifies intact, as shipped; then an allow turned into a deny in one row's
    # record is caught and located at its row.
    verified = _verify(url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[-1].startswith("intact: "), verified.stdout
    with psycopg.connect(url) as conn:
        (seq,) = conn.execute(
            "SELECT min(seq) FROM quanze.records WHERE stream = 'side-a/w0' AND decision = 'allow'"
        ).fetchone() or (None,)
        assert seq is not None
        conn.execute(
            "UPDATE quanze.records SET line = replace(line, '\"result\":true', '\"result\":false') "
            "WHERE stream = 'side-a/w0' AND seq = %s",
            (seq,),
        )
    tampered = _verify(url)
    assert tampered.returncode == 1, tampered.stdout
    assert tampered.stdout.splitlines()[-1].startswith("TAMPERED: "), tampered.stdout
    problems = [line for line in tampered.stdout.splitlines() if ": modified: " in line]
    # The chain (its hash no longer matches the next prev_hash) and the row's own columns.
    assert len(problems) == 2, tampered.stdout
    assert all(p.startswith(f"side-a/w0 seq {seq} (shipped from decisions-w0-") for p in problems)


def _verify(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quanze.server.cli", "logs", "verify", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment_without_quanze_settings(),
    )


def test_serve_restarts_a_shipper_that_died(tmp_path: Path, database_url: str) -> None:
    log_dir = tmp_path / "log"
    with _sidecar(
        tmp_path,
        "127.0.0.1:0",
        log_dir,
        "--set",
        f"decision_log.ship.database_url={database_url}",
        "--set",
        "decision_log.ship.source=side-r",
        *_GENEROUS_DRAIN,
    ) as side:
        first = side.wait_event("decision_log_shipper_started")
        with LoadRecorder(side.address, threads=1, timeout=10) as load:
            time.sleep(1)
            os.kill(int(first["pid"]), signal.SIGKILL)
            side.wait_event("decision_log_shipper_exited")
            restarted = side.wait_event(
                "decision_log_shipper_started", after=side.events.index(first) + 1
            )
            time.sleep(1)
        assert restarted["pid"] != first["pid"]
    assert side.process.returncode == 0
    assert_central_store_matches(database_url, {"side-r": log_dir})
    stored = _decision_ids(database_url, ["side-r"])
    acknowledged = [i for sample in load.samples for i in sample.decision_ids]
    assert acknowledged
    assert {i: stored[i] for i in acknowledged if stored[i] != 1} == {}
