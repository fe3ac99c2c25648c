"""The writer when its file or directory is deleted or replaced under it, its files' modes, and
the directory syncs that make new and removed names durable. Real files in temp directories."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quanze.server.decisionlog import disk, records
from quanze.server.decisionlog.reader import all_files, read_lines
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from tests.server.decisionlog.support import decision_record, records_in

PLAIN = WriterSettings(compress=False)


def ids(directory: Path) -> list[str]:
    return [r["decision_id"] for r in records_in(directory, records.DECISION)]


def expected_ids(indexes: range) -> list[str]:
    return [decision_record(i)["decision_id"] for i in indexes]


def assert_one_chain(directory: Path) -> None:
    """Every record of the directory, in file order, chains to the one before."""
    previous, seq = None, None
    for log_file in all_files(directory):
        for line in read_lines(log_file):
            record = json.loads(line.raw)
            if previous is not None:
                assert record["prev_hash"] == previous, f"{log_file.path.name}:{line.number}"
                assert record["seq"] == seq + 1
            previous, seq = records.line_hash(line.raw), record["seq"]


def starts(directory: Path) -> list[dict[str, Any]]:
    return records_in(directory, records.START)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[StreamWriter]:
    log = StreamWriter(tmp_path / "log", settings=PLAIN)
    log.open()
    log.append([decision_record(i) for i in range(3)])
    yield log
    log.close()


def current(writer: StreamWriter) -> Path:
    return writer._path


# ---------------------------------------------------------------------------- the file


def test_a_deleted_file_is_put_back_before_the_write_that_found_it_returns(
    writer: StreamWriter,
) -> None:
    directory = writer.directory
    lost = current(writer)
    before = lost.read_bytes()
    lost.unlink()

    writer.append([decision_record(i) for i in range(3, 5)])  # returns: the records are safe

    restored = lost.read_bytes()
    assert restored.startswith(before)
    assert ids(directory) == expected_ids(range(5))
    (start,) = starts(directory)[1:]
    assert start["previous"] == "reopened"
    assert start["fault"] == "file_deleted"
    assert start["restored"] == {"file": lost.name, "seqs": [1, 6]}
    assert "lost_seqs" not in start
    assert "foreign_file" not in start
    assert current(writer) != lost  # it goes on in a new file that begins with that record
    assert writer.reopens == 1
    writer.append([decision_record(5)])
    writer.close()
    assert ids(directory) == expected_ids(range(6))
    assert_one_chain(directory)
    report = verify_directory(directory)
    assert report.verdict == "reopened", report.render()
    assert [r.kind for r in report.reopens] == ["reopened"]
    assert "its file " + lost.name + " deleted while serving" in report.reopens[0].message


def test_a_moved_file_is_copied_back_and_the_moved_one_left_alone(
    writer: StreamWriter, tmp_path: Path
) -> None:
    lost = current(writer)
    elsewhere = tmp_path / "archived.jsonl"
    os.rename(lost, elsewhere)
    writer.append([decision_record(3)])
    assert starts(writer.directory)[-1]["fault"] == "file_moved"
    assert lost.read_bytes().startswith(elsewhere.read_bytes())
    assert ids(writer.directory) == expected_ids(range(4))


def test_a_replaced_file_is_moved_aside_not_overwritten(writer: StreamWriter) -> None:
    # Someone puts an earlier copy in place of the file, hiding the records written since.
    lost = current(writer)
    earlier = lost.read_bytes()
    writer.append([decision_record(3)])
    forged = lost.with_name("forged")
    forged.write_bytes(earlier)
    os.replace(forged, lost)

    writer.append([decision_record(4)])

    (start,) = starts(writer.directory)[1:]
    assert start["fault"] == "file_replaced"
    aside = writer.directory / start["foreign_file"]
    assert start["foreign_file"].startswith(lost.name + ".foreign-")
    assert aside.read_bytes() == earlier  # kept as it was, under a name no reader takes
    assert records.parse_file_name(aside) is None
    assert ids(writer.directory) == expected_ids(range(5))
    writer.close()
    assert_one_chain(writer.directory)
    assert verify_directory(writer.directory).verdict == "reopened"


def test_a_file_lost_just_before_it_rotates_ends_with_its_rotation_checkpoint(
    tmp_path: Path,
) -> None:
    log = StreamWriter(tmp_path / "log", settings=WriterSettings(max_file_bytes=2000))
    log.open()
    log.append([decision_record(i) for i in range(3)])  # past the size: the next write rotates
    lost = current(log)
    lost.unlink()

    log.append([decision_record(3)])
    log.close()

    last = json.loads(lost.read_bytes().splitlines()[-1])  # put back, not compressed
    assert (last["type"], last["reason"]) == ("checkpoint", "rotation")
    assert ids(log.directory) == expected_ids(range(4))
    assert_one_chain(log.directory)
    report = verify_directory(log.directory)
    assert report.verdict == "reopened", report.render()


def test_upkeep_puts_a_lost_file_back_without_waiting_for_a_decision(
    writer: StreamWriter,
) -> None:
    current(writer).unlink()
    writer.tick()
    assert ids(writer.directory) == expected_ids(range(3))
    assert starts(writer.directory)[-1]["fault"] == "file_deleted"


def test_closing_puts_a_lost_file_back_and_seals_after_saying_so(writer: StreamWriter) -> None:
    current(writer).unlink()
    writer.close()
    kinds = [
        (r["type"], r.get("previous") or r.get("reason")) for r in records_in(writer.directory)
    ]
    assert kinds[-2:] == [("start", "reopened"), ("checkpoint", "shutdown")]
    assert ids(writer.directory) == expected_ids(range(3))
    report = verify_directory(writer.directory)
    assert report.verdict == "reopened"
    assert report.streams["w0"].closed


# ---------------------------------------------------------------------------- the directory


def rotated_writer(directory: Path) -> StreamWriter:
    """Three files: two rotated ones (seq 1..) and the one being written."""
    log = StreamWriter(directory, settings=WriterSettings(compress=False, max_file_bytes=2000))
    log.open()
    for first in range(0, 9, 3):
        log.append([decision_record(i) for i in range(first, first + 3)])
    assert len(all_files(directory)) == 3
    return log


def test_a_deleted_directory_is_made_again_with_the_file_that_was_open(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    log = rotated_writer(directory)
    open_file = current(log).name
    first_kept = json.loads(next(iter(read_lines(all_files(directory)[-1]))).raw)["seq"]
    shutil.rmtree(directory)

    log.append([decision_record(9)])

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (start,) = starts(directory)  # the first was in the directory that went
    assert start["fault"] == "directory_deleted"
    assert start["restored"]["file"] == open_file
    assert start["lost_seqs"] == [1, first_kept - 1]
    # Its stream is locked again in the new directory: another writer takes the next one.
    other = StreamWriter(directory, settings=PLAIN)
    other.open()
    assert other.stream == "w1"
    other.close()
    log.close()
    report = verify_directory(directory)
    assert report.verdict == "incomplete", report.render()
    assert report.streams["w0"].lost == first_kept - 1
    assert [(p.kind, p.seq) for p in report.lost] == [("lost", 1)]
    assert not report.problems


def test_a_directory_replaced_by_an_older_copy(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    log = StreamWriter(directory, settings=PLAIN)
    log.open()
    log.append([decision_record(0)])
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    log.append([decision_record(1)])
    os.rename(directory, tmp_path / "moved")
    os.rename(copy, directory)

    log.append([decision_record(2)])
    log.close()

    (start,) = starts(directory)[1:]
    assert start["fault"] == "directory_replaced"
    assert "lost_seqs" not in start  # the open file held the whole stream
    assert (directory / start["foreign_file"]).exists()
    assert ids(directory) == expected_ids(range(3))
    assert_one_chain(directory)
    assert verify_directory(directory).verdict == "reopened"


def test_when_nothing_can_be_put_back_the_write_fails_and_is_undone(writer: StreamWriter) -> None:
    directory = writer.directory
    shutil.rmtree(directory)
    directory.write_text("a file where the directory was\n")

    with pytest.raises(OSError, match="File exists"):
        writer.append([decision_record(i) for i in range(3, 6)])
    with pytest.raises(OSError, match="File exists"):
        writer.tick()

    directory.unlink()
    writer.append([decision_record(6)])  # the directory can be made again: all is put back
    writer.close()
    assert ids(directory) == expected_ids(range(3)) + expected_ids(range(6, 7))
    assert_one_chain(directory)
    assert starts(directory)[-1]["fault"] == "directory_deleted"


@pytest.mark.parametrize(
    ("fault", "act"),
    [
        ("file_deleted", lambda file, directory, spare: file.unlink()),
        ("file_moved", lambda file, directory, spare: file.rename(spare / "x")),
        ("file_replaced", lambda file, directory, spare: (file.unlink(), file.write_text(""))),
        ("directory_deleted", lambda file, directory, spare: shutil.rmtree(directory)),
        ("directory_moved", lambda file, directory, spare: directory.rename(spare / "d")),
        (
            "directory_replaced",
            lambda file, directory, spare: (shutil.rmtree(directory), directory.mkdir()),
        ),
    ],
)
def test_placement_tells_each_fault(
    tmp_path: Path, fault: str, act: Callable[[Path, Path, Path], object]
) -> None:
    directory = tmp_path / "log"
    directory.mkdir()
    spare = tmp_path / "spare"
    spare.mkdir()
    path = directory / "file"
    with disk.new_file(path, 0o600) as handle:
        placement = disk.Placement(directory, path, handle)
        assert placement.fault() == ""
        act(path, directory, spare)
        assert placement.fault() == fault
        placement.close()


# ---------------------------------------------------------------------------- modes


def modes(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


def test_files_are_created_0600_in_a_directory_created_0700(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the modes hold whatever the umask
    try:
        log = StreamWriter(tmp_path / "new" / "log", settings=WriterSettings(max_file_bytes=3000))
        log.open()
        for first in range(0, 9, 3):
            log.append([decision_record(i) for i in range(first, first + 3)])
        log.close()
    finally:
        os.umask(old_umask)
    found = modes(tmp_path / "new" / "log")
    assert any(name.endswith(".gz") for name in found)  # compressed files too
    assert set(found.values()) == {0o600}
    assert stat.S_IMODE((tmp_path / "new" / "log").stat().st_mode) == 0o700


def test_the_file_mode_is_configurable_and_an_existing_directory_keeps_its_own(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    for directory in (shared, tmp_path / "created"):
        log = StreamWriter(directory, settings=WriterSettings(file_mode=0o640))
        log.open()
        log.append([decision_record(0)])
        log.close()
        assert set(modes(directory).values()) == {0o640}
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "created").stat().st_mode) == 0o750  # group may list it


# ---------------------------------------------------------------------------- directory syncs


@pytest.fixture
def directory_syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inode of every directory fsynced, in order (the real fsync still runs)."""
    synced: list[int] = []
    real = os.fsync

    def fsync(descriptor: int) -> None:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            synced.append(status.st_ino)
        real(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_the_directory_is_synced_after_files_are_created_rotated_compressed_and_removed(
    tmp_path: Path, directory_syncs: list[int]
) -> None:
    directory = tmp_path / "log"
    settings = WriterSettings(max_file_bytes=1000, retention_files=2)  # each append rotates
    log = StreamWriter(directory, settings=settings)
    log.open()
    inode = directory.stat().st_ino
    parent = tmp_path.stat().st_ino
    assert directory_syncs == [parent, inode]  # the directory made, the first file created
    directory_syncs.clear()
    log.append([decision_record(i) for i in range(3)])
    assert directory_syncs == []  # no new name: nothing to sync
    log.append([decision_record(i) for i in range(3, 6)])  # rotates: a new file
    for thread in log._compressions:
        thread.join()
    # The new file created; the .gz renamed in and the plain file removed.
    assert directory_syncs == [inode, inode]
    directory_syncs.clear()
    log.append([decision_record(i) for i in range(6, 9)])  # rotates again: retention removes
    log.close()
    assert directory_syncs.count(inode) == 3  # removed, created, compressed
    assert len(all_files(directory)) == 2


def test_no_directory_sync_when_fsync_is_off(tmp_path: Path, directory_syncs: list[int]) -> None:
    log = StreamWriter(tmp_path / "log", settings=WriterSettings(fsync="none", compress=False))
    log.open()
    log.append([decision_record(0)])
    log.close()
    assert directory_syncs == []
