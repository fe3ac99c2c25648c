"""The git source: the tip of a branch of a git repository, exported commit by commit.

With a `SignaturePolicy` the commit must carry a signature by an allowed SSH or GPG key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from quanze.server.errors import PolicySourceError, UnsignedRevisionError
from quanze.server.policy.cache import file_lock, make_dir, publish, staging_dir
from quanze.server.policy.candidate import POLICIES, Candidate, Contents
from quanze.server.policy.git_location import (
    is_remote,
    redact_url,
    secrets_of,
    without_userinfo,
)

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
class SignaturePolicy:
    """Whose signatures a `GitSource` accepts on the commits it serves.

    `allowed_signers_file` lists SSH keys (ssh-keygen's ALLOWED SIGNERS format, e.g.
    `alice@example.com namespaces="git" ssh-ed25519 AAAA…`); `gpg_home` is a GnuPG home whose
    keyring holds the GPG keys allowed. Keys anywhere else (the user's own keyring included)
    never count.
    """

    allowed_signers_file: Path | None = None
    gpg_home: Path | None = None


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
        local = not is_remote(url)
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
        key = hashlib.sha256(without_userinfo(self.url).encode()).hexdigest()[:20]
        self.repository = cache / "git" / key
        self._revisions = cache / "revisions"
        self._cache = cache
        self._secrets = secrets_of(url)
        self._lock = threading.Lock()
        self._last: Candidate | None = None
        self._check_branch()

    # ------------------------------------------------------------------ polling

    def poll(self) -> Candidate:
        with self._lock, file_lock(self.repository.with_name(self.repository.name + ".lock")):
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
        with staging_dir(self.repository.parent, ".clone-") as staging:
            result = self._git(["init", "--quiet", "--bare", str(staging)], "init")
            if result.returncode != 0:
                raise PolicySourceError(
                    f"cannot create the git cache {staging}: {self._stderr(result)}; set "
                    "policies.cache_dir to a directory the account Quanze runs as can write"
                )
            result = self._git(["--git-dir", str(staging), *fetch, refspec], "clone")
            if result.returncode != 0:
                raise self._fetch_error(result, hint_cache=False)
            publish(staging, self.repository)

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
        make_dir(empty)
        signers = policy.allowed_signers_file or empty / "allowed_signers"
        if policy.allowed_signers_file is None:
            signers.touch()
        gpg_home = policy.gpg_home or empty / "gnupg"
        make_dir(gpg_home)
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
        with staging_dir(self._revisions, ".export-") as staging:
            for (name, _), data in zip(files, contents, strict=True):
                destination = staging / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(data)
                destination.chmod(0o444)
            return publish(staging, final)

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
