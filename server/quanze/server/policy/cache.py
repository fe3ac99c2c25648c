"""The cache where sources keep their snapshots: build aside, publish by rename, lock.

Worker processes share one cache, so everything is built in a staging directory and renamed
into place (a half-built snapshot is never seen), and what must not run twice at once holds a
file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from quanze.server.errors import PolicySourceError


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where snapshots and git caches go when `policies.cache_dir` is empty."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is invalid and ignored
        return Path(xdg) / "quanze"
    home = env.get("HOME", "")
    if os.path.isabs(home):
        return Path(home) / ".cache" / "quanze"
    return Path(tempfile.gettempdir()) / f"quanze-{os.getuid()}"


def cache_root(setting: str) -> Path:
    """The cache `policies.cache_dir` names: `setting`, or `default_cache_dir()` when empty."""
    return Path(setting).expanduser() if setting else default_cache_dir()


def make_dir(path: Path) -> None:
    """`path` as a directory of the cache, created owner-only if missing.

    Whoever can write in the cache, or rename what is in it, can change what is served; so
    `path` must belong to this account and be writable by nobody else, and every directory
    above it must belong to this account or root and be writable by nobody else unless it
    is sticky (as `/tmp` is). A `/tmp/quanze-<uid>` made in advance by another account, say,
    is refused, not used.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = _unsafe(path.absolute())
    except OSError as exc:
        raise PolicySourceError(
            f"cannot create {path}: {exc.strerror or exc}; set policies.cache_dir to a "
            "directory the account Quanze runs as can write"
        ) from exc
    if problem:
        raise PolicySourceError(
            f"{problem}, who could change what is served; set policies.cache_dir to a "
            "directory of the account Quanze runs as, or fix the owner or mode"
        )


def _unsafe(path: Path) -> str:
    """Why another account could change what is under `path`; "" when none can."""
    owner = os.geteuid()
    for directory in (path, *path.parents):
        status = directory.stat()
        mode = status.st_mode
        if status.st_uid not in (owner, 0) or (directory == path and status.st_uid != owner):
            return f"{directory} belongs to another account (uid {status.st_uid})"
        if mode & 0o022 and (directory == path or not mode & stat.S_ISVTX):
            return f"{directory} can be written by other accounts (mode {mode & 0o7777:o})"
    return ""


@contextlib.contextmanager
def staging_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A new directory under `parent` to build in, removed if the building fails."""
    make_dir(parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:
        raise PolicySourceError(
            f"cannot write to {parent}: {exc.strerror or exc}; set policies.cache_dir to a "
            "directory the account Quanze runs as can write"
        ) from exc
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(staging: Path, final: Path) -> Path:
    """Rename the finished `staging` to `final`; if another poller got there first, keep theirs.

    Both hold the same content: `final` is named by a content hash or a commit. The files are
    synced first: a snapshot that a power loss left with empty files would otherwise be
    trusted by name ever after.
    """
    for path in sorted(staging.rglob("*"), reverse=True):  # files before their directories
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    try:
        staging.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(staging, ignore_errors=True)
    return final


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`: worker processes share one cache."""
    make_dir(path.parent)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
