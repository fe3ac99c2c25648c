"""The stream writer on real files: chain, rotation, compression, retention, restart, rollback."""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import all_files, read_lines
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from tests.server.decisionlog.support import decision_record, records_in, write_log


def lines(directory: Path) -> list[tuple[bytes, dict[str, Any]]]:
    return [
        (line.raw, json.loads(line.raw))
        for log_file in all_files(directory)
        for line in read_lines(log_file)
    ]


def assert_chained(directory: Path) -> None:
    previous = records.GENESIS_HASH
    for seq, (raw, record) in enumerate(lines(directory), start=1):
        assert record["seq"] == seq
        assert record["prev_hash"] == previous
        previous = records.line_hash(raw)


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """A real disk-full: writes past `limit` bytes fail with EFBIG (Python ignores SIGXFSZ)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_records_form_one_chain_across_rotated_compressed_files_and_restarts(
    tmp_path: Path,
) -> None:
    settings = WriterSettings(max_file_bytes=4096, checkpoint_records=7)
    write_log(tmp_path, 60, settings=settings)
    write_log(tmp_path, 30, settings=settings, seed=1)
    files = all_files(tmp_path)
    assert len(files) > 4
    assert [f.number for f in files] == list(range(1, len(files) + 1))
    assert any(f.compressed for f in files)
    assert_chained(tmp_path)
    kinds = [r["type"] for _, r in lines(tmp_path)]
    assert kinds.count("decision") == 90
    assert kinds.count("start") == 2
    starts = [r for _, r in lines(tmp_path) if r["type"] == "start"]
    assert [s["previous"] for s in starts] == ["new", "closed"]
    # Every rotated file ends with a rotation checkpoint; the stream ends with a shutdown one.
    for log_file in files[:-1]:
        last = json.loads(list(read_lines(log_file))[-1].raw)
        assert last["type"] == "checkpoint"
        assert last["reason"] in ("rotation", "shutdown")
    assert lines(tmp_path)[-1][1]["reason"] == "shutdown"


def test_files_rotate_by_age(tmp_path: Path) -> None:
    clock = Clock()
    writer = StreamWriter(
        tmp_path, settings=WriterSettings(max_file_age_s=3600, compress=False), clock=clock
    )
    writer.open()
    for hour in range(3):
        writer.append([decision_record(hour)])
        clock.now += 3600
    writer.close()
    assert len(all_files(tmp_path)) == 3
    assert_chained(tmp_path)


def test_checkpoints_are_signed_at_intervals(tmp_path: Path) -> None:
    key = tmp_path / "hmac.key"
    key.write_bytes(b"a-secret-of-at-least-16-bytes")
    clock = Clock()
    log_dir = tmp_path / "log"
    writer = StreamWriter(
        log_dir,
        settings=WriterSettings(checkpoint_interval_s=60, checkpoint_records=1000),
        signer=records.load_signer(key),
        clock=clock,
    )
    writer.open()
    writer.append([decision_record(0)])
    clock.now += 61
    writer.tick()
    writer.close()
    checkpoints = [r for _, r in lines(log_dir) if r["type"] == "checkpoint"]
    assert [c["reason"] for c in checkpoints] == ["interval", "shutdown"]
    checker = records.SignatureChecker(key)
    for checkpoint in checkpoints:
        message = records.checkpoint_message(checkpoint, checkpoint["stream"])
        assert checker.problem(checkpoint["signature"], message) == ""
        assert checker.problem(checkpoint["signature"], message + b"x") != ""


def test_retention_removes_old_files_and_records_where_the_log_now_starts(
    tmp_path: Path,
) -> None:
    write_log(tmp_path, 80, settings=WriterSettings(max_file_bytes=3000, retention_files=3))
    files = all_files(tmp_path)
    assert len(files) == 3
    first_seq = json.loads(next(iter(read_lines(files[0]))).raw)["seq"]
    assert first_seq > 1
    last_checkpoint = [r for _, r in lines(tmp_path) if r["type"] == "checkpoint"][-1]
    assert last_checkpoint["retained_from_seq"] == first_seq


def test_two_writers_on_one_directory_get_separate_streams(tmp_path: Path) -> None:
    first = StreamWriter(tmp_path)
    second = StreamWriter(tmp_path)
    first.open()
    second.open()
    assert {first.stream, second.stream} == {"w0", "w1"}
    first.append([decision_record(1)])
    second.append([decision_record(2)])
    first.close()
    second.close()
    assert set(records.list_streams(tmp_path)) == {"w0", "w1"}


def test_a_failed_write_leaves_no_partial_record_and_the_chain_intact(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path, settings=WriterSettings(compress=False))
    writer.open()
    writer.append([decision_record(i) for i in range(3)])
    size = all_files(tmp_path)[0].path.stat().st_size
    with file_size_limit(size + 600), pytest.raises(OSError, match="File too large"):
        writer.append([decision_record(i) for i in range(3, 13)])
    assert all_files(tmp_path)[0].path.stat().st_size == size
    writer.append([decision_record(99)])  # the disk has room again
    writer.close()
    assert_chained(tmp_path)
    ids = [r.get("decision_id") for _, r in lines(tmp_path) if r["type"] == "decision"]
    assert ids == [decision_record(i)["decision_id"] for i in (0, 1, 2, 99)]


def test_a_crash_mid_line_is_noted_by_the_next_writer(tmp_path: Path) -> None:
    # A real crash: a process writes, leaves half a line, and dies by SIGKILL.
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from quanze.server.decisionlog.reader import all_files\n"
        "from tests.server.decisionlog.support import records_in, write_log\n"
        "directory = Path(sys.argv[1])\n"
        "write_log(directory, 5, close=False)\n"
        "with all_files(directory)[-1].path.open('ab') as torn:\n"
        '    torn.write(b\'{"type":"decision","seq":\')\n'
        "os.kill(os.getpid(), 9)\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=Path(__file__).parents[3], check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    torn_file = all_files(tmp_path)[-1].path
    write_log(tmp_path, 1)
    start = records_in(tmp_path, records.START)[-1]
    assert start["previous"] == "unclosed"
    assert start["partial_line"] == {"file": torn_file.name, "line": 7}
    assert start["seq"] == 7  # the chain continues from the last complete record
