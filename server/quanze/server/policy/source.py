"""Policy sources: where a revision of the policies comes from, handed over as a snapshot.

A source is polled; each poll answers the source's current revision as a `Candidate`: a
directory holding exactly that revision's files, which nothing modifies afterwards, so a
reloader can test it and serve it while the source moves on.

- `BundledSource`: the policies shipped in the package.
- `DirectorySource`: a directory on disk, copied into a content-addressed snapshot.
- `FileSource`: one file on disk (an organisation directory in one JSON document), the same way.
- `GitSource`: the tip of a branch of a git repository, exported commit by commit; with a
  `SignaturePolicy` the commit must carry a signature by an allowed SSH or GPG key.
- `CombinedSource`: the policies and an organisation directory with a source of its own,
  polled together; each poll answers both as one candidate.

The same sources serve the policies (`POLICIES`) and the organisation directory (`DIRECTORY`):
`Contents` says which files count, how a snapshot's revision is named and which settings
messages point at.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import unquote

from quanze.server.errors import PolicySourceError, UnsignedRevisionError
from quanze.server.policy.bundle import (
    POLICY_SUFFIXES,
    bundled_policy_dir,
    combined_revision,
    content_revision,
)
from quanze.server.policy.directory import directory_revision

__all__ = [
    "DIRECTORY",
    "POLICIES",
    "POLICY_SUFFIXES",
    "BundledSource",
    "Candidate",
    "CombinedSource",
    "Contents",
    "DirectorySource",
    "FileSource",
    "GitSource",
    "PolicySource",
    "PolicySourceError",
    "SignaturePolicy",
    "UnsignedRevisionError",
    "combine",
    "default_cache_dir",
    "is_git_location",
    "open_source",
    "redact_url",
    "settings_problems",
]

# The files a policy directory consists of: exactly those its content revision hashes.

# A change seen this close to the scan may be followed by another within the same timestamp
# tick (coarse clocks, FAT's 2 s), invisible to the change check: such a tree is copied again.
_SETTLE_SECONDS = 2.0

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP = re.compile(r"^[^/@:\s]+@[^/:\s]+:")  # user@host:path, git's scp-like syntax
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")

# Variables that would point git at another repository, index or object store than ours.
_GIT_LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
)


@dataclass(frozen=True)
class Contents:
    """What a source's revisions consist of: the policies, or an organisation directory."""

    setting: str
    """The configuration section that names the source (`policies`, `directory`)."""
    folder: str
    """What a folder of them is called in descriptions (`directory /srv/policies`)."""
    place: str
    """What a folder of them is called in messages, e.g. `policy directory`."""
    file: str
    """What one of their files is called in messages, e.g. `policy file`."""
    holding: str
    """What they are, in messages: `the policies`."""
    suffixes: frozenset[str]
    """The files a revision consists of; nothing else is copied into a snapshot."""
    revision: Callable[[Path], str]
    """The revision of a snapshot (a folder, or for a one-file source the file)."""
    snapshots: str
    """The folder of the cache their snapshots go in."""
    one_file: bool
    """Whether one file (not only a folder) may hold them."""


POLICIES = Contents(
    setting="policies",
    folder="directory",
    place="policy directory",
    file="policy file",
    holding="the policies",
    suffixes=POLICY_SUFFIXES,
    revision=content_revision,
    snapshots="snapshots",
    one_file=False,
)
# Its revision is the one `read_directory` gives the same files, so a sidecar and
# `quanze directory check` name the same directory the same way.
DIRECTORY = Contents(
    setting="directory",
    folder="folder",
    place="organisation directory folder",
    file="directory file",
    holding="the organisation directory",
    suffixes=frozenset({".json"}),
    revision=directory_revision,
    snapshots="directory-snapshots",
    one_file=True,
)
SECTIONS = {contents.setting: contents for contents in (POLICIES, DIRECTORY)}


@dataclass(frozen=True)
class Candidate:
    """One revision of the policies, ready to be tested and served."""

    revision: str
    """git: the full commit SHA; a directory: the content revision of its snapshot; a
    combination: `<policies>+directory.<directory>`, the revision `load_bundle` names."""
    path: Path
    """A directory holding exactly this revision's policies (for a one-file source, the file);
    never modified afterwards."""
    description: str
    """For status and logs, e.g. `git https://host/repo.git branch main commit 1a2b3c4d5e6f`."""
    committed_at: str = ""
    """git: the commit time, ISO 8601 in UTC; empty otherwise."""
    author: str = ""
    """git: `Name <email>` of the commit's author; empty otherwise."""
    policies: Candidate | None = None
    """A combination's policies: their own revision and snapshot (`path` is that snapshot)."""
    directory: Candidate | None = None
    """A combination's organisation directory, from a source of its own; None otherwise."""

    @property
    def policy_part(self) -> Candidate:
        """The policies: a combination's own, else this candidate."""
        return self.policies or self


# Between the two parts of a combined source's description: `POLICIES; directory WHERE`.
DIRECTORY_SEPARATOR = "; directory "


def combined_description(policies: str, directory: str) -> str:
    """How a source serving `policies` with the directory `directory` is described."""
    return f"{policies}{DIRECTORY_SEPARATOR}{directory}"


def combine(policies: Candidate, directory: Candidate) -> Candidate:
    """The candidate that serves `policies` with the organisation directory `directory`."""
    return Candidate(
        revision=combined_revision(policies.revision, directory.revision),
        path=policies.path,
        description=combined_description(policies.description, directory.description),
        committed_at=policies.committed_at,
        author=policies.author,
        policies=policies,
        directory=directory,
    )


class PolicySource(Protocol):
    """Somewhere revisions of the policies come from."""

    description: str

    def poll(self) -> Candidate:
        """The source's current revision; raises `PolicySourceError` saying what to fix."""
        ...


@dataclass(frozen=True)
class SignaturePolicy:
    """Whose signatures a `GitSource` accepts on the commits it serves.

    `allowed_signers_file` lists SSH keys (ssh-keygen's ALLOWED SIGNERS format, e.g.
    `alice@example.com namespaces="git" ssh-ed25519 AAAA…`); `gpg_home` is a GnuPG home whose
    keyring holds the GPG keys allowed. Keys anywhere else (the user's own keyring included)
    never count.
    """

    allowed_signers_file: Path | None = None
    gpg_home: Path | None = None


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
        return [
            (path.relative_to(self.path).as_posix(), path)
            for path in sorted(self.path.rglob("*"))
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
        with _staging(self._snapshots, ".copy-") as staging:
            if not _copy_policy_files(files, staging):
                raise PolicySourceError(
                    f"every {contents.file} under {self.path} disappeared while it was being "
                    "copied; the next poll tries again"
                )
            revision = contents.revision(self._served(staging))
            final = _publish(staging, self._snapshots / revision)
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


# ========================================================================== git


class GitSource:
    """The tip of `branch` of a git repository, exported into `cache_dir/revisions/<sha>/`.

    The repository is fetched (bare, only that branch, no tags) into
    `cache_dir/git/<hash of the url>`; each commit is exported once, through a temporary
    directory renamed into place, so a half-exported revision is never seen. The export holds
    the commit's files byte for byte (no attributes, filters or line-ending conversion); with a
    `subdir`, that directory of the commit becomes the root, in `revisions/<sha>-<hash of subdir>`
    so the same commit exported with another subdir never shares a directory. `contents` says
    which settings its messages point at (an organisation directory's: `directory.*`).
    """

    def __init__(
        self,
        url: str,
        *,
        branch: str = "main",
        subdir: str = "",
        cache_dir: Path,
        timeout_s: float = 60.0,
        signatures: SignaturePolicy | None = None,
        contents: Contents = POLICIES,
    ) -> None:
        self.contents = contents
        setting = contents.setting
        if not url or url.startswith("-"):
            raise PolicySourceError(
                f"{redact_url(url)!r} is not a git location; set {setting}.path to a repository "
                "URL, user@host:path or the path of a local repository"
            )
        local = not (_URL.match(url) or _SCP.match(url))
        # A local path is fetched by its absolute name, so a later change of directory is moot.
        self.url = str(Path(url).expanduser().absolute()) if local else url
        self.display = redact_url(url)
        self.branch = branch
        self.subdir = _clean_subdir(subdir, setting)
        self.timeout_s = timeout_s
        self.signatures = signatures
        self.description = f"git {self.display} branch {branch}" + (
            f" subdir {self.subdir}" if self.subdir else ""
        )
        cache = Path(cache_dir).expanduser().absolute()
        key = hashlib.sha256(_without_userinfo(self.url).encode()).hexdigest()[:20]
        self.repository = cache / "git" / key
        self._revisions = cache / "revisions"
        self._cache = cache
        self._secrets = _secrets_of(url)
        self._lock = threading.Lock()
        self._last: Candidate | None = None
        self._check_branch()

    # ------------------------------------------------------------------ polling

    def poll(self) -> Candidate:
        with self._lock, _file_lock(self.repository.with_name(self.repository.name + ".lock")):
            self._fetch()
            sha = self._tip()
            last = self._last
            if last is not None and last.revision == sha and last.path.is_dir():
                return last
            # Checked before the export, and again for a revision refused before: a key added
            # to the allowed signers since then admits it without a new commit.
            if self.signatures is not None:
                self._verify(sha, self.signatures)
            path = self._export(sha)
            committed_at, author = self._commit_metadata(sha)
            candidate = Candidate(
                revision=sha,
                path=path,
                description=f"{self.description} commit {sha[:12]}",
                committed_at=committed_at,
                author=author,
            )
            self._last = candidate
            return candidate

    def _fetch(self) -> None:
        refspec = f"+refs/heads/{self.branch}:refs/heads/{self.branch}"
        fetch = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--", self.url]
        if (self.repository / "HEAD").is_file():
            result = self._git(["--git-dir", str(self.repository), *fetch, refspec], "fetch")
            if result.returncode != 0:
                raise self._fetch_error(result, hint_cache=True)
            return
        # First poll: a bare, single-branch clone, built aside and renamed into place so a
        # failed clone leaves nothing behind. `init` + `fetch` rather than `clone` keeps any
        # credentials in the URL out of the cached repository's configuration.
        with _staging(self.repository.parent, ".clone-") as staging:
            result = self._git(["init", "--quiet", "--bare", str(staging)], "init")
            if result.returncode != 0:
                raise PolicySourceError(
                    f"cannot create the git cache {staging}: {self._stderr(result)}; set "
                    "policies.cache_dir to a directory the account Quanze runs as can write"
                )
            result = self._git(["--git-dir", str(staging), *fetch, refspec], "clone")
            if result.returncode != 0:
                raise self._fetch_error(result, hint_cache=False)
            _publish(staging, self.repository)

    def _fetch_error(
        self, result: subprocess.CompletedProcess[bytes], *, hint_cache: bool
    ) -> PolicySourceError:
        stderr = self._stderr(result)
        if "couldn't find remote ref" in stderr:
            return PolicySourceError(
                f"branch {self.branch!r} does not exist in {self.display} ({stderr}); set "
                f"{self.contents.setting}.branch to a branch of that repository, or push the "
                "branch"
            )
        cache = (
            f"; if the local cache {self.repository} is damaged, delete it and it is fetched again"
            if hint_cache
            else ""
        )
        return PolicySourceError(
            f"cannot fetch branch {self.branch!r} from {self.display}: {stderr}; check that the "
            "repository exists at that location, that this host can reach it, and that the "
            f"account Quanze runs as has access to it (SSH key or credentials){cache}"
        )

    def _tip(self) -> str:
        result = self._git(
            [
                "--git-dir",
                str(self.repository),
                "rev-parse",
                "--verify",
                "--quiet",
                f"refs/heads/{self.branch}^{{commit}}",
            ],
            "rev-parse",
        )
        sha = result.stdout.decode().strip()
        if result.returncode != 0 or not sha:
            raise PolicySourceError(
                f"branch {self.branch!r} of {self.display} was fetched but names no commit "
                f"({self._stderr(result) or 'no output'}); delete the local cache "
                f"{self.repository} and poll again"
            )
        return sha

    # -------------------------------------------------------------- signatures

    def _verify(self, sha: str, policy: SignaturePolicy) -> None:
        setting = self.contents.setting
        if policy.allowed_signers_file is not None and not policy.allowed_signers_file.is_file():
            raise PolicySourceError(
                f"the allowed signers file {policy.allowed_signers_file} does not exist; "
                'create it (one `EMAIL namespaces="git" KEY` line per signer) or correct '
                f"{setting}.allowed_signers_file"
            )
        if policy.gpg_home is not None and not policy.gpg_home.is_dir():
            raise PolicySourceError(
                f"the GnuPG home {policy.gpg_home} does not exist; create it and import the "
                "allowed public keys (gpg --homedir DIR --import KEY.asc) or correct "
                f"{setting}.gpg_home"
            )
        # Keys not named by the policy never count: an empty signers file and an empty
        # keyring stand in for the kind of key the policy does not name.
        empty = self._cache / "no-signers"
        _make_dir(empty)
        signers = policy.allowed_signers_file or empty / "allowed_signers"
        if policy.allowed_signers_file is None:
            signers.touch()
        gpg_home = policy.gpg_home or empty / "gnupg"
        _make_dir(gpg_home)
        config = ["-c", f"gpg.ssh.allowedSignersFile={signers}"]
        env = {"GNUPGHOME": str(gpg_home)}
        git_dir = ["--git-dir", str(self.repository)]
        result = self._git([*config, *git_dir, "verify-commit", sha], "verify-commit", env=env)
        if result.returncode == 0:
            return
        shown = self._git(
            [*config, *git_dir, "show", "-s", "--no-notes", "--format=%G?%x00%GS%x00%GK", sha],
            "show",
            env=env,
        )
        status, signer, key = (
            shown.stdout.decode(errors="replace").strip().split("\0") + [""] * 3
        )[:3]
        where = f"commit {sha[:12]} (branch {self.branch} of {self.display})"
        if status == "N":
            message = (
                f"{where} is not signed, and {setting}.require_signed_commits is on; sign it "
                "with an allowed key (git commit -S, or git commit --amend -S for the last "
                "commit) and push it"
            )
        else:
            who = " ".join(part for part in (signer, f"key {key}" if key else "") if part)
            message = (
                f"{where} is signed by {who or 'an unknown key'}, which is not allowed "
                f"(git verify-commit: {self._stderr(result) or 'failed'}); sign it with an "
                f"allowed key, or allow this key: {_how_to_allow(policy, key, setting)}"
            )
        raise UnsignedRevisionError(sha, message)

    # ----------------------------------------------------------------- export

    def _export(self, sha: str) -> Path:
        name = sha
        if self.subdir:
            name += "-" + hashlib.sha256(self.subdir.encode()).hexdigest()[:12]
        final = self._revisions / name
        if final.is_dir():
            return final
        git_dir = ["--git-dir", str(self.repository)]
        tree = f"{sha}:{self.subdir}" if self.subdir else f"{sha}^{{tree}}"
        kind = self._git([*git_dir, "cat-file", "-t", tree], "cat-file")
        if kind.returncode != 0 or kind.stdout.strip() != b"tree":
            what = "no directory" if kind.returncode != 0 else "a file, not a directory, at"
            raise PolicySourceError(
                f"commit {sha[:12]} (branch {self.branch} of {self.display}) has {what} "
                f"{self.subdir!r}"
                + (f" ({self._stderr(kind)})" if kind.returncode else "")
                + f"; set {self.contents.setting}.subdir to the directory of that repository "
                f"holding {self.contents.holding}, or to '' for its root"
            )
        listing = self._git([*git_dir, "ls-tree", "-r", "-z", tree], "ls-tree")
        if listing.returncode != 0:
            raise self._read_error(sha, listing)
        files: list[tuple[str, str]] = []
        for record in listing.stdout.split(b"\0"):
            if not record:
                continue
            header, _, raw_name = record.partition(b"\t")
            mode, kind_name, oid = header.decode().split(" ")
            name = os.fsdecode(raw_name)
            if kind_name == "commit":
                continue  # a submodule: not part of this repository's content
            if mode == "120000":
                raise PolicySourceError(
                    f"commit {sha[:12]} of {self.display} holds a symbolic link {name!r}; "
                    f"{self.contents.holding} are exported as regular files only, so replace "
                    "the link with "
                    "the file it points to"
                )
            parts = PurePosixPath(name).parts
            if not parts or any(p in ("", ".", "..", ".git") for p in parts):
                raise PolicySourceError(
                    f"commit {sha[:12]} of {self.display} holds an unsafe path {name!r}; "
                    "remove it from the repository"
                )
            files.append((name, oid))
        contents = self._blobs(sha, [oid for _, oid in files])
        with _staging(self._revisions, ".export-") as staging:
            for (name, _), data in zip(files, contents, strict=True):
                destination = staging / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(data)
                destination.chmod(0o444)
            return _publish(staging, final)

    def _blobs(self, sha: str, oids: Sequence[str]) -> list[bytes]:
        """The contents of `oids`, read in one `git cat-file --batch`."""
        if not oids:
            return []
        result = self._git(
            ["--git-dir", str(self.repository), "cat-file", "--batch"],
            "cat-file",
            stdin="".join(f"{oid}\n" for oid in oids).encode(),
        )
        if result.returncode != 0:
            raise self._read_error(sha, result)
        out = result.stdout
        contents = []
        position = 0
        for oid in oids:
            end = out.index(b"\n", position)
            header = out[position:end].split(b" ")
            if len(header) != 3 or header[1] != b"blob":
                raise PolicySourceError(
                    f"object {oid} of commit {sha[:12]} in {self.repository} cannot be read "
                    f"({out[position:end].decode(errors='replace')}); delete the local cache "
                    "and poll again"
                )
            size = int(header[2])
            contents.append(out[end + 1 : end + 1 + size])
            position = end + 1 + size + 1
        return contents

    def _read_error(
        self, sha: str, result: subprocess.CompletedProcess[bytes]
    ) -> PolicySourceError:
        return PolicySourceError(
            f"cannot read commit {sha[:12]} from the local cache {self.repository}: "
            f"{self._stderr(result)}; delete that directory and it is fetched again"
        )

    def _commit_metadata(self, sha: str) -> tuple[str, str]:
        """(commit time in UTC, ISO 8601; `Name <email>` of the author)."""
        result = self._git(
            [
                "--git-dir",
                str(self.repository),
                "show",
                "-s",
                "--no-notes",
                "--no-show-signature",
                "--format=%ct%x00%an%x00%ae",
                sha,
            ],
            "show",
        )
        if result.returncode != 0:
            raise self._read_error(sha, result)
        seconds, name, email = result.stdout.decode(errors="replace").strip().split("\0")
        committed = datetime.fromtimestamp(int(seconds), tz=UTC)
        return committed.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{name} <{email}>"

    # ------------------------------------------------------------------ running

    def _check_branch(self) -> None:
        result = self._git(["check-ref-format", f"refs/heads/{self.branch}"], "check-ref-format")
        if result.returncode != 0 or self.branch.startswith("-"):
            raise PolicySourceError(
                f"{self.branch!r} is not a valid branch name; set {self.contents.setting}.branch "
                "to a branch of the repository, e.g. main"
            )

    def _git(
        self,
        args: Sequence[str],
        what: str,
        *,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git non-interactively within the timeout; the result is checked by the caller."""
        environment = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARIABLES} | {
            "GIT_TERMINAL_PROMPT": "0",  # never wait for a password nobody will type
            "LC_ALL": "C.UTF-8",  # messages we recognise, names in UTF-8
        }
        environment.update(env or {})
        argv = ["git", "--no-replace-objects", *args]
        try:
            return _run(argv, environment, stdin, self.timeout_s)
        except FileNotFoundError:
            raise PolicySourceError(
                "git is not installed or not on PATH; install git, or serve a "
                f"{self.contents.place} instead of a repository"
            ) from None
        except subprocess.TimeoutExpired:
            raise PolicySourceError(
                f"git {what} of {self.display} branch {self.branch} did not finish within "
                f"{self.timeout_s:g} s; check that this host can reach the repository, or "
                "raise policies.git_timeout_seconds"
            ) from None

    def _stderr(self, result: subprocess.CompletedProcess[bytes]) -> str:
        """git's complaint, trimmed to its last lines and without credentials."""
        lines = [
            line.strip()
            for line in result.stderr.decode(errors="replace").splitlines()
            if line.strip() and not line.startswith("hint:")
        ]
        text = " / ".join(lines[-4:])
        if len(text) > 600:
            text = "…" + text[-600:]
        text = redact_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


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


def _run(
    argv: Sequence[str], env: Mapping[str, str], stdin: bytes | None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run `argv`; on timeout kill its whole process group (ssh, remote helpers) too."""
    with subprocess.Popen(
        argv,
        env=dict(env),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: ssh cannot prompt either
    ) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            # A helper that left the group (an ssh control master) may hold the pipes open:
            # give up on its output rather than wait for it forever.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=5)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
            process.wait()
            raise
        return subprocess.CompletedProcess(argv, process.returncode, out, err)


def _how_to_allow(policy: SignaturePolicy, key: str, setting: str) -> str:
    """How to admit `key` (an SSH fingerprint `SHA256:…` or a GPG key id) under `policy`."""
    ssh = (
        f'add its public key to {policy.allowed_signers_file} as `EMAIL namespaces="git" KEY`'
        if policy.allowed_signers_file is not None
        else f"set {setting}.allowed_signers_file to a file listing its public key (SSH "
        "signatures are checked only against that file)"
    )
    gpg = (
        f"import its public key with gpg --homedir {policy.gpg_home} --import KEY.asc"
        if policy.gpg_home is not None
        else f"set {setting}.gpg_home to a GnuPG home holding its public key (GPG signatures "
        "are checked only against that keyring)"
    )
    if key.startswith("SHA256:"):
        return ssh
    return gpg if key else f"{ssh}; {gpg}"


def _clean_subdir(subdir: str, setting: str) -> str:
    path = PurePosixPath(subdir.strip().strip("/"))
    if ".." in path.parts or path.is_absolute():
        raise PolicySourceError(
            f"{setting}.subdir {subdir!r} leaves the repository; give a directory inside it, "
            "e.g. policies"
        )
    return "" if str(path) == "." else str(path)


# ===================================================================== helpers


def redact_url(text: str) -> str:
    """`text` with the user info of every URL in it hidden (a token often is the user name).

    An SSH user name without a password (`ssh://git@host/…`) is no secret and stays.
    """

    def hide(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        if "ssh" in scheme.lower() and ":" not in userinfo:
            return match[0]
        return f"{scheme}***@"

    return _USERINFO.sub(hide, text)


def _without_userinfo(url: str) -> str:
    return _USERINFO.sub(lambda m: m["scheme"], url)


def _secrets_of(url: str) -> list[str]:
    """Strings of `url` that must not appear in messages: its password, or a token user name."""
    match = _USERINFO.search(url)
    if match is None or redact_url(match[0]) == match[0]:
        return []
    user, _, password = match["userinfo"].partition(":")
    return [s for s in {password, unquote(password), user, unquote(user)} if len(s) >= 4]


def is_git_location(value: str) -> bool:
    """Whether `value` names a git repository rather than a plain policy directory.

    True for URLs (`scheme://…`), scp-like `user@host:path`, names ending in `.git`, and local
    directories that are repositories (with a `.git` inside, or bare: HEAD, objects/, refs/).
    """
    if _URL.match(value) or _SCP.match(value) or value.rstrip("/").endswith(".git"):
        return True
    path = Path(value).expanduser()
    if not path.is_dir():
        return False
    return (path / ".git").exists() or (
        (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
    )


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
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
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


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise PolicySourceError(
            f"cannot create {path}: {exc.strerror or exc}; set policies.cache_dir to a "
            "directory the account Quanze runs as can write"
        ) from exc


@contextlib.contextmanager
def _staging(parent: Path, prefix: str) -> Iterator[Path]:
    """A new directory under `parent` to build in, removed if the building fails."""
    _make_dir(parent)
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


def _publish(staging: Path, final: Path) -> Path:
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
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`: worker processes share one cache."""
    _make_dir(path.parent)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
