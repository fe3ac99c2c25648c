"""Policy sources against real git repositories and directories made in temporary directories.

Every git command here (the tests' and the source's) runs with an empty global configuration
and no system one, so a developer's own settings neither leak in nor get touched.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quanze.server.decisions import Decider
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.errors import PolicyError, PolicySourceError, UnsignedRevisionError
from quanze.server.policy import source as source_module
from quanze.server.policy.bundle import bundled_policy_dir, content_revision, load_bundle
from quanze.server.policy.cache import default_cache_dir
from quanze.server.policy.candidate import DIRECTORY, Candidate
from quanze.server.policy.directory import read_directory
from quanze.server.policy.git_location import is_git_location, redact_url
from quanze.server.policy.git_source import GitSource, SignaturePolicy
from quanze.server.policy.source import (
    BundledSource,
    CombinedSource,
    DirectorySource,
    FileSource,
    open_source,
    settings_problems,
)
from tests.support import bundled_directory, copy_bundled_policies, split_directory, write_json

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "assistant-unguided.json"
MESSAGES = "quanze/messages/data.json"
IDENTITY = ("-c", "user.name=Policy Author", "-c", "user.email=author@example.com")

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None,
    reason="ssh-keygen is not installed, so SSH-signed commits cannot be made",
)
needs_gpg = pytest.mark.skipif(
    shutil.which("gpg") is None,
    reason="gpg is not installed, so GPG-signed commits cannot be made",
)


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path_factory.mktemp("git-global") / "config"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_SSH_COMMAND"):
        monkeypatch.delenv(name, raising=False)


def git(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout.strip()


class Upstream:
    """A bare repository (the remote) and a working clone the test commits and pushes from."""

    def __init__(
        self,
        root: Path,
        *,
        subdir: str = "",
        sign: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.bare = root / "origin.git"
        self.work = root / "work"
        self.subdir = subdir
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        git("init", "--quiet", "--initial-branch=main", str(self.work))
        git("remote", "add", "origin", str(self.bare), cwd=self.work)
        copy_bundled_policies(self.policies)
        (self.work / "README.md").write_text("The procuratorate's policies\n")
        self.first = self.commit(
            "Initial policies",
            sign=sign,
            env={"GIT_COMMITTER_DATE": "2026-11-30T09:15:00+08:00", **(env or {})},
        )

    @property
    def url(self) -> str:
        return str(self.bare)

    @property
    def policies(self) -> Path:
        return self.work / self.subdir

    def commit(
        self,
        message: str,
        *,
        files: Mapping[str, str] | None = None,
        branch: str = "main",
        sign: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Commit `files` (relative to the policies) on `branch`, push it; the new SHA."""
        if git("branch", "--show-current", cwd=self.work) != branch:
            exists = git("branch", "--list", branch, cwd=self.work)
            git("checkout", "--quiet", *([] if exists else ["-b"]), branch, cwd=self.work)
        for name, text in (files or {}).items():
            (self.policies / name).write_text(text)
        git("add", "--all", cwd=self.work)
        signed = ["-S"] if sign else []
        git(*IDENTITY, *sign, "commit", "--quiet", *signed, "-m", message, cwd=self.work, env=env)
        git("push", "--quiet", "origin", branch, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


def reworded(root: Path, english: str) -> str:
    """The messages file under `root` with the unguided assistant's English reason replaced."""
    messages = json.loads((root / MESSAGES).read_text())
    messages["assistant_requires_guidance"]["en"] = english
    return json.dumps(messages, ensure_ascii=False, indent=2)


def decide(candidate: Candidate) -> dict[str, Any]:
    """The answer the candidate's policies give the unguided assistant."""
    bundle = load_bundle(candidate.path, revision=candidate.revision)
    answer: dict[str, Any] = Decider(bundle, RegorusEngine(bundle)).check(
        json.loads(EXAMPLE.read_text())
    )
    return answer


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# ========================================================================== git


@needs_git
def test_first_poll_clones_and_exports_the_branch_tip(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "upstream")
    cache = tmp_path / "cache"
    source = GitSource(upstream.url, cache_dir=cache)

    candidate = source.poll()

    sha = git("rev-parse", "main", cwd=upstream.bare)
    assert candidate.revision == sha == upstream.first
    assert candidate.path == cache / "revisions" / sha
    assert source.repository.parent == cache / "git"
    assert git("rev-parse", "--is-bare-repository", cwd=source.repository) == "true"
    assert candidate.description == f"git {upstream.url} branch main commit {sha[:12]}"
    assert candidate.committed_at == "2026-11-30T01:15:00Z"
    assert candidate.author == "Policy Author <author@example.com>"
    # The export is the commit's tree, file for file and byte for byte.
    tracked = git("ls-tree", "-r", "--name-only", sha, cwd=upstream.bare).splitlines()
    assert sorted(files_of(candidate.path)) == sorted(tracked)
    assert content_revision(candidate.path) == content_revision(upstream.policies)

    answer = decide(candidate)
    assert answer["policy_revision"] == sha
    assert [r["code"] for r in answer["reasons"]] == ["assistant_requires_guidance"]
    assert source.poll() == candidate  # nothing pushed: the same revision


@needs_git
def test_a_pushed_commit_is_seen_at_the_next_poll_and_the_old_revision_stays(
    tmp_path: Path,
) -> None:
    upstream = Upstream(tmp_path / "upstream")
    source = GitSource(upstream.url, cache_dir=tmp_path / "cache")
    old = source.poll()
    old_files = files_of(old.path)

    text = "Reworded in the second commit"
    new_sha = upstream.commit("Reword", files={MESSAGES: reworded(upstream.policies, text)})
    new = source.poll()

    assert new.revision == new_sha != old.revision
    assert new.path != old.path
    assert files_of(old.path) == old_files
    answer = decide(new)
    assert answer["policy_revision"] == new_sha
    assert answer["reasons"][0]["message_en"] == text


@needs_git
def test_a_local_work_tree_is_served_from_its_commits_not_its_edits(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "upstream")
    source = GitSource(str(upstream.work), cache_dir=tmp_path / "cache")
    first = source.poll()

    (upstream.policies / MESSAGES).write_text(reworded(upstream.policies, "Not committed"))

    assert source.poll() == first
    assert first.revision == upstream.first
    assert "Not committed" not in (first.path / MESSAGES).read_text()


@needs_git
def test_the_configured_branch_is_served(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "upstream")
    text = "Wording on the staging branch"
    staging = upstream.commit(
        "Staging wording",
        files={MESSAGES: reworded(upstream.policies, text)},
        branch="staging",
    )
    cache = tmp_path / "cache"  # both sources share one clone of the repository

    on_staging = GitSource(upstream.url, branch="staging", cache_dir=cache).poll()
    on_main = GitSource(upstream.url, branch="main", cache_dir=cache).poll()

    assert on_staging.revision == staging
    assert on_main.revision == upstream.first
    assert "branch staging" in on_staging.description
    assert (
        json.loads((on_staging.path / MESSAGES).read_text())["assistant_requires_guidance"]["en"]
        == text
    )
    assert json.loads((on_main.path / MESSAGES).read_text()) == json.loads(
        (bundled_policy_dir() / MESSAGES).read_text()
    )


@needs_git
def test_a_subdirectory_of_the_repository_is_the_policy_root(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "upstream", subdir="policies")
    cache = tmp_path / "cache"

    candidate = GitSource(upstream.url, subdir="policies/", cache_dir=cache).poll()

    assert candidate.revision == upstream.first
    assert (candidate.path / "quanze").is_dir()
    assert not (candidate.path / "README.md").exists()
    assert content_revision(candidate.path) == content_revision(upstream.policies)
    assert load_bundle(candidate.path, revision=candidate.revision).revision == upstream.first
    assert "subdir policies" in candidate.description
    # The whole commit, exported without a subdir, does not share the directory.
    whole = GitSource(upstream.url, cache_dir=cache).poll()
    assert whole.path != candidate.path
    assert (whole.path / "README.md").is_file()

    with pytest.raises(PolicySourceError) as missing:
        GitSource(upstream.url, subdir="rego", cache_dir=cache).poll()
    message = str(missing.value)
    assert f"branch main of {upstream.url}" in message
    assert "has no directory 'rego'" in message
    assert "policies.subdir" in message

    with pytest.raises(PolicySourceError, match=r"a file, not a directory, at 'README\.md'"):
        GitSource(upstream.url, subdir="README.md", cache_dir=cache).poll()


@needs_git
def test_a_missing_branch_is_named_and_leaves_no_clone(tmp_path: Path) -> None:
    upstream = Upstream(tmp_path / "upstream")
    cache = tmp_path / "cache"

    with pytest.raises(PolicySourceError) as caught:
        GitSource(upstream.url, branch="release", cache_dir=cache).poll()

    message = str(caught.value)
    assert f"branch 'release' does not exist in {upstream.url}" in message
    assert "couldn't find remote ref" in message  # git's own words
    assert "policies.branch" in message
    assert [p for p in (cache / "git").iterdir() if p.is_dir()] == []


@needs_git
def test_a_missing_repository_is_reported_with_git_s_reason(tmp_path: Path) -> None:
    url = str(tmp_path / "nowhere.git")

    with pytest.raises(PolicySourceError) as caught:
        GitSource(url, cache_dir=tmp_path / "cache").poll()

    message = str(caught.value)
    assert f"cannot fetch branch 'main' from {url}" in message
    assert "does not appear to be a git repository" in message
    assert "check that the repository exists" in message


@needs_git
def test_credentials_in_the_url_never_reach_a_message(tmp_path: Path) -> None:
    # Nothing listens on the discard port, so the fetch fails at once with git's complaint.
    url = "https://deploy:s3cr3t-t0ken@127.0.0.1:9/policies.git"
    source = GitSource(url, cache_dir=tmp_path / "cache", timeout_s=30)

    with pytest.raises(PolicySourceError) as caught:
        source.poll()

    message = str(caught.value)
    assert "https://***@127.0.0.1:9/policies.git" in message
    assert "s3cr3t" not in message
    assert "deploy" not in message
    assert "s3cr3t" not in source.description


@needs_git
def test_a_remote_that_does_not_answer_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(hang))  # an SSH server that never answers

    source = GitSource(
        "ssh://git@policies.example/policies.git", cache_dir=tmp_path / "cache", timeout_s=0.5
    )
    with pytest.raises(PolicySourceError) as caught:
        source.poll()

    message = str(caught.value)
    assert "did not finish within 0.5 s" in message
    assert "policies.git_timeout_seconds" in message


@needs_git
def test_invalid_branch_and_subdir_are_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(PolicySourceError, match="not a valid branch name"):
        GitSource("/srv/policies.git", branch="main..next", cache_dir=tmp_path)
    with pytest.raises(PolicySourceError, match="leaves the repository"):
        GitSource("/srv/policies.git", subdir="../etc", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pw@host/x.git", "https://***@host/x.git"),
        ("https://ghp_token123@host/x", "https://***@host/x"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),
        ("ssh://git:pw@host/x.git", "ssh://***@host/x.git"),
        ("git@host:org/x.git", "git@host:org/x.git"),
        (
            "fatal: unable to access 'https://u:p@h/r/': refused",
            "fatal: unable to access 'https://***@h/r/': refused",
        ),
    ],
)
def test_redact_url_hides_user_info(text: str, expected: str) -> None:
    assert redact_url(text) == expected


# ================================================================ signed commits


def ssh_key(directory: Path, name: str) -> tuple[Path, str, str]:
    """A new Ed25519 key: (private key file, public key line, fingerprint)."""
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    public = key.with_name(name + ".pub").read_text().strip()
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key)], check=True, capture_output=True, text=True
    )
    return key, public, listed.stdout.split()[1]


def ssh_signing(key: Path) -> list[str]:
    return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"]


@needs_git
@needs_ssh_keygen
def test_ssh_signed_commits_are_served_only_when_signed_by_an_allowed_key(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    alice, alice_public, _ = ssh_key(keys, "alice")
    mallory, mallory_public, mallory_fingerprint = ssh_key(keys, "mallory")
    allowed = keys / "allowed_signers"
    allowed.write_text(f'alice@example.com namespaces="git" {alice_public}\n')
    upstream = Upstream(tmp_path / "upstream", sign=ssh_signing(alice))
    cache = tmp_path / "cache"
    source = GitSource(
        upstream.url, cache_dir=cache, signatures=SignaturePolicy(allowed_signers_file=allowed)
    )

    assert source.poll().revision == upstream.first

    unsigned = upstream.commit("Unsigned", files={"NOTES.md": "unsigned\n"})
    with pytest.raises(UnsignedRevisionError) as refused:
        source.poll()
    assert refused.value.revision == unsigned
    assert f"commit {unsigned[:12]} (branch main of {upstream.url}) is not signed" in str(
        refused.value
    )
    assert "git commit -S" in str(refused.value)
    assert not (cache / "revisions" / unsigned).exists()  # refused content is never exported

    forged = upstream.commit(
        "Signed by another key", files={"NOTES.md": "mallory\n"}, sign=ssh_signing(mallory)
    )
    with pytest.raises(UnsignedRevisionError) as refused:
        source.poll()
    message = str(refused.value)
    assert refused.value.revision == forged
    assert f"key {mallory_fingerprint}, which is not allowed" in message
    assert f"add its public key to {allowed}" in message

    # Allowing the key admits the same commit at the next poll, without a new commit.
    allowed.write_text(
        allowed.read_text() + f'mallory@example.com namespaces="git" {mallory_public}\n'
    )
    assert source.poll().revision == forged

    # A policy that names only a GPG keyring accepts no SSH signature at all.
    keyring = tmp_path / "empty-keyring"
    keyring.mkdir(mode=0o700)
    gpg_only = GitSource(
        upstream.url, cache_dir=cache, signatures=SignaturePolicy(gpg_home=keyring)
    )
    with pytest.raises(
        UnsignedRevisionError,
        match=r"set policies\.allowed_signers_file to a file listing its public key",
    ):
        gpg_only.poll()


@dataclass(frozen=True)
class GpgKey:
    home: Path
    fingerprint: str

    def signing(self) -> list[str]:
        return ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={self.fingerprint}"]

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}


class GnuPG:
    """GnuPG homes made for one test; `stop` ends the agents gpg starts in them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.homes: list[Path] = []

    def home(self, name: str) -> Path:
        home = self.root / f"gpg-{name}"
        home.mkdir(mode=0o700)
        self.homes.append(home)
        return home

    def key(self, name: str) -> GpgKey:
        """A passphrase-less Ed25519 signing key in a home of its own."""
        home = self.home(name)
        gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
        uid = f"{name.title()} <{name}@example.com>"
        subprocess.run(
            [*gpg, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
            check=True,
            capture_output=True,
        )
        listed = subprocess.run(
            [*gpg, "--with-colons", "--list-secret-keys"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        fingerprint = next(
            line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:")
        )
        return GpgKey(home, fingerprint)

    def stop(self) -> None:
        for home in self.homes:
            subprocess.run(
                ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                check=False,
                capture_output=True,
            )


@pytest.fixture
def gnupg(tmp_path: Path) -> Iterator[GnuPG]:
    homes = GnuPG(tmp_path)
    yield homes
    if shutil.which("gpgconf"):
        homes.stop()


@needs_git
@needs_gpg
def test_gpg_signed_commits_need_a_key_of_the_keyring(tmp_path: Path, gnupg: GnuPG) -> None:
    alice, eve = gnupg.key("alice"), gnupg.key("eve")
    # The sidecar's keyring holds only Alice's public key, as an operator would import it.
    keyring = gnupg.home("sidecar")
    public = subprocess.run(
        ["gpg", "--homedir", str(alice.home), "--armor", "--export", alice.fingerprint],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        ["gpg", "--homedir", str(keyring), "--batch", "--quiet", "--import"],
        input=public,
        check=True,
        capture_output=True,
    )
    upstream = Upstream(tmp_path / "upstream", sign=alice.signing(), env=alice.env())
    source = GitSource(
        upstream.url, cache_dir=tmp_path / "cache", signatures=SignaturePolicy(gpg_home=keyring)
    )

    assert source.poll().revision == upstream.first

    unsigned = upstream.commit("Unsigned", files={"NOTES.md": "unsigned\n"})
    with pytest.raises(UnsignedRevisionError, match="is not signed") as refused:
        source.poll()
    assert refused.value.revision == unsigned

    forged = upstream.commit(
        "Signed by Eve", files={"NOTES.md": "eve\n"}, sign=eve.signing(), env=eve.env()
    )
    with pytest.raises(UnsignedRevisionError) as refused:
        source.poll()
    assert refused.value.revision == forged
    assert f"key {eve.fingerprint[-16:]}, which is not allowed" in str(refused.value)
    assert f"import its public key with gpg --homedir {keyring}" in str(refused.value)

    signed = upstream.commit(
        "Signed by Alice", files={"NOTES.md": "alice\n"}, sign=alice.signing(), env=alice.env()
    )
    assert source.poll().revision == signed


# ==================================================================== directory


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    copy_bundled_policies(target)
    (target / "NOTES.md").write_text("not a policy file\n")
    return target


def an_hour_later() -> float:
    """A clock that makes every file look long settled."""
    return time.time() + 3600


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every copy of a policy tree the directory source makes."""
    made: list[Path] = []
    copy = source_module._copy_policy_files

    def counting(files: Sequence[tuple[str, Path]], target: Path) -> int:
        made.append(target)
        return copy(files, target)

    monkeypatch.setattr(source_module, "_copy_policy_files", counting)
    return made


def test_a_directory_snapshot_carries_the_directory_s_revision(
    policy_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    candidate = DirectorySource(policy_dir, cache).poll()

    assert candidate.revision == content_revision(policy_dir)
    assert load_bundle(candidate.path).revision == candidate.revision
    assert candidate.path == cache / "snapshots" / candidate.revision
    assert candidate.description == f"directory {policy_dir}"
    assert not (candidate.path / "NOTES.md").exists()  # only the policy files are copied
    assert (candidate.committed_at, candidate.author) == ("", "")


def test_an_unchanged_directory_is_not_copied_again(
    policy_dir: Path, tmp_path: Path, copies: list[Path]
) -> None:
    source = DirectorySource(policy_dir, tmp_path / "cache", now=an_hour_later)

    first = source.poll()
    second = source.poll()

    assert second == first
    assert len(copies) == 1


def test_a_change_just_made_is_copied_again_until_it_settles(
    policy_dir: Path, tmp_path: Path, copies: list[Path]
) -> None:
    # The clock stands at the moment the files changed: a same-size edit in that same
    # timestamp tick would not show in the change check, so the tree is copied again.
    changed = max(p.stat().st_ctime for p in policy_dir.rglob("*"))
    source = DirectorySource(policy_dir, tmp_path / "cache", now=lambda: changed)

    first = source.poll()
    second = source.poll()

    assert second == first  # same revision, same snapshot directory reused
    assert len(copies) == 2
    assert [p.name for p in (tmp_path / "cache" / "snapshots").iterdir()] == [first.revision]


def test_an_edit_makes_a_new_revision_in_a_new_snapshot(policy_dir: Path, tmp_path: Path) -> None:
    source = DirectorySource(policy_dir, tmp_path / "cache", now=an_hour_later)
    first = source.poll()
    first_files = files_of(first.path)

    (policy_dir / MESSAGES).write_text(reworded(policy_dir, "Edited on disk"))
    second = source.poll()
    next(policy_dir.rglob("*_test.rego")).unlink()
    third = source.poll()

    assert len({first.revision, second.revision, third.revision}) == 3
    assert second.revision == content_revision(second.path)
    assert third.revision == content_revision(policy_dir) == content_revision(third.path)
    assert files_of(first.path) == first_files


def test_editing_the_directory_after_a_poll_leaves_the_snapshot_alone(
    policy_dir: Path, tmp_path: Path
) -> None:
    candidate = DirectorySource(policy_dir, tmp_path / "cache").poll()
    before = files_of(candidate.path)

    (policy_dir / MESSAGES).write_text(reworded(policy_dir, "Edited after the poll"))

    assert files_of(candidate.path) == before
    assert content_revision(candidate.path) == candidate.revision
    assert stat.S_IMODE((candidate.path / MESSAGES).stat().st_mode) == 0o444


def test_a_save_during_the_copy_is_named_by_what_was_copied(
    policy_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = source_module._copy_policy_files

    def save_then_copy(files: Sequence[tuple[str, Path]], target: Path) -> int:
        # Someone saves after the source looked at the tree, before it copied it.
        (policy_dir / MESSAGES).write_text(reworded(policy_dir, "Saved mid-copy"))
        return copy(files, target)

    monkeypatch.setattr(source_module, "_copy_policy_files", save_then_copy)
    candidate = DirectorySource(policy_dir, tmp_path / "cache").poll()

    assert candidate.revision == content_revision(candidate.path) == content_revision(policy_dir)
    assert "Saved mid-copy" in (candidate.path / MESSAGES).read_text()


def test_directory_problems_are_explained(policy_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(PolicySourceError, match="does not exist or is not a directory"):
        DirectorySource(tmp_path / "nowhere", tmp_path / "cache").poll()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PolicySourceError, match=r"holds no policy files \(\*\.json"):
        DirectorySource(empty, tmp_path / "cache").poll()
    with pytest.raises(PolicySourceError, match="is inside the policy directory"):
        DirectorySource(policy_dir, policy_dir / ".cache")


# ======================================================= bundled, locations, factory


def test_the_bundled_source_is_the_package_s_policies() -> None:
    source = BundledSource()
    candidate = source.poll()

    assert candidate.path == bundled_policy_dir()
    assert candidate.revision == content_revision(bundled_policy_dir())
    assert source.poll() is candidate


@pytest.mark.parametrize(
    "value",
    [
        "https://git.example/org/policies",
        "ssh://git@git.example/org/policies.git",
        "file:///srv/policies",
        "git@git.example:org/policies.git",
        "deploy@git.example:policies",
        "/srv/policies.git",
        "policies.git/",
    ],
)
def test_git_locations_are_recognised(value: str) -> None:
    assert is_git_location(value)


@needs_git
def test_local_directories_are_git_only_when_they_are_repositories(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    git("init", "--quiet", str(tmp_path / "work"))
    git("init", "--quiet", "--bare", str(tmp_path / "bare"))

    assert not is_git_location(str(plain))
    assert not is_git_location(str(tmp_path / "missing"))
    assert is_git_location(str(tmp_path / "work"))
    assert is_git_location(str(tmp_path / "bare"))


@needs_git
def test_open_source_builds_the_source_the_settings_describe(
    policy_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = Upstream(tmp_path / "upstream")
    signers = tmp_path / "allowed_signers"
    signers.write_text("")
    cache = str(tmp_path / "cache")

    assert isinstance(open_source(), BundledSource)
    assert isinstance(open_source(path=str(policy_dir), cache_dir=cache), DirectorySource)
    plain = open_source(path=upstream.url, cache_dir=cache, git_timeout_seconds=5)
    assert isinstance(plain, GitSource)
    assert (plain.timeout_s, plain.signatures) == (5, None)
    signed = open_source(
        path=upstream.url,
        branch="release",
        subdir="quanze",
        cache_dir=cache,
        require_signed_commits=True,
        allowed_signers_file=str(signers),
    )
    assert isinstance(signed, GitSource)
    assert (signed.branch, signed.subdir) == ("release", "quanze")
    assert signed.signatures == SignaturePolicy(allowed_signers_file=signers, gpg_home=None)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    candidate = open_source(path=str(policy_dir)).poll()
    assert candidate.path.is_relative_to(tmp_path / "xdg" / "quanze" / "snapshots")


def test_open_source_lists_every_problem_at_once(policy_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(PolicySourceError) as caught:
        open_source(
            path=str(policy_dir),
            subdir="policies",
            git_timeout_seconds=0,
            require_signed_commits=True,
        )
    message = str(caught.value)
    assert "policies.subdir: applies to git repositories only" in message
    assert "policies.git_timeout_seconds: must be greater than 0" in message
    assert "policies.require_signed_commits: applies to git repositories only" in message
    assert "needs policies.allowed_signers_file (SSH keys) and/or policies.gpg_home" in message

    with pytest.raises(PolicySourceError, match="neither a directory nor a git repository"):
        open_source(path=str(tmp_path / "nowhere"))
    with pytest.raises(PolicySourceError, match="require_signed_commits is false"):
        open_source(path="https://git.example/p.git", gpg_home=str(tmp_path))
    with pytest.raises(PolicySourceError, match=r"allowed_signers_file: .* is not a file"):
        open_source(
            path="https://git.example/p.git",
            require_signed_commits=True,
            allowed_signers_file=str(tmp_path / "missing"),
        )


def test_the_default_cache_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/var/cache/x", "HOME": "/home/q"}) == Path(
        "/var/cache/x/quanze"
    )
    # A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    assert default_cache_dir({"XDG_CACHE_HOME": "cache", "HOME": "/home/q"}) == Path(
        "/home/q/.cache/quanze"
    )


# ======================================================= an organisation directory


@pytest.fixture
def directory_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "hr" / "directory.json", bundled_directory())


def test_a_directory_file_is_snapshotted_under_its_own_name_and_revision(
    directory_file: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    source = FileSource(directory_file, cache, contents=DIRECTORY, now=an_hour_later)

    first = source.poll()

    assert first.revision == read_directory(directory_file).revision
    assert first.path == cache / "directory-snapshots" / first.revision / "directory.json"
    assert first.path.read_bytes() == directory_file.read_bytes()
    assert read_directory(first.path).revision == first.revision
    assert first.description == f"file {directory_file}"
    assert source.poll() == first

    document = bundled_directory()
    document["description"] = "Changed by HR"
    write_json(directory_file, document)
    second = source.poll()

    assert second.revision == read_directory(directory_file).revision != first.revision
    assert json.loads(second.path.read_text())["description"] == "Changed by HR"
    assert json.loads(first.path.read_text())["description"] != "Changed by HR"


def test_a_directory_folder_snapshot_holds_only_its_json_files(tmp_path: Path) -> None:
    folder = split_directory(bundled_directory(), tmp_path / "hr")
    (folder / "README.md").write_text("Kept by HR\n")
    (folder / "notes.yaml").write_text("not: a directory file\n")
    cache = tmp_path / "cache"

    candidate = DirectorySource(folder, cache, contents=DIRECTORY).poll()

    assert candidate.revision == read_directory(folder).revision
    assert candidate.path == cache / "directory-snapshots" / candidate.revision
    assert sorted(files_of(candidate.path)) == sorted(p.name for p in folder.glob("*.json"))
    assert candidate.description == f"folder {folder}"
    assert read_directory(candidate.path).document == read_directory(folder).document


def test_directory_source_problems_name_the_directory_settings(
    directory_file: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    directory_file.unlink()
    with pytest.raises(
        PolicySourceError, match=r"does not exist or is not a file; .* directory\.path"
    ):
        FileSource(directory_file, cache, contents=DIRECTORY).poll()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        PolicySourceError, match=r"holds no directory files \(\*\.json\); set directory\.path"
    ):
        DirectorySource(empty, cache, contents=DIRECTORY).poll()
    with pytest.raises(
        PolicySourceError, match=r"directory\.subdir '\.\./x' leaves the repository"
    ):
        GitSource("https://git.example/hr.git", subdir="../x", cache_dir=cache, contents=DIRECTORY)


def test_directory_settings_accept_a_file_and_name_their_section(
    directory_file: Path, tmp_path: Path
) -> None:
    assert settings_problems(section="directory", path=str(directory_file)) == []
    assert settings_problems(section="directory", path=str(directory_file.parent)) == []
    problems = settings_problems(
        section="directory",
        path=str(directory_file),
        subdir="hr",
        require_signed_commits=True,
    )
    assert "directory.subdir: applies to git repositories only" in problems[0]
    assert problems[1].startswith("directory.require_signed_commits: applies to git repositories")
    assert (
        "needs directory.allowed_signers_file (SSH keys) and/or directory.gpg_home" in problems[2]
    )
    assert settings_problems(section="directory", path=str(tmp_path / "nowhere.json")) == [
        f"directory.path: {str(tmp_path / 'nowhere.json')!r} is neither a JSON file, a directory "
        "nor a git repository (a URL, user@host:path, a name ending in .git or a local repository)"
    ]
    # A policy directory is a folder: one file is not one.
    assert "policies.path: " in settings_problems(path=str(directory_file))[0]

    cache = str(tmp_path / "cache")
    assert isinstance(
        open_source(section="directory", path=str(directory_file), cache_dir=cache), FileSource
    )
    folder = open_source(section="directory", path=str(directory_file.parent), cache_dir=cache)
    assert isinstance(folder, DirectorySource)
    assert folder.contents is DIRECTORY
    with pytest.raises(PolicySourceError, match=r"the directory source settings have 1 problem"):
        open_source(section="directory", path="")


class ScriptedPart:
    """A source whose next answer the test sets; counts its polls."""

    def __init__(self, description: str, revision: str) -> None:
        self.description = description
        self.next: Candidate | BaseException = Candidate(
            revision, Path("/x") / revision, description
        )
        self.polls = 0

    def poll(self) -> Candidate:
        self.polls += 1
        if isinstance(self.next, BaseException):
            raise self.next
        return self.next


def test_a_combined_source_answers_both_parts_each_at_its_own_interval() -> None:
    policies, directory = ScriptedPart("git P", "p1"), ScriptedPart("file D", "d1")
    now = [0.0]
    source = CombinedSource(policies, directory, intervals=(30.0, 1.0), clock=lambda: now[0])

    first = source.poll()

    assert source.description == "git P; directory file D"
    assert first.revision == "p1+directory.d1"
    assert (first.policy_part.revision, first.path) == ("p1", Path("/x/p1"))
    assert first.directory is not None
    assert first.directory.revision == "d1"
    assert first.description == "git P; directory file D"

    directory.next = Candidate("d2", Path("/x/d2"), "file D")
    now[0] = 1.5
    assert source.poll().revision == "p1+directory.d2"
    assert (policies.polls, directory.polls) == (1, 2)  # the policies' 30 s have not passed
    now[0] = 31.0
    source.poll()
    assert (policies.polls, directory.polls) == (2, 3)


def test_a_combined_source_refuses_an_unsigned_part_under_the_combined_revision() -> None:
    policies, directory = ScriptedPart("git P", "p1"), ScriptedPart("git D", "d1")
    source = CombinedSource(policies, directory)
    directory.next = UnsignedRevisionError("d2", "commit d2 is not signed")

    with pytest.raises(UnsignedRevisionError) as refused:
        source.poll()

    assert refused.value.revision == "p1+directory.d2"
    assert str(refused.value) == "commit d2 is not signed"
    directory.next = PolicySourceError("cannot fetch")
    with pytest.raises(PolicySourceError, match="cannot fetch"):
        source.poll()


@needs_git
@needs_ssh_keygen
def test_a_directory_repository_serves_signed_commits_of_its_folder(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    hr_key, hr_public, _ = ssh_key(keys, "hr")
    allowed = keys / "allowed_signers"
    allowed.write_text(f'hr@example.com namespaces="git" {hr_public}\n')
    bare, work = tmp_path / "hr.git", tmp_path / "hr"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git("init", "--quiet", "--initial-branch=main", str(work))
    split_directory(bundled_directory(), work / "directory")
    (work / "README.md").write_text("The procuratorate's organisation directory\n")
    git("add", "--all", cwd=work)
    git(*IDENTITY, *ssh_signing(hr_key), "commit", "--quiet", "-S", "-m", "Directory", cwd=work)
    git("push", "--quiet", str(bare), "main", cwd=work)
    signed = git("rev-parse", "HEAD", cwd=work)
    source = open_source(
        section="directory",
        path=str(bare),
        subdir="directory",
        cache_dir=str(tmp_path / "cache"),
        require_signed_commits=True,
        allowed_signers_file=str(allowed),
    )

    candidate = source.poll()

    assert candidate.revision == signed
    assert read_directory(candidate.path).document == read_directory(work / "directory").document
    assert not (candidate.path / "README.md").exists()

    (work / "directory" / "grants.json").write_text("{}\n")
    git("add", "--all", cwd=work)
    git(*IDENTITY, "commit", "--quiet", "-m", "Unsigned", cwd=work)
    git("push", "--quiet", str(bare), "main", cwd=work)
    with pytest.raises(UnsignedRevisionError, match=r"directory\.require_signed_commits is on"):
        source.poll()


# ======================================================= symbolic links


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_policy_directory_holding_a_symbolic_link_is_refused_naming_it(
    policy_dir: Path, tmp_path: Path, kind: str
) -> None:
    # As a git source refuses a commit with a link: a link could bring in a file from anywhere.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "extra.rego").write_text("package quanze.extra\n")
    link = policy_dir / "quanze" / ("extra.rego" if kind == "file" else "extra")
    link.symlink_to(outside / "extra.rego" if kind == "file" else outside)
    source = DirectorySource(policy_dir, tmp_path / "cache", now=an_hour_later)

    with pytest.raises(PolicySourceError) as caught:
        source.poll()
    assert str(caught.value).startswith(f"{link}: a symbolic link to {link.readlink()}")
    assert "replace the link with the file it points to" in str(caught.value)


def test_a_directory_folder_holding_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    folder = split_directory(bundled_directory(), tmp_path / "hr")
    grants = folder / "grants.json"
    moved = grants.rename(tmp_path / "grants.json")
    grants.symlink_to(moved)

    with pytest.raises(PolicySourceError, match=r"grants\.json: a symbolic link to "):
        DirectorySource(folder, tmp_path / "cache", contents=DIRECTORY).poll()
    with pytest.raises(PolicyError, match=r"grants\.json: a symbolic link to "):
        read_directory(folder)


def test_a_source_named_through_a_link_is_followed(policy_dir: Path, tmp_path: Path) -> None:
    # The root is what the operator named (a mounted volume often is a link): only links
    # below it are refused. A directory file named through a link is read as the file.
    linked_root = tmp_path / "current"
    linked_root.symlink_to(policy_dir)
    directory_file = write_json(tmp_path / "hr" / "directory.json", bundled_directory())
    linked_file = tmp_path / "directory.json"
    linked_file.symlink_to(directory_file)
    cache = tmp_path / "cache"

    assert DirectorySource(linked_root, cache).poll().revision == content_revision(policy_dir)
    candidate = FileSource(linked_file, cache, contents=DIRECTORY).poll()
    assert candidate.revision == read_directory(directory_file).revision


# ======================================================= the cache's own safety


def test_a_cache_others_can_write_is_refused_not_used(policy_dir: Path, tmp_path: Path) -> None:
    # Whoever can write in the cache can change what is served (snapshots, gate passes).
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    with pytest.raises(
        PolicySourceError, match=r"cache can be written by other accounts \(mode 777\)"
    ):
        DirectorySource(policy_dir, cache).poll()
    cache.chmod(0o755)
    assert DirectorySource(policy_dir, cache).poll().revision == content_revision(policy_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory to another account")
def test_a_cache_made_in_advance_by_another_account_is_refused(
    policy_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "quanze-0"
    cache.mkdir(mode=0o700)
    os.chown(cache, 4242, 4242)
    with pytest.raises(PolicySourceError, match=r"belongs to another account \(uid 4242\)"):
        DirectorySource(policy_dir, cache).poll()


def test_a_cache_named_through_a_link_of_ones_own_is_used(policy_dir: Path, tmp_path: Path) -> None:
    real = tmp_path / "real-cache"
    real.mkdir()
    linked = tmp_path / "cache"
    linked.symlink_to(real)
    candidate = DirectorySource(policy_dir, linked).poll()
    assert candidate.revision == content_revision(policy_dir)
    assert (real / "snapshots" / candidate.revision).is_dir()


def test_a_cache_under_a_folder_others_can_write_is_refused_unless_it_is_sticky(
    policy_dir: Path, tmp_path: Path
) -> None:
    # Another account could rename the cache away and put its own in place; /tmp's sticky bit
    # forbids exactly that.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PolicySourceError, match=r"shared can be written by other accounts"):
        DirectorySource(policy_dir, shared / "cache").poll()
    shared.chmod(0o1777)
    candidate = DirectorySource(policy_dir, shared / "cache").poll()
    assert candidate.revision == content_revision(policy_dir)
