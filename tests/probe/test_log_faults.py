"""The decision-log directory removed, made read-only, or full while a `required` sidecar serves.

Callers loop over decision-table cases with known answers. After some answers, the fault is
made and the load goes on. Every answer must then be either a decision whose record is in the
log, or a deny whose only reason is `audit_unavailable` (or an error status): never an answer,
least of all an allow, whose record is not there.

The removed directory keeps the default file size (the writer holds its file open and never
has to create another); read-only and full use small files (16 KiB), so the writer rotates
every few dozen records and must create files while the fault lasts. "Read-only" is made with
permissions, and the sidecar runs without the capability to ignore them even as root
(`drop_file_permission_override`), as a sidecar under any other user would. "Full" is a
128 KiB tmpfs mounted on the directory when this runs as root; otherwise a file-size limit
(RLIMIT_FSIZE) on the sidecar, which fails writes with EFBIG where a full disk fails them with
ENOSPC.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quanze.server.decisions import Decider
from tests.probe.report import Probe
from tests.probe.sidecars import (
    Load,
    decision_ids,
    drop_file_permission_override,
    known_requests,
    sidecar,
    stop,
)

pytestmark = pytest.mark.probe

# How long the load goes on after the fault is made.
FAULT_SECONDS = 4.0
TMPFS_BYTES = 128 * 1024
FILE_SIZE_LIMIT = 96 * 1024
# Rotate every few dozen records, so the writer must create files while the fault lasts.
SMALL_FILES = 16 * 1024
# Errors a caller may get while the log is broken: never an answer, so never an unlogged one.
ERRORS = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED")


def log_settings(log_dir: Path, **settings: Any) -> dict[str, Any]:
    return {
        "decision_log": {
            "directory": str(log_dir),
            "mode": "required",
            "fsync": "record",
            "checkpoint_records": 50,
            **settings,
        }
    }


def run_with_fault(
    probe: Probe,
    reference: Decider,
    directory: Path,
    settings: dict[str, Any],
    fault: Callable[[], None],
    *,
    preexec_fn: Callable[[], None] | None = None,
    after: Callable[[], None] = lambda: None,
    fault_destroys_records: bool = False,
) -> None:
    """Serve, load, make the fault, load on; stop the sidecar; then `after`; check records.

    With `fault_destroys_records` the records of answers given before the fault (and for half a
    second after, while answers already decided arrive) were destroyed by the fault itself,
    not lost by the sidecar: only later answers must have theirs.
    """
    log_dir = Path(settings["decision_log"]["directory"])
    with sidecar(directory, settings, preexec_fn=preexec_fn) as found:
        with Load(
            found.address,
            probe,
            known_requests(reference),
            allowed_errors=ERRORS,
            audit_denies=True,
        ) as load:
            load.wait_answers(60)
            before = load.answers
            fault()
            time.sleep(0.5)
            exempt = set(load.answered_ids()) if fault_destroys_records else set()
            time.sleep(FAULT_SECONDS)
            probe.fact("answers_before_fault", before)
            probe.fact("answers_after_fault", load.answers - before)
        probe.fact("sidecar_exit_status", stop(found))
    after()
    probe.fact("audit_unavailable_denies", len(load.answered.audit_unavailable))
    events = [e for e in found.events if e.get("level") in ("error", "warning", "critical")]
    probe.fact("sidecar_errors", _event_counts(events))
    expected = {k: v for k, v in load.answered.ids.items() if k not in exempt}
    probe.fact("records_destroyed_by_the_fault_not_counted", len(exempt))
    probe.records(expected, decision_ids(log_dir), frozenset(load.answered.allowed))


def _event_counts(events: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[str(event.get("event"))] = counts.get(str(event.get("event")), 0) + 1
    return counts


def test_log_directory_removed_while_serving(
    tmp_path: Path, probe: Probe, reference: Decider
) -> None:
    log_dir = tmp_path / "log"
    # Files of the default size: the writer keeps its file open, and nothing it does by
    # itself (rotation) notices that the file is gone.
    run_with_fault(
        probe,
        reference,
        tmp_path,
        log_settings(log_dir),
        lambda: shutil.rmtree(log_dir),
        fault_destroys_records=True,
    )
    probe.fact("directory_exists_afterwards", log_dir.is_dir())
    probe.verdict()


def test_log_directory_read_only_while_serving(
    tmp_path: Path, probe: Probe, reference: Decider
) -> None:
    log_dir = tmp_path / "log"

    def read_only() -> None:
        for path in log_dir.iterdir():
            path.chmod(0o444)
        log_dir.chmod(0o555)

    def writable() -> None:  # so that pytest can clean up
        log_dir.chmod(0o755)
        for path in log_dir.iterdir():
            path.chmod(0o644)

    probe.fact("made_read_only_by", "chmod 0555 (directory) and 0444 (files)")
    run_with_fault(
        probe,
        reference,
        tmp_path,
        log_settings(log_dir, max_file_bytes=SMALL_FILES),
        read_only,
        preexec_fn=drop_file_permission_override,
        after=writable,
    )
    probe.verdict()


def test_log_directory_full_while_serving(tmp_path: Path, probe: Probe, reference: Decider) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    with small_filesystem(log_dir, TMPFS_BYTES) as mounted:
        if mounted:
            probe.fact("made_full_by", f"tmpfs of {TMPFS_BYTES} bytes on the directory")
            preexec = None
        else:
            probe.fact("made_full_by", f"RLIMIT_FSIZE {FILE_SIZE_LIMIT} bytes on the sidecar")
            preexec = file_size_limit(FILE_SIZE_LIMIT)
        # The fault comes by itself: the load fills the directory.
        settings = log_settings(log_dir, max_file_bytes=SMALL_FILES)
        run_with_fault(probe, reference, tmp_path, settings, lambda: None, preexec_fn=preexec)
    probe.verdict()


@contextlib.contextmanager
def small_filesystem(directory: Path, size: int) -> Iterator[bool]:
    """A tmpfs of `size` bytes on `directory` if this process may mount one (root); else
    nothing. Unmounted afterwards, its files gone with it."""
    mounted = os.geteuid() == 0 and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)],
            capture_output=True,
            check=False,
            timeout=30,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(directory)], check=True, timeout=30)


def file_size_limit(limit: int) -> Callable[[], None]:
    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited
