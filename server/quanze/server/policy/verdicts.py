"""Gate verdicts kept on disk, so a restarted sidecar does not gate a revision again.

A verdict is kept under a key holding everything it depends on: the revision(s), a digest of
the snapshot's files the gate read, the gate's settings, and the build that ran it (Quanze's
version and code, Python, and every package Quanze requires, the engine among them: a new
engine may change what a test says). Only passes are kept: a failure is remembered in memory
by the process that saw it, so a restart gates a refused revision again rather than refusing
it for good on the word of, say, a gate the OOM killer ended.

Each verdict is one JSON file `cache_dir/verdicts/<sha256 of the key>.json`, written to a
temporary file, synced and renamed into place; the folder is 0700 and the files 0600. A file
that is not a regular file owned by this account and readable by it alone, does not parse,
or holds another key than the one asked for is no verdict: the revision is gated again. It
guards against other accounts and against damage, not against the account Quanze runs as,
which could as well change the snapshots or Quanze itself.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import stat
import tempfile
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any

import structlog

from quanze.server import __version__

log = structlog.get_logger("quanze.verdicts")

FORMAT = 1
_MAX_BYTES = 64 * 1024  # a verdict is a few hundred bytes; anything far larger is not one

Key = Mapping[str, Any]


class VerdictStore:
    """The passes kept in `directory`: `passed_at(key)` reads one, `keep_pass` writes one.

    Neither ever raises: a verdict that cannot be read is no verdict, and one that cannot be
    written only costs a gate at the next start. Both are logged.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def passed_at(self, key: Key) -> str:
        """When the gate passed for `key` in an earlier run (RFC 3339), or "" if it is not known."""
        path = self.directory / file_name(key)
        try:
            record = self._read(path)
        except FileNotFoundError:
            return ""
        except (OSError, ValueError) as exc:
            log.warning("gate_verdict_ignored", file=str(path), reason=str(exc))
            return ""
        if (
            not isinstance(record, dict)
            or record.get("format") != FORMAT
            or record.get("verdict") != "passed"
            or record.get("key") != _plain(key)
            or not isinstance(record.get("passed_at"), str)
            or not record["passed_at"]
        ):
            log.warning(
                "gate_verdict_ignored", file=str(path), reason="not a pass verdict for this key"
            )
            return ""
        return str(record["passed_at"])

    def keep_pass(self, key: Key, passed_at: str) -> None:
        """Record that the gate passed for `key`: atomically, readable by this account alone."""
        record = {"format": FORMAT, "verdict": "passed", "passed_at": passed_at, "key": _plain(key)}
        path = self.directory / file_name(key)
        try:
            self._check_directory(create=True)
            descriptor, temporary = tempfile.mkstemp(prefix=".verdict-", dir=self.directory)
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    json.dump(record, handle, indent=1, sort_keys=True)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            _sync_directory(self.directory)
        except (OSError, ValueError) as exc:
            log.warning("gate_verdict_not_kept", file=str(path), reason=str(exc))

    def _read(self, path: Path) -> Any:
        self._check_directory(create=False)
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise ValueError("not a regular file")
            if status.st_uid != os.getuid():
                raise ValueError(f"owned by uid {status.st_uid}, not this account")
            if status.st_mode & 0o077:
                raise ValueError(f"mode {stat.S_IMODE(status.st_mode):o}: others may read it")
            data = handle.read(_MAX_BYTES + 1)
        if len(data) > _MAX_BYTES:
            raise ValueError("too large to be a verdict")
        return json.loads(data.decode("utf-8"))

    def _check_directory(self, *, create: bool) -> None:
        """The verdicts' folder must be this account's and closed to others."""
        if create:
            # One by one: `parents=True` would give the cache folder default permissions.
            self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.mkdir(mode=0o700, exist_ok=True)
        status = os.lstat(self.directory)
        if not stat.S_ISDIR(status.st_mode):
            raise ValueError(f"{self.directory} is not a directory")
        if status.st_uid != os.getuid():
            raise ValueError(f"{self.directory} is owned by uid {status.st_uid}, not this account")
        if status.st_mode & 0o077:
            raise ValueError(
                f"{self.directory} has mode {stat.S_IMODE(status.st_mode):o}: others may reach "
                "it; make it 0700 (chmod 700) or delete it"
            )


def file_name(key: Key) -> str:
    """The file a verdict for `key` is kept in."""
    canonical = json.dumps(_plain(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest() + ".json"


def snapshot_digest(path: Path) -> str:
    """SHA-256 over every entry of the snapshot at `path` (a folder, or one file): its names,
    kinds and bytes — what the gate read, so a verdict never outlives a change to them."""
    digest = hashlib.sha256()
    root = Path(path)
    entries = [root] if not root.is_dir() else sorted(root.rglob("*"))
    for entry in entries:
        name = entry.name if entry == root else entry.relative_to(root).as_posix()
        status = entry.lstat()
        if stat.S_ISLNK(status.st_mode):
            digest.update(b"L" + name.encode() + b"\0" + os.readlink(entry).encode() + b"\0")
        elif stat.S_ISREG(status.st_mode):
            data = entry.read_bytes()
            digest.update(b"F" + name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
        else:
            digest.update(b"D" + name.encode() + b"\0")
    return digest.hexdigest()


@functools.cache
def build_identity() -> dict[str, str]:
    """What ran the gate: Quanze's version and code, Python, and Quanze's runtime packages."""
    code = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for source in sorted(package.rglob("*.py")):
        code.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes())
    identity = {
        "quanze": __version__,
        "quanze_code": code.hexdigest(),
        "python": platform.python_version(),
    }
    for requirement in _runtime_requirements():
        try:
            identity[requirement] = version(requirement)
        except PackageNotFoundError:
            identity[requirement] = "not installed"
    return identity


def _runtime_requirements() -> list[str]:
    """The names of the packages Quanze needs to run (not its extras)."""
    try:
        listed = requires("quanze") or []
    except PackageNotFoundError:  # a source tree never installed: its code digest still counts
        return []
    names = []
    for line in listed:
        if "extra ==" in line:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match:
            names.append(match[0].lower())
    return sorted(set(names))


def _plain(key: Key) -> Any:
    """`key` as JSON gives it back, so a stored key compares equal to the one asked for."""
    return json.loads(json.dumps(key, sort_keys=True))


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
