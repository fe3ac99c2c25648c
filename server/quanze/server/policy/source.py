"""Policy sources: where a revision of the policies comes from, handed over as a snapshot.

A source is polled; each poll answers the source's current revision as a `Candidate`: a
directory holding exactly that revision's files, which nothing modifies afterwards, so a
reloader can test it and serve it while the source moves on.

- `BundledSource`: the policies shipped in the package.
- `DirectorySource`: a directory on disk, copied into a content-addressed snapshot.
- `FileSource`: one file on disk (an organisation directory in one JSON document), the same way.
- `GitSource` (`git_source`): the tip of a branch of a git repository, exported commit by
  commit; with a `SignaturePolicy` the commit must carry a signature by an allowed SSH or GPG
  key.
- `CombinedSource`: the policies and an organisation directory with a source of its own,
  polled together; each poll answers both as one candidate.

`open_source` gives the source a configuration section describes; what each poll answers (a
`Candidate`, and `Contents`: the policies or an organisation directory) is in `candidate`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from quanze.server.errors import PolicySourceError, UnsignedRevisionError
from quanze.server.policy.bundle import bundled_policy_dir, combined_revision, content_revision
from quanze.server.policy.cache import cache_root, publish, staging_dir
from quanze.server.policy.candidate import (
    POLICIES,
    SECTIONS,
    Candidate,
    Contents,
    PolicySource,
    combine,
    combined_description,
)
from quanze.server.policy.files import SymbolicLinkError, tree_files
from quanze.server.policy.git_location import is_git_location
from quanze.server.policy.git_source import GitSource, SignaturePolicy

# A change seen this close to the scan may be followed by another within the same timestamp
# tick (coarse clocks, FAT's 2 s), invisible to the change check: such a tree is copied again.
_SETTLE_SECONDS = 2.0


# ====================================================================== bundled


class BundledSource:
    """The policies shipped inside the package; always the same revision."""

    def __init__(self) -> None:
        self.path = bundled_policy_dir()
        self.description = f"bundled policies {self.path}"
        self._candidate: Candidate | None = None

    def poll(self) -> Candidate:
        if self._candidate is None:
            self._candidate = Candidate(
                revision=content_revision(self.path), path=self.path, description=self.description
            )
        return self._candidate


# ==================================================================== directory

_Fingerprint = tuple[tuple[str, int, int, int, int, int], ...]


class DirectorySource:
    """A policy directory, snapshotted into `cache_dir/snapshots/<revision>/` when it changes.

    The revision is computed from the copy, so a tree edited while being copied yields, at
    worst, a revision nobody saved, never a snapshot named after content it does not hold.
    `now` is the clock that decides whether a change is recent enough to distrust the
    cheap change check (replaceable in tests). With `contents=DIRECTORY` it is a folder of
    organisation-directory files instead, snapshotted into `cache_dir/directory-snapshots/`.
    """

    def __init__(
        self,
        path: Path,
        cache_dir: Path,
        *,
        now: Callable[[], float] = time.time,
        contents: Contents = POLICIES,
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self.contents = contents
        self.description = self._describe()
        cache = Path(cache_dir).expanduser().absolute()
        if cache.is_relative_to(self.path):
            raise PolicySourceError(
                f"the cache directory {cache} is inside the {contents.place} {self.path}, so "
                f"every snapshot would change {contents.holding}; set policies.cache_dir "
                "elsewhere"
            )
        self._snapshots = cache / contents.snapshots
        self._now = now
        self._lock = threading.Lock()
        self._fingerprint: _Fingerprint | None = None
        self._last: Candidate | None = None

    def _describe(self) -> str:
        return f"{self.contents.folder} {self.path}"

    def poll(self) -> Candidate:
        with self._lock:
            started = self._now()
            files, fingerprint = self._scan()
            last = self._last
            if last is not None and fingerprint == self._fingerprint and last.path.is_dir():
                return last
            candidate = self._snapshot(files)
            newest = max(max(entry[2], entry[3]) for entry in fingerprint) / 1e9
            self._fingerprint = fingerprint if newest < started - _SETTLE_SECONDS else None
            self._last = candidate
            return candidate

    def _listing(self) -> list[tuple[str, Path]]:
        """(name in the snapshot, path) of every file that may count, in the order walked."""
        contents = self.contents
        if not self.path.is_dir():
            raise PolicySourceError(
                f"{contents.place} {self.path} does not exist or is not a directory; create it "
                f"or set {contents.setting}.path to the directory holding {contents.holding}"
            )
        try:
            files = tree_files(self.path)
        except SymbolicLinkError as exc:
            raise PolicySourceError(str(exc)) from None
        return [
            (path.relative_to(self.path).as_posix(), path)
            for path in files
            if path.suffix in contents.suffixes
        ]

    def _scan(self) -> tuple[list[tuple[str, Path]], _Fingerprint]:
        """The files (walked as the revision function walks them) and their stat data."""
        contents = self.contents
        files: list[tuple[str, Path]] = []
        entries = []
        for name, path in self._listing():
            try:
                status = path.stat()
            except FileNotFoundError:
                continue  # removed while we walked: simply not part of this revision
            except OSError as exc:
                raise _unreadable(path, exc) from exc
            if not path.is_file():
                continue
            files.append((name, path))
            entries.append(
                (
                    name,
                    status.st_size,
                    status.st_mtime_ns,
                    status.st_ctime_ns,
                    status.st_ino,
                    status.st_dev,
                )
            )
        if not files:
            raise PolicySourceError(
                f"{contents.place} {self.path} holds no {contents.file}s "
                f"({', '.join('*' + s for s in sorted(contents.suffixes))}); set "
                f"{contents.setting}.path to the directory holding {contents.holding}"
            )
        return files, tuple(entries)

    def _snapshot(self, files: Sequence[tuple[str, Path]]) -> Candidate:
        contents = self.contents
        with staging_dir(self._snapshots, ".copy-") as staging:
            if not _copy_policy_files(files, staging):
                raise PolicySourceError(
                    f"every {contents.file} under {self.path} disappeared while it was being "
                    "copied; the next poll tries again"
                )
            revision = contents.revision(self._served(staging))
            final = publish(staging, self._snapshots / revision)
        return Candidate(revision=revision, path=self._served(final), description=self.description)

    def _served(self, snapshot: Path) -> Path:
        """What of a snapshot folder is served: the folder itself."""
        return snapshot


class FileSource(DirectorySource):
    """One file, snapshotted like a directory: into `cache_dir/<snapshots>/<revision>/<name>`.

    For an organisation directory kept in one JSON document: the snapshot keeps the file's
    name, so its revision is the one `read_directory` gives the file itself.
    """

    def _describe(self) -> str:
        return f"file {self.path}"

    def _listing(self) -> list[tuple[str, Path]]:
        contents = self.contents
        if not self.path.is_file():
            raise PolicySourceError(
                f"{contents.file} {self.path} does not exist or is not a file; create it or set "
                f"{contents.setting}.path to the file holding {contents.holding}"
            )
        return [(self.path.name, self.path)]

    def _served(self, snapshot: Path) -> Path:
        return snapshot / self.path.name


def _copy_policy_files(files: Sequence[tuple[str, Path]], target: Path) -> int:
    """Copy `files` (relative name, source) under `target`, read-only; how many were copied."""
    copied = 0
    for name, path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # deleted since the scan: the copy is a later state of the tree
        except OSError as exc:
            raise _unreadable(path, exc) from exc
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
        destination.chmod(0o444)
        copied += 1
    return copied


def _unreadable(path: Path, exc: OSError) -> PolicySourceError:
    return PolicySourceError(
        f"cannot read {path}: {exc.strerror or exc}; make the files of the source readable by the "
        "account Quanze runs as"
    )


# ===================================================================== combined


class CombinedSource:
    """The policies and an organisation directory of their own source, polled together.

    Each poll answers `combine(policies, directory)`: the two snapshots, and the revision
    `<policies>+directory.<directory>` that every answer served from them names. A commit of
    either that is not signed by an allowed key is refused under that combined revision.
    `intervals` are each part's own poll interval: a part polled more recently than that
    answers its last revision again (`clock` is replaceable in tests).
    """

    def __init__(
        self,
        policies: PolicySource,
        directory: PolicySource,
        *,
        intervals: tuple[float, float] = (0.0, 0.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policies = policies
        self.directory = directory
        self.description = combined_description(policies.description, directory.description)
        self._intervals = intervals
        self._clock = clock
        self._lock = threading.Lock()
        self._last: list[tuple[Candidate, float] | None] = [None, None]

    def poll(self) -> Candidate:
        with self._lock:
            policies = self._poll_part(0, self.policies)
            directory = self._poll_part(1, self.directory)
        if isinstance(policies, Candidate) and isinstance(directory, Candidate):
            return combine(policies, directory)
        refused = [part for part in (policies, directory) if isinstance(part, Exception)]
        revision = combined_revision(policies.revision, directory.revision)
        raise UnsignedRevisionError(revision, str(refused[0])) from refused[0]

    def _poll_part(self, index: int, source: PolicySource) -> Candidate | UnsignedRevisionError:
        """A part's revision, or its commit refused for its signature; other failures raise."""
        now = self._clock()
        last = self._last[index]
        if last is not None and now - last[1] < self._intervals[index]:
            return last[0]
        self._last[index] = None  # only a revision had is answered again
        try:
            candidate = source.poll()
        except UnsignedRevisionError as exc:
            return exc
        self._last[index] = (candidate, now)
        return candidate


# ===================================================================== settings


def settings_problems(
    *,
    section: str = "policies",
    path: str = "",
    subdir: str = "",
    branch: str = "main",
    git_timeout_seconds: float = 60.0,
    require_signed_commits: bool = False,
    allowed_signers_file: str = "",
    gpg_home: str = "",
) -> list[str]:
    """Every problem with the settings of a source, as `SECTION.KEY: why`.

    `section` is `policies`, or `directory` for an organisation directory of its own, whose
    path may also be one JSON file. The git timeout is always `policies.git_timeout_seconds`.
    """
    contents = SECTIONS[section]
    problems = []
    git = bool(path) and is_git_location(path)
    local = Path(path).expanduser()
    if path and not git and not (local.is_dir() or (contents.one_file and local.is_file())):
        kinds = "a JSON file, a directory" if contents.one_file else "a directory"
        problems.append(
            f"{section}.path: {path!r} is neither {kinds} nor a git repository (a URL, "
            "user@host:path, a name ending in .git or a local repository)"
        )
    if subdir and not git:
        problems.append(
            f"{section}.subdir: applies to git repositories only; point {section}.path at the "
            f"directory holding {contents.holding} instead"
        )
    if git and not branch.strip():
        problems.append(f"{section}.branch: must name a branch, e.g. main")
    if git_timeout_seconds <= 0:
        problems.append("policies.git_timeout_seconds: must be greater than 0")
    if require_signed_commits and not git:
        problems.append(
            f"{section}.require_signed_commits: applies to git repositories only, and "
            f"{section}.path is not one; serve {contents.holding} from a repository of signed "
            "commits"
        )
    if require_signed_commits and not (allowed_signers_file or gpg_home):
        problems.append(
            f"{section}.require_signed_commits: needs {section}.allowed_signers_file (SSH keys) "
            f"and/or {section}.gpg_home (a GnuPG keyring) to say whose signatures are accepted"
        )
    for key, value in (("allowed_signers_file", allowed_signers_file), ("gpg_home", gpg_home)):
        if value and not require_signed_commits:
            problems.append(
                f"{section}.{key}: is set but {section}.require_signed_commits is false, so no "
                f"signature would be checked; set {section}.require_signed_commits: true"
            )
    if allowed_signers_file and not Path(allowed_signers_file).expanduser().is_file():
        problems.append(f"{section}.allowed_signers_file: {allowed_signers_file!r} is not a file")
    if gpg_home and not Path(gpg_home).expanduser().is_dir():
        problems.append(f"{section}.gpg_home: {gpg_home!r} is not a directory")
    return problems


def open_source(
    *,
    section: str = "policies",
    path: str = "",
    branch: str = "main",
    subdir: str = "",
    cache_dir: str = "",
    git_timeout_seconds: float = 60.0,
    require_signed_commits: bool = False,
    allowed_signers_file: str = "",
    gpg_home: str = "",
) -> PolicySource:
    """The source the settings of `section` describe; `PolicySourceError` lists every problem.

    `policies` with no path: the bundled policies. `directory`: a JSON file, a folder of them
    or a git repository, never empty (the bundled directory needs no source of its own).
    """
    contents = SECTIONS[section]
    problems = settings_problems(
        section=section,
        path=path,
        subdir=subdir,
        branch=branch,
        git_timeout_seconds=git_timeout_seconds,
        require_signed_commits=require_signed_commits,
        allowed_signers_file=allowed_signers_file,
        gpg_home=gpg_home,
    )
    if not path and contents is not POLICIES:
        problems.append(f"{section}.path: is empty; give a JSON file, a folder or a repository")
    if problems:
        listing = "".join(f"\n  - {problem}" for problem in problems)
        what = "policy" if contents is POLICIES else "directory"
        raise PolicySourceError(
            f"the {what} source settings have {len(problems)} problem(s):{listing}"
        )
    if not path:
        return BundledSource()
    cache = cache_root(cache_dir)
    if not is_git_location(path):
        if Path(path).expanduser().is_file():
            return FileSource(Path(path), cache, contents=contents)
        return DirectorySource(Path(path), cache, contents=contents)
    signatures = None
    if require_signed_commits:
        signatures = SignaturePolicy(
            allowed_signers_file=(
                Path(allowed_signers_file).expanduser().absolute() if allowed_signers_file else None
            ),
            gpg_home=Path(gpg_home).expanduser().absolute() if gpg_home else None,
        )
    return GitSource(
        path,
        branch=branch,
        subdir=subdir,
        cache_dir=cache,
        timeout_s=git_timeout_seconds,
        signatures=signatures,
        contents=contents,
    )
