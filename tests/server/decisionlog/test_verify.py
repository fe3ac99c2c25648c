"""`quanze logs verify`: untouched logs verify intact; every kind of tampering is found and located.

Logs are written by the real writer (several rotated, gzip-compressed files, restarts, crashes,
retention, HMAC and Ed25519 signatures); tampering works on the decompressed lines and writes
the files back the way the writer would have (gzip again for `.gz` files).
"""

from __future__ import annotations

import base64
import errno
import gzip
import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from quanze.server.config import ship_source_problem
from quanze.server.decisionlog import records
from quanze.server.decisionlog.records import load_signer
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.decisionlog.verify_report import VerifyReport, parse_anchor
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from quanze.server.errors import QuanzeError
from tests.server.decisionlog.support import abandon, decision_record, records_in, write_log

SMALL = WriterSettings(max_file_bytes=4_000, checkpoint_records=12, fsync="none")
"""A new file for every batch of ten records (the writer rotates before a write): many rotated,
compressed files from few records."""


# ---------------------------------------------------------------------------- keys and logs


def hmac_key(directory: Path) -> Path:
    path = directory / "hmac.key"
    path.write_bytes(b"a secret of more than sixteen bytes\n")
    return path


def ed25519_keys(directory: Path, name: str = "ed") -> tuple[Path, Path]:
    """A fresh Ed25519 key pair as PEM files: (private, public)."""
    private = ed25519.Ed25519PrivateKey.generate()
    private_path = directory / f"{name}.key"
    public_path = directory / f"{name}.pub"
    private_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


@dataclass
class Log:
    """A log directory written by the real writer, and the key that verifies it."""

    directory: Path
    key: Path | None
    signing_key: Path | None


def restarted_log(directory: Path, keys: Path) -> Log:
    """One stream, three writer runs: closed cleanly, then a crash, then closed (HMAC)."""
    key = hmac_key(keys)
    signer = load_signer(key)
    write_log(directory, 40, settings=SMALL, signer=signer, seed=1)
    abandon(write_log(directory, 30, settings=SMALL, signer=signer, close=False, seed=2))
    write_log(directory, 25, settings=SMALL, signer=signer, seed=3)
    return Log(directory, key, key)


def two_stream_log(directory: Path, keys: Path) -> Log:
    """Two writers at once (streams w0 and w1), Ed25519 signatures, verified with the public key."""
    private, public = ed25519_keys(keys)
    signer = load_signer(private)
    first = write_log(directory, 45, settings=SMALL, signer=signer, close=False, seed=4)
    write_log(directory, 35, settings=SMALL, signer=signer, seed=5)
    first.close()
    return Log(directory, public, private)


def retention_log(directory: Path, keys: Path) -> Log:
    """Retention deleted the oldest files (the shutdown checkpoint says from which seq)."""
    key = hmac_key(keys)
    settings = WriterSettings(
        max_file_bytes=4_000, checkpoint_records=12, fsync="none", retention_files=6
    )
    writer = StreamWriter(directory, settings=settings, signer=load_signer(key))
    writer.open()
    for first in range(0, 80, 10):
        writer.append([decision_record(i) for i in range(first, first + 10)])
        # Let each rotated file finish compressing: retention racing a compression that has
        # not started yet can bring a deleted file back (a writer issue, not the verifier's).
        for thread in writer._compressions:
            thread.join()
    writer.close()
    return Log(directory, key, key)


LOG_MAKERS: dict[str, Callable[[Path, Path], Log]] = {
    "restarted": restarted_log,
    "two-stream": two_stream_log,
    "retention": retention_log,
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Log]:
    made = {}
    for name, maker in LOG_MAKERS.items():
        base = tmp_path_factory.mktemp(name)
        (base / "keys").mkdir()
        made[name] = maker(base / "log", base / "keys")
    return made


# ---------------------------------------------------------------------------- untouched logs


@pytest.mark.parametrize("name", list(LOG_MAKERS))
def test_untouched_logs_are_intact(logs: dict[str, Log], name: str) -> None:
    log = logs[name]
    files = list(log.directory.glob("decisions-*"))
    assert sum(f.suffix == ".gz" for f in files) >= 4, "the log must span compressed files"

    report = verify_directory(log.directory, key_file=log.key)

    assert report.ok, report.render()
    assert report.problems == []
    assert report.render().splitlines()[-1].startswith("intact: ")
    # The summary counts what the files hold.
    lines = [line for path in files for line in read_lines_of(path)]
    assert sum(s.records for s in report.streams.values()) == len(lines)
    assert sum(s.files for s in report.streams.values()) == len(files)
    assert all(s.closed for s in report.streams.values())


def test_the_restarts_are_noted_and_the_crash_is_not_tampering(logs: dict[str, Log]) -> None:
    report = verify_directory(logs["restarted"].directory, key_file=logs["restarted"].key)

    starts = [
        json.loads(line)
        for path in sorted(logs["restarted"].directory.glob("decisions-*"))
        for line in read_lines_of(path)
        if b'"type":"start"' in line
    ]
    assert [s["previous"] for s in starts] == ["new", "closed", "unclosed"]
    assert report.ok
    assert any("restarted after a crash" in note for note in report.notes)


def test_retention_is_told_apart_from_deletion(logs: dict[str, Log]) -> None:
    log = logs["retention"]
    first = records.list_streams(log.directory)["w0"][0]
    assert first.number > 1, "retention must have deleted files"

    report = verify_directory(log.directory, key_file=log.key)

    assert report.ok, report.render()
    assert report.streams["w0"].first_seq > 1
    assert any("retention removed the records before" in note for note in report.notes)


def test_a_key_is_needed_to_check_signatures(logs: dict[str, Log], tmp_path: Path) -> None:
    log = logs["two-stream"]

    unchecked = verify_directory(log.directory)
    wrong = verify_directory(log.directory, key_file=ed25519_keys(tmp_path, "other")[1])
    private = verify_directory(log.directory, key_file=log.signing_key)

    # Without the key the chain holds but the signatures are unproven: not a pass.
    assert unchecked.verdict == "unverified"
    assert not unchecked.ok
    assert not unchecked.problems
    assert unchecked.unchecked_signatures == unchecked.streams["w0"].checkpoints + (
        unchecked.streams["w1"].checkpoints
    )
    assert unchecked.render().splitlines()[-1].startswith("UNVERIFIED: the chain is intact")
    assert "pass --key" in unchecked.render().splitlines()[-1]
    assert private.ok  # the private key verifies as well as the public one
    assert not wrong.ok
    # A wrong key is one problem per stream, not one per checkpoint.
    assert [p.kind for p in wrong.problems] == ["signature", "signature"]
    assert "give --key the key that signs this log" in wrong.problems[0].message


def test_unsigned_checkpoints_are_a_warning_not_tampering(tmp_path: Path) -> None:
    write_log(tmp_path, 30, settings=SMALL)

    report = verify_directory(tmp_path, key_file=hmac_key(tmp_path.parent))

    assert report.ok
    assert any("unsigned (alg none" in note for note in report.notes)


def test_a_crash_leaves_an_unclosed_stream_that_is_intact(tmp_path: Path) -> None:
    abandon(write_log(tmp_path, 23, settings=SMALL, close=False))

    crashed = verify_directory(tmp_path)
    write_log(tmp_path, 5, settings=SMALL)
    restarted = verify_directory(tmp_path)

    assert crashed.ok, crashed.render()
    last_seq = crashed.streams["w0"].last_seq
    assert any(
        f"did not close the stream cleanly (crash or truncation after seq {last_seq}" in note
        for note in crashed.notes
    )
    assert any("protected by the chain only" in note for note in crashed.notes)
    assert restarted.ok, restarted.render()
    start = first_record_of_last_run(tmp_path)
    assert start["previous"] == "unclosed"
    assert start["seq"] == last_seq + 1


def test_a_partial_line_from_a_crash_is_a_note(tmp_path: Path) -> None:
    abandon(write_log(tmp_path, 23, settings=SMALL, close=False))
    last = records.list_streams(tmp_path)["w0"][-1]
    complete = len(read_lines_of(last.path))
    intact_to = json.loads(read_lines_of(last.path)[-1])["seq"]
    with open(last.path, "ab") as handle:
        handle.write(b'{"type":"decision","seq":9')  # the write a SIGKILL interrupted

    at_the_end = verify_directory(tmp_path)
    write_log(tmp_path, 5, settings=SMALL)
    after_restart = verify_directory(tmp_path)

    note = (
        f"partial line from an interrupted write at {last.path.name}:{complete + 1}; "
        f"the log is intact up to seq {intact_to}"
    )
    assert at_the_end.ok
    assert any(note in n for n in at_the_end.notes)
    assert after_restart.ok, after_restart.render()
    assert any(note in n for n in after_restart.notes)
    start = first_record_of_last_run(tmp_path)
    assert start["partial_line"] == {"file": last.path.name, "line": complete + 1}


def test_a_real_sigkill_mid_stream_verifies_intact(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from tests.server.decisionlog.support import decision_record\n"
        "from quanze.server.decisionlog.writer import StreamWriter, WriterSettings\n"
        "w = StreamWriter(Path(sys.argv[1]), settings=WriterSettings(max_file_bytes=4000, "
        "checkpoint_records=12, compress=False))\n"
        "w.open()\n"
        "for i in range(20):\n"
        "    w.append([decision_record(i)])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(root)], check=False, timeout=60
    )
    assert done.returncode == -signal.SIGKILL

    write_log(tmp_path, 3, settings=SMALL)
    report = verify_directory(tmp_path)

    assert first_record_of_last_run(tmp_path)["previous"] == "unclosed"
    assert report.ok, report.render()
    on_disk = sum(len(read_lines_of(path)) for path in tmp_path.glob("decisions-*"))
    assert report.streams["w0"].records == on_disk


def test_an_anchor_catches_a_cut_off_tail(tmp_path: Path) -> None:
    write_log(tmp_path, 30, settings=SMALL)
    anchors = [str(a) for a in verify_directory(tmp_path).anchors()]
    assert len(anchors) == 1
    last = records.list_streams(tmp_path)["w0"][-1]
    lines = read_lines_of(last.path)
    write_lines(last.path, lines[:-2])  # the tail goes, the rest still chains

    without = verify_directory(tmp_path)
    with_anchor = verify_directory(tmp_path, anchors=anchors)

    assert without.ok  # a cut-off tail chains: only the anchor can tell
    assert any("did not close the stream cleanly" in note for note in without.notes)
    assert [p.kind for p in with_anchor.problems] == ["truncated"]
    problem = with_anchor.problems[0]
    assert (problem.file, problem.line) == (last.path.name, len(lines) - 1)


def test_an_anchor_catches_a_changed_last_record(tmp_path: Path) -> None:
    write_log(tmp_path, 10, settings=SMALL)
    anchors = [str(a) for a in verify_directory(tmp_path).anchors()]
    last = records.list_streams(tmp_path)["w0"][-1]
    lines = read_lines_of(last.path)
    record = json.loads(lines[-1])
    record["timestamp"] = "2026-01-01T00:00:00.000000Z"  # nothing follows it in the chain
    write_lines(last.path, [*lines[:-1], records.dumps(record).encode()])

    report = verify_directory(tmp_path, anchors=anchors)

    assert [p.kind for p in report.problems] == ["modified"]
    assert report.problems[0].line == len(lines)


def test_bad_anchors_and_directories_are_errors(tmp_path: Path) -> None:
    with pytest.raises(QuanzeError, match="expected STREAM:SEQ:HASH"):
        parse_anchor("w0:12:nothex")
    with pytest.raises(QuanzeError, match="does not exist"):
        verify_directory(tmp_path / "missing")
    with pytest.raises(QuanzeError, match="no decision-log files"):
        verify_directory(tmp_path)


@pytest.mark.parametrize("source", ["pod-7f9c", "svc@node-3", "cases:8600", "a.b_c"])
def test_an_anchor_of_any_ship_source_reads_back(source: str) -> None:
    """verify --db prints `<source>/<stream>:SEQ:HASH` for every name ship accepts."""
    assert ship_source_problem(source) == ""
    printed = f"{source}/w0:42:{'ab' * 32}"
    assert str(parse_anchor(printed)) == printed


def test_a_deleted_stream_is_caught_by_its_anchor(tmp_path: Path) -> None:
    write_log(tmp_path, 5, settings=SMALL)
    anchor = f"w1:7:{'ab' * 32}"

    report = verify_directory(tmp_path, anchors=[anchor])

    assert [(p.kind, p.stream) for p in report.problems] == [("deleted", "w1")]


class FailingFile:
    """A log file whose next write stops part-way (disk full) and cannot be rolled back."""

    def __init__(self, real: Any, keep: int) -> None:
        self._real = real
        self._keep = keep

    def write(self, data: bytes) -> int:
        self._real.write(data[: self._keep])
        self._real.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def truncate(self, _size: int) -> int:
        raise OSError(errno.EIO, "Input/output error")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_records_left_by_a_failed_write_are_not_tampering(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path, settings=SMALL)
    writer.open()
    writer.append([decision_record(0), decision_record(1)])
    line = len(records.dumps({"x": decision_record(2)})) + 120
    writer._file = FailingFile(writer._file, keep=2 * line + line // 2)
    with pytest.raises(OSError, match="No space"):
        writer.append([decision_record(i) for i in range(2, 6)])
    writer.append([decision_record(6)])  # a new file, whose start record says write_failed
    writer.close()
    left_behind = read_bytes(records.list_streams(tmp_path)["w0"][0].path).split(b"\n")

    report = verify_directory(tmp_path)

    assert first_record_of_last_run(tmp_path)["previous"] == "write_failed"
    assert len(left_behind) >= 5, "the failed write must leave whole lines and a partial one"
    assert report.ok, report.render()
    assert any("were left by a write that failed" in note for note in report.notes)
    assert any("partial line from an interrupted write" in note for note in report.notes)


def test_a_damaged_gzip_file_is_reported_where_reading_stops(tmp_path: Path) -> None:
    write_log(tmp_path, 30, settings=SMALL)
    victim = records.list_streams(tmp_path)["w0"][1].path
    assert victim.suffix == ".gz"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])

    report = verify_directory(tmp_path)

    assert [(p.kind, p.file) for p in report.problems] == [("truncated", victim.name)]
    assert "gzip data is damaged" in report.problems[0].message


def test_a_stray_line_that_is_not_a_record_is_an_insertion(tmp_path: Path) -> None:
    write_log(tmp_path, 30, settings=SMALL)
    view = LogView.load(tmp_path)
    before = view.streams["w0"][9]
    view.insert(before, b"# operator was here")
    view.save()

    report = verify_directory(tmp_path)

    assert [(p.kind, p.file, p.line) for p in report.problems] == [
        ("inserted", before.file.name, before.line)
    ]


def test_a_wrecked_log_lists_a_bounded_number_of_problems(tmp_path: Path) -> None:
    write_log(tmp_path, 5, settings=SMALL)
    last = records.list_streams(tmp_path)["w0"][-1].path
    with open(last, "ab") as handle:
        handle.write(b"garbage\n" * 1_500)

    report = verify_directory(tmp_path)

    assert len(report.problems) == 1_000
    assert report.problem_count == 1_500
    assert "… and 500 more problems not listed" in report.render()
    assert report.render().splitlines()[-1] == "TAMPERED: 1,500 problems in 1 stream"


def test_progress_goes_to_stderr_when_asked(
    logs: dict[str, Log], capsys: pytest.CaptureFixture[str]
) -> None:
    verify_directory(logs["restarted"].directory, progress=True)
    shown = capsys.readouterr()
    verify_directory(logs["restarted"].directory, progress=False)
    quiet = capsys.readouterr()

    assert "verifying:" in shown.err
    assert quiet.err == ""
    assert shown.out == quiet.out == ""


# ---------------------------------------------------------------------------- classification


def test_each_kind_of_tampering_is_named(tmp_path: Path) -> None:
    """One clear case per kind: the kind and place a reader of the report needs."""
    key = hmac_key(tmp_path)
    source = tmp_path / "source"
    write_log(source, 60, settings=SMALL, signer=load_signer(key))
    view = LogView.load(source)
    record = view.streams["w0"][20]  # in the middle of a compressed file
    follower = view.streams["w0"][21]

    def verify(tamper: Callable[[LogView], None]) -> VerifyReport:
        target = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        shutil.copytree(source, target)
        copy = LogView.load(target)
        tamper(copy)
        copy.save()
        return verify_directory(target, key_file=key)

    def modify(v: LogView) -> None:
        v.replace(record, change_field(record.raw, "result"))

    def checkpoint_forgery(v: LogView) -> None:
        checkpoint = next(r for r in reversed(v.streams["w0"]) if r.type == "checkpoint")
        v.replace(checkpoint, forge_signature(checkpoint.raw, random.Random(1)))

    def place(r: RecordAt) -> set[tuple[str, int]]:
        return {(r.file.name, r.line)}

    last_checkpoint = next(r for r in reversed(view.streams["w0"]) if r.type == "checkpoint")
    cases: list[tuple[Callable[[LogView], None], str, set[tuple[str, int]]]] = [
        (modify, "modified", place(record)),
        (lambda v: v.delete([record]), "deleted", place(record)),
        (lambda v: v.insert(follower, view.streams["w0"][5].raw), "inserted", place(follower)),
        (lambda v: v.swap(record, follower), "reordered", place(record) | place(follower)),
        (lambda v: v.replace(record, b"not json at all"), "malformed", place(record)),
        (checkpoint_forgery, "signature", place(last_checkpoint)),
    ]
    for tamper, kind, places in cases:
        report = verify(tamper)
        assert [p.kind for p in report.problems] == [kind], report.render()
        problem = report.problems[0]
        assert any(
            problem.file == name and abs((problem.line or 0) - line) <= 1 for name, line in places
        ), report.render()
        assert report.render().splitlines()[-1] == "TAMPERED: 1 problem in 1 stream"


def test_a_deletion_says_which_records_are_missing_and_where(tmp_path: Path) -> None:
    write_log(tmp_path, 40, settings=SMALL)
    view = LogView.load(tmp_path)
    stream = view.streams["w0"]
    doomed = [r for r in stream if r.file == stream[20].file]
    middle = stream[20].file
    view.delete_file(middle)
    view.save()

    report = verify_directory(tmp_path)

    assert [p.kind for p in report.problems] == ["deleted"]
    message = report.problems[0].message
    assert f"seq {doomed[0].seq}..{doomed[-1].seq} missing between" in message
    assert f"file number {middle.name.split('-')[2]} of stream w0 is missing" in message


def test_a_truncated_rotated_file_is_truncated(tmp_path: Path) -> None:
    write_log(tmp_path, 40, settings=SMALL)
    view = LogView.load(tmp_path)
    victim = view.files[2]
    cut = len(victim.lines) - 2
    victim.lines = victim.lines[:cut]
    view.save()

    report = verify_directory(tmp_path)

    assert [(p.kind, p.file, p.line) for p in report.problems] == [
        ("truncated", victim.path.name, cut + 1)
    ]


# ---------------------------------------------------------------------------- random trials


TRIAL_KINDS = (
    "modify",
    "delete",
    "delete-run",
    "insert-copy",
    "insert-forged",
    "swap",
    "truncate-file",
    "truncate-mid-line",
    "delete-middle-file",
    "delete-first-files",
    "forge-signature",
    "cut-tail-anchored",
    "rechain",
)
TRIALS_PER_KIND = 40


@dataclass
class Spot:
    """Where a trial tampered: places (file name, line) and seqs a report should point to."""

    stream: str
    places: set[tuple[str, int]] = field(default_factory=set)
    seqs: set[int] = field(default_factory=set)

    def found_by(self, report: VerifyReport) -> bool:
        for problem in report.problems:
            if problem.stream != self.stream:
                continue
            if (
                problem.file is not None
                and problem.line is not None
                and any(
                    problem.file == name and abs(problem.line - line) <= 1
                    for name, line in self.places
                )
            ):
                return True
            if problem.seq is not None and any(abs(problem.seq - s) <= 1 for s in self.seqs):
                return True
        return False


def test_random_tampering_is_always_found_where_it_happened(
    logs: dict[str, Log], tmp_path: Path
) -> None:
    rng = random.Random(20261130)
    anchors = {
        name: [str(a) for a in verify_directory(log.directory).anchors()]
        for name, log in logs.items()
    }
    tried: Counter[str] = Counter()
    problem_counts: list[int] = []
    for trial in range(TRIALS_PER_KIND * len(TRIAL_KINDS)):
        kind = TRIAL_KINDS[trial % len(TRIAL_KINDS)]
        name = rng.choice(list(logs))
        log = logs[name]
        target = tmp_path / f"trial{trial}"
        shutil.copytree(log.directory, target)
        view = LogView.load(target)
        spot, use_anchor = TAMPER[kind](view, rng, log)
        view.save()

        report = verify_directory(
            target, key_file=log.key, anchors=anchors[name] if use_anchor else ()
        )

        context = f"trial {trial} ({kind} on {name}):\n{report.render()}\nexpected {spot}"
        assert not report.ok, context
        assert spot.found_by(report), context
        tried[kind] += 1
        if kind != "rechain":
            problem_counts.append(len(report.problems))
        shutil.rmtree(target)
    assert set(tried) == set(TRIAL_KINDS)
    # One tampering, one place: no cascade of problems through the rest of the log.
    assert max(problem_counts) <= 4, Counter(problem_counts)


def tamper_modify(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, chain = view.pick_stream(rng)
    # The last record has no successor to betray it: anchors cover it (its own test).
    record = rng.choice(chain[:-1])
    what = rng.choice(record_fields(record))
    view.replace(record, change_field(record.raw, what))
    return Spot(stream, {(record.file.name, record.line)}, {record.seq}), False


def tamper_delete(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, chain = view.pick_stream(rng)
    record = rng.choice(chain[:-1])
    view.delete([record])
    return Spot(stream, {(record.file.name, record.line)}, {record.seq}), False


def tamper_delete_run(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, chain = view.pick_stream(rng)
    count = rng.randint(2, 6)
    first = rng.randrange(0, len(chain) - count - 1)
    doomed = chain[first : first + count]
    view.delete(doomed)
    return Spot(stream, {(r.file.name, r.line) for r in doomed}, {r.seq for r in doomed}), False


def tamper_insert_copy(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, chain = view.pick_stream(rng)
    copied = rng.choice(chain)
    before = rng.choice(chain)
    view.insert(before, copied.raw)
    return Spot(stream, {(before.file.name, before.line)}, set()), False


def tamper_insert_forged(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    """A new record with the right seq and prev_hash for its place (the chain is unkeyed)."""
    stream, chain = view.pick_stream(rng)
    # After a crashed run's last record a forgery would be a valid continuation: not tampering
    # the chain can show, so put it before a record that follows.
    index = rng.randrange(0, len(chain) - 1)
    after, following = chain[index], chain[index + 1]
    record = {
        "type": "decision",
        "seq": after.seq + 1,
        **decision_record(rng.randrange(1000), rng=rng),
        "prev_hash": records.line_hash(after.raw),
    }
    forged = records.dumps(record).encode()
    if rng.random() < 0.5 or following.file != after.file:
        view.insert(following, forged)  # just before the next record (maybe at a file start)
        place = (following.file.name, following.line)
    else:
        view.insert_after(after, forged)
        place = (after.file.name, after.line + 1)
    return Spot(stream, {place}, {after.seq + 1}), False


def tamper_swap(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, chain = view.pick_stream(rng)
    first = rng.randrange(0, len(chain) - 2)
    distance = rng.choice([1, 1, 2, 3, 5, 8, 40])
    second = min(first + distance, len(chain) - 2)
    a, b = chain[first], chain[second]
    view.swap(a, b)
    return Spot(stream, {(a.file.name, a.line), (b.file.name, b.line)}, {a.seq, b.seq}), False


def tamper_truncate_file(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, files = view.pick_files(rng)
    victim = rng.choice(files[:-1])
    keep = rng.randrange(0, len(victim.lines))
    lost = [r for r in view.streams[stream] if r.file == victim.path and r.line > keep]
    victim.lines = victim.lines[:keep]
    return Spot(stream, {(victim.path.name, keep + 1)}, {r.seq for r in lost}), False


def tamper_truncate_mid_line(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, files = view.pick_files(rng)
    victim = rng.choice(files[:-1])
    keep = rng.randrange(0, len(victim.lines))
    lost = [r for r in view.streams[stream] if r.file == victim.path and r.line > keep]
    line = victim.lines[keep]
    victim.partial = line[: rng.randrange(1, len(line) - 1)]
    victim.lines = victim.lines[:keep]
    return Spot(stream, {(victim.path.name, keep + 1)}, {r.seq for r in lost}), False


def tamper_delete_middle_file(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, files = view.pick_files(rng)
    victim = rng.choice(files[1:-1])
    lost = [r for r in view.streams[stream] if r.file == victim.path]
    view.delete_file(victim.path)
    return Spot(stream, set(), {r.seq for r in lost}), False


def tamper_delete_first_files(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, files = view.pick_files(rng)
    count = rng.randint(1, 3)
    lost = [r for r in view.streams[stream] if r.file in {f.path for f in files[:count]}]
    for victim in files[:count]:
        view.delete_file(victim.path)
    return Spot(stream, set(), {r.seq for r in lost}), False


def tamper_forge_signature(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    stream, chain = view.pick_stream(rng)
    checkpoint = rng.choice([r for r in chain if r.type == "checkpoint"])
    view.replace(checkpoint, forge_signature(checkpoint.raw, rng))
    return Spot(stream, {(checkpoint.file.name, checkpoint.line)}, {checkpoint.seq}), False


def tamper_cut_tail(view: LogView, rng: random.Random, _log: Log) -> tuple[Spot, bool]:
    """Records cut off the end: they chain, so only the anchor kept from before tells."""
    stream, chain = view.pick_stream(rng)
    count = rng.randint(1, 12)
    lost = chain[-count:]
    view.delete(lost)
    return Spot(stream, {(r.file.name, r.line) for r in lost}, {r.seq for r in lost}), True


def tamper_rechain(view: LogView, rng: random.Random, log: Log) -> tuple[Spot, bool]:
    """Change a record and rewrite every prev_hash after it: only a signature can tell."""
    assert log.key is not None
    stream, chain = view.pick_stream(rng)
    index = rng.randrange(0, len(chain) - 1)
    view.replace(chain[index], change_field(chain[index].raw, "timestamp"))
    view.rechain(stream)
    checkpoint = next(r for r in chain[index:] if r.type == "checkpoint")
    return Spot(stream, {(checkpoint.file.name, checkpoint.line)}, {checkpoint.seq}), False


TAMPER: dict[str, Callable[[LogView, random.Random, Log], tuple[Spot, bool]]] = {
    "modify": tamper_modify,
    "delete": tamper_delete,
    "delete-run": tamper_delete_run,
    "insert-copy": tamper_insert_copy,
    "insert-forged": tamper_insert_forged,
    "swap": tamper_swap,
    "truncate-file": tamper_truncate_file,
    "truncate-mid-line": tamper_truncate_mid_line,
    "delete-middle-file": tamper_delete_middle_file,
    "delete-first-files": tamper_delete_first_files,
    "forge-signature": tamper_forge_signature,
    "cut-tail-anchored": tamper_cut_tail,
    "rechain": tamper_rechain,
}


def test_a_rewritten_chain_passes_without_a_key_and_fails_with_it(
    logs: dict[str, Log], tmp_path: Path
) -> None:
    """What the unkeyed chain cannot show, the signatures do: the reason to pass --key."""
    log = logs["restarted"]
    shutil.copytree(log.directory, tmp_path / "log")
    view = LogView.load(tmp_path / "log")
    chain = view.streams["w0"]
    view.replace(chain[30], change_field(chain[30].raw, "result"))
    view.rechain("w0")
    view.save()

    without = verify_directory(tmp_path / "log")
    keyed = verify_directory(tmp_path / "log", key_file=log.key)

    assert without.verdict == "unverified"  # the chain holds; only the signatures could tell
    assert not without.problems
    assert not keyed.ok
    assert {p.kind for p in keyed.problems} == {"signature"}


# ---------------------------------------------------------------------------- reopened logs


def reopened_log(directory: Path, *, rotate: bool) -> StreamWriter:
    """A log whose writer found its directory deleted while writing (with `rotate`, after two
    files were finished: their records are lost), and put back the file it had open."""
    settings = WriterSettings(compress=False, max_file_bytes=2000 if rotate else 10**6)
    writer = StreamWriter(directory, settings=settings)
    writer.open()
    for first in range(0, 9, 3):
        writer.append([decision_record(i) for i in range(first, first + 3)])
    shutil.rmtree(directory)
    writer.append([decision_record(9)])
    writer.close()
    return writer


def test_a_reopen_the_writer_reported_is_not_tampering_but_is_not_a_pass(tmp_path: Path) -> None:
    reopened_log(tmp_path / "log", rotate=False)

    report = verify_directory(tmp_path / "log")

    assert not report.problems
    assert report.verdict == "reopened"
    (reopen,) = report.reopens
    assert reopen.line == 1
    assert "found its directory deleted while serving" in reopen.message
    assert (
        report.render()
        .splitlines()[-1]
        .startswith("REOPENED: 1 stream, 13 records, 2 files, none missing")
    )
    assert report.to_json()["verdict"] == "reopened"


def test_records_the_writer_lost_with_its_directory_make_the_log_incomplete(
    tmp_path: Path,
) -> None:
    reopened_log(tmp_path / "log", rotate=True)

    report = verify_directory(tmp_path / "log")

    assert not report.problems, report.render()
    assert report.verdict == "incomplete"
    (lost,) = report.lost
    start = next(r for r in records_in(tmp_path / "log") if r["type"] == "start")
    assert lost.seq == start["lost_seqs"][0] == 1
    assert report.streams["w0"].lost == start["lost_seqs"][1]
    assert (
        report.render()
        .splitlines()[-1]
        .startswith(f"INCOMPLETE: {start['lost_seqs'][1]} records missing, lost with a directory")
    )


def test_the_writers_word_covers_only_what_it_says(tmp_path: Path) -> None:
    # Deleting the file the writer put back is not explained by its start record.
    directory = tmp_path / "log"
    reopened_log(directory, rotate=True)
    start = next(r for r in records_in(directory) if r["type"] == "start")
    (directory / start["restored"]["file"]).unlink()

    report = verify_directory(directory)

    assert report.verdict == "tampered"
    assert [p.kind for p in report.problems] == ["deleted"]
    assert not report.lost


def test_a_reopened_start_record_that_does_not_fit_the_chain_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    reopened_log(directory, rotate=False)
    view = LogView.load(directory)
    start = next(e for e in view.streams["w0"] if b'"previous":"reopened"' in e.raw)
    view.replace(start, start.raw.replace(b'"seqs":[1,', b'"seqs":[2,').replace(b",11]", b",10]"))
    view.rechain("w0")
    view.save()

    report = verify_directory(directory)

    assert report.verdict == "tampered"
    assert any("the record before it is seq 11" in p.message for p in report.problems)


def test_a_reopened_start_record_cannot_write_to_the_terminal(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    reopened_log(directory, rotate=False)
    view = LogView.load(directory)
    start = next(e for e in view.streams["w0"] if b'"previous":"reopened"' in e.raw)
    record = json.loads(start.raw)
    record["restored"]["file"] = "\x1b[2J\u202eforged"
    view.replace(start, records.dumps(record).encode())
    view.rechain("w0")
    view.save()

    report = verify_directory(directory)

    assert [p.kind for p in report.problems] == ["malformed"]
    assert "\\x1b[2J\\u202eforged" in report.problems[0].message  # shown escaped (repr)
    assert "\x1b" not in report.render()
    assert "\u202e" not in report.render()


# ---------------------------------------------------------------------------- the command


def run_cli(argv: list[str]) -> int:
    from quanze.server import cli  # noqa: PLC0415 - the server's imports are heavy; only here

    return cli.main(argv)


def test_the_command_says_intact_and_exits_0(
    logs: dict[str, Log], capsys: pytest.CaptureFixture[str]
) -> None:
    log = logs["restarted"]

    status = run_cli(["logs", "verify", str(log.directory), "--key", str(log.key)])

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[-1].startswith("intact: 1 stream, ")
    anchor = next(line for line in out if line.startswith("anchor w0:"))
    assert parse_anchor(anchor.removeprefix("anchor ")).stream == "w0"


def test_the_command_lists_problems_and_exits_1(
    logs: dict[str, Log], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(logs["restarted"].directory, tmp_path / "log")
    view = LogView.load(tmp_path / "log")
    record = view.streams["w0"][10]
    view.delete([record])
    view.save()

    status = run_cli(["logs", "verify", str(tmp_path / "log"), "--no-progress"])

    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0].startswith(f"{record.file.name}:{record.line}: deleted: records seq {record.seq}")
    assert out[-1] == "TAMPERED: 1 problem in 1 stream"


def test_a_signed_log_without_a_key_is_unverified_and_fails(
    logs: dict[str, Log], capsys: pytest.CaptureFixture[str]
) -> None:
    log = logs["restarted"]

    status = run_cli(["logs", "verify", str(log.directory), "--no-progress"])

    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[-1].startswith("UNVERIFIED: the chain is intact (1 stream, ")
    assert "were not checked: pass --key with the Ed25519 public key or HMAC secret" in out[-1]
    assert not any(line.startswith("note: the signatures") for line in out)  # said once
    assert any(line.startswith("anchor w0:") for line in out)  # the chain itself held


def test_the_command_writes_json(logs: dict[str, Log], capsys: pytest.CaptureFixture[str]) -> None:
    log = logs["two-stream"]

    status = run_cli(
        ["logs", "verify", str(log.directory), "--key", str(log.key), "--format", "json"]
    )

    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["ok"] is True
    assert set(document["streams"]) == {"w0", "w1"}
    assert len(document["anchors"]) == 2


def test_the_command_explains_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = run_cli(["logs", "verify", str(tmp_path / "nowhere")])
    missing_err = capsys.readouterr().err
    bad_anchor = run_cli(["logs", "verify", str(tmp_path), "--anchor", "w0:x"])
    bad_anchor_err = capsys.readouterr().err
    write_log(tmp_path, 3, settings=SMALL)
    no_key = run_cli(["logs", "verify", str(tmp_path), "--key", str(tmp_path / "none.pub")])
    no_key_err = capsys.readouterr().err

    assert (missing, bad_anchor, no_key) == (1, 1, 1)
    assert "does not exist" in missing_err
    assert "expected STREAM:SEQ:HASH" in bad_anchor_err
    assert "cannot read the key file" in no_key_err


# ---------------------------------------------------------------------------- helpers


@dataclass
class FileView:
    """One log file's lines, decompressed."""

    path: Path
    lines: list[bytes]
    partial: bytes = b""
    deleted: bool = False
    loaded: tuple[tuple[bytes, ...], bytes] = ((), b"")

    @classmethod
    def load(cls, path: Path) -> FileView:
        data = read_bytes(path)
        lines = data.split(b"\n")
        partial = lines.pop()
        return cls(path, lines, partial, loaded=(tuple(lines), partial))

    def save(self) -> None:
        if self.deleted:
            self.path.unlink()
            return
        if (tuple(self.lines), self.partial) == self.loaded:
            return  # untouched: keep the writer's own bytes
        data = b"".join(line + b"\n" for line in self.lines) + self.partial
        self.path.write_bytes(gzip.compress(data) if self.path.suffix == ".gz" else data)


@dataclass(frozen=True)
class RecordAt:
    """One record of the untouched log: where it was and what it was."""

    file: Path
    line: int
    seq: int
    type: str
    raw: bytes


class LogView:
    """A log directory's files as lines, to tamper with and write back."""

    def __init__(self, files: list[FileView], streams: dict[str, list[RecordAt]]) -> None:
        self.files = files
        self.streams = streams
        self.by_name = {f.path.name: f for f in files}

    @classmethod
    def load(cls, directory: Path) -> LogView:
        files: list[FileView] = []
        streams: dict[str, list[RecordAt]] = {}
        for stream, log_files in records.list_streams(directory).items():
            chain = streams.setdefault(stream, [])
            for log_file in log_files:
                view = FileView.load(log_file.path)
                files.append(view)
                for number, line in enumerate(view.lines, start=1):
                    record = json.loads(line)
                    chain.append(
                        RecordAt(log_file.path, number, record["seq"], record["type"], line)
                    )
        return cls(files, streams)

    def save(self) -> None:
        for view in self.files:
            view.save()

    def pick_stream(self, rng: random.Random) -> tuple[str, list[RecordAt]]:
        stream = rng.choice(sorted(self.streams))
        return stream, self.streams[stream]

    def pick_files(self, rng: random.Random) -> tuple[str, list[FileView]]:
        stream = rng.choice(sorted(self.streams))
        return stream, [f for f in self.files if f.path.name.startswith(f"decisions-{stream}-")]

    def _index(self, record: RecordAt) -> tuple[FileView, int]:
        view = self.by_name[record.file.name]
        return view, view.lines.index(record.raw)

    def replace(self, record: RecordAt, raw: bytes) -> None:
        assert raw != record.raw
        view, index = self._index(record)
        view.lines[index] = raw

    def delete(self, doomed: list[RecordAt]) -> None:
        for record in doomed:
            view, index = self._index(record)
            del view.lines[index]

    def insert(self, before: RecordAt, raw: bytes) -> None:
        view, index = self._index(before)
        view.lines.insert(index, raw)

    def insert_after(self, after: RecordAt, raw: bytes) -> None:
        view, index = self._index(after)
        view.lines.insert(index + 1, raw)

    def swap(self, a: RecordAt, b: RecordAt) -> None:
        view_a, index_a = self._index(a)
        view_b, index_b = self._index(b)
        view_a.lines[index_a], view_b.lines[index_b] = b.raw, a.raw

    def delete_file(self, path: Path) -> None:
        self.by_name[path.name].deleted = True

    def rechain(self, stream: str) -> None:
        """Recompute every prev_hash of `stream` in file order, as a forger would."""
        previous = None
        for view in self.files:
            if not view.path.name.startswith(f"decisions-{stream}-") or view.deleted:
                continue
            for index, line in enumerate(view.lines):
                record = json.loads(line)
                if previous is not None:
                    record["prev_hash"] = records.line_hash(previous)
                view.lines[index] = previous = records.dumps(record).encode()


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def read_lines_of(path: Path) -> list[bytes]:
    return [line for line in read_bytes(path).split(b"\n") if line]


def write_lines(path: Path, lines: list[bytes]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def first_record_of_last_run(directory: Path) -> dict[str, Any]:
    starts = [
        json.loads(line)
        for f in records.list_streams(directory)["w0"]
        for line in read_lines_of(f.path)
        if b'"type":"start"' in line
    ]
    return starts[-1]


def record_fields(record: RecordAt) -> list[str]:
    if record.type == "decision":
        return ["result", "subject", "timestamp", "decision_id", "escalate_to", "seq", "prev_hash"]
    if record.type == "checkpoint":
        return ["timestamp", "reason", "retained_from_seq", "seq", "prev_hash"]
    return ["timestamp", "previous", "seq", "prev_hash"]


def change_field(raw: bytes, what: str) -> bytes:
    """The record with one value changed, serialised as the writer does."""
    record = json.loads(raw)
    if what == "result":
        record["result"] = not record["result"]
    elif what == "subject":
        record["input"]["subject"]["id"] = "u-forged"
    elif what == "timestamp":
        record["timestamp"] = "2020-01-01T00:00:00.000000Z"
    elif what == "decision_id":
        record["decision_id"] = "00000000-0000-4000-8000-999999999999"
    elif what == "escalate_to":
        record["escalate_to"] = "committee" if record["escalate_to"] != "committee" else ""
    elif what == "seq":
        record["seq"] += 1
    elif what == "prev_hash":
        record["prev_hash"] = hashlib.sha256(b"forged").hexdigest()
    elif what == "reason":
        record["reason"] = "interval" if record["reason"] != "interval" else "shutdown"
    elif what == "retained_from_seq":
        record["retained_from_seq"] += 1
    elif what == "previous":
        record["previous"] = "closed" if record["previous"] != "closed" else "unclosed"
    return records.dumps(record).encode()


def forge_signature(raw: bytes, rng: random.Random) -> bytes:
    """The checkpoint with a signature that is not the writer's (same algorithm, same key id)."""
    record = json.loads(raw)
    signature = record["signature"]
    length = len(base64.b64decode(signature["value"]))
    signature["value"] = base64.b64encode(rng.randbytes(length)).decode()
    return records.dumps(record).encode()
