"""The writer's hold on its files: created with their mode, locked, compressed, directories
synced, and a file or directory deleted or replaced under it noticed and put back.

A record is only as durable as the directory entry that names its file, so a file created,
renamed or removed is synced into its directory as well (`sync_directory`). And a file the
writer holds open can be unlinked or replaced behind its back: its writes then reach a file
nobody can read. After each write the writer asks `Placement.fault` whether its file is still
where it was; if not, `restore` copies everything written to it, read back through the open
handle, to its name in the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import os
import shutil
from pathlib import Path
from typing import IO

import structlog

log = structlog.get_logger("quanze.decisionlog")

FAULTS = (
    "file_deleted",
    "file_moved",
    "file_replaced",
    "directory_deleted",
    "directory_moved",
    "directory_replaced",
)
"""What can have happened to the file being written, as a `start` record's `fault` names it."""

_CHUNK = 1024 * 1024


def directory_mode(file_mode: int) -> int:
    """The mode of a directory the writer creates: the file mode, searchable where readable."""
    return file_mode | ((file_mode & 0o444) >> 2)


def make_directory(path: Path, mode: int, *, sync: bool) -> None:
    """Create `path` with `mode` unless it exists (a directory that exists keeps its mode)."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode)
    except FileExistsError:
        if path.is_dir():
            return  # created meanwhile by another writer
        raise
    if sync:
        sync_directory(path.parent)


def sync_directory(path: Path) -> None:
    """fsync a directory: the names created, renamed or removed in it survive a power loss."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def new_file(path: Path, mode: int) -> io.FileIO:
    """A file that did not exist, opened to append and read back, with exactly `mode`."""

    def opener(name: str, flags: int) -> int:
        descriptor = os.open(name, flags | os.O_EXCL, mode)
        try:
            os.fchmod(descriptor, mode)  # exactly `mode`, whatever the umask
        except OSError:
            os.close(descriptor)
            raise
        return descriptor

    return io.FileIO(path, "a+", opener=opener)


def lock_stream(directory: Path, stream: str, mode: int) -> IO[bytes] | None:
    """The lock file of `stream`, locked (an flock), or None while another writer holds it."""
    path = directory / f".{stream}.lock"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
    handle = open(descriptor, "ab")  # noqa: SIM115 - held open while the stream is written
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def holds_lock(handle: IO[bytes], directory: Path, stream: str) -> bool:
    """Whether `handle` is still the lock file of `stream` in `directory`."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(directory / f".{stream}.lock"))
    except OSError:
        return False


def compress(path: Path, mode: int, *, sync: bool) -> None:
    """Gzip a finished file: write `.gz.tmp`, sync, rename, remove the original, sync the
    directory (with `sync`)."""
    target = path.with_name(path.name + ".gz")
    temporary = path.with_name(path.name + ".gz.tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()  # left by a compression a crash cut short
        with open(path, "rb") as source, new_file(temporary, mode) as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as sink:
                shutil.copyfileobj(source, sink, 1024 * 1024)
            os.fsync(raw.fileno())
        os.replace(temporary, target)
        path.unlink()
        if sync:
            sync_directory(path.parent)
    except OSError as exc:
        problem = str(exc)
    else:
        return
    # The plain file stays and is read as it is; nothing is lost.
    log.error("decision_log_compress_failed", file=path.name, error=problem)
    with contextlib.suppress(OSError):
        temporary.unlink()


class Placement:
    """Where the file being written is, and whether it is still there."""

    def __init__(self, directory: Path, path: Path, file: io.FileIO) -> None:
        self.path = path
        self._directory = directory
        self._file = file
        self._directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        self._directory_id = _identity(os.fstat(self._directory_fd))
        self._file_id = _identity(os.fstat(file.fileno()))

    def fault(self) -> str:
        """ "" while the file is where it was opened, else which of `FAULTS` happened to it."""
        # The file first, then its directory: a directory replaced between the two looks is
        # seen as such, where the other order could take it for a replaced file.
        file = _fault(self.path, self._file.fileno(), self._file_id, "file")
        return _fault(self._directory, self._directory_fd, self._directory_id, "directory") or file

    def close(self) -> None:
        os.close(self._directory_fd)


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _fault(path: Path, descriptor: int, identity: tuple[int, int], what: str) -> str:
    try:
        now = _identity(os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        # Gone from its path: deleted if no name is left, else moved somewhere else.
        return f"{what}_moved" if os.fstat(descriptor).st_nlink else f"{what}_deleted"
    except OSError:
        # Cannot look (e.g. a directory made unreadable): the link count still tells a deletion.
        return "" if os.fstat(descriptor).st_nlink else f"{what}_deleted"
    return "" if now == identity else f"{what}_replaced"


def restore(lost: io.FileIO, target: Path, mode: int, *, stamp: str, sync: bool) -> str:
    """Copy all of `lost` (read back through its handle) to `target`; raises `OSError`.

    The copy is made under a hidden name and renamed into place, so a copy cut short never
    bears a log file's name. Something found at `target` is moved aside, not overwritten:
    its new name is returned ("" when the name was free).
    """
    temporary = target.with_name(f".{target.name}.restoring")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # left by an attempt that failed
    try:
        with new_file(temporary, mode) as copy:
            _copy(lost.fileno(), copy)
            if sync:
                os.fsync(copy.fileno())
        aside = ""
        if os.path.lexists(target):
            aside = _free_name(target, f"foreign-{stamp}")
            os.rename(target, target.with_name(aside))
        os.rename(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if sync:
        sync_directory(target.parent)
    return aside


def _copy(source: int, sink: io.FileIO) -> None:
    offset, size = 0, os.fstat(source).st_size
    while offset < size:
        chunk = os.pread(source, min(_CHUNK, size - offset), offset)
        if not chunk:
            raise OSError(f"the file shrank to {offset} bytes while it was being restored")
        remaining = memoryview(chunk)
        while remaining:
            remaining = remaining[sink.write(remaining) or 0 :]
        offset += len(chunk)


def _free_name(target: Path, suffix: str) -> str:
    """`<name>.<suffix>`, numbered if taken: a name that is no decision-log file's."""
    name = f"{target.name}.{suffix}"
    number = 1
    while os.path.lexists(target.with_name(name)):
        number += 1
        name = f"{target.name}.{suffix}-{number}"
    return name
