"""Repositories for tests: the security team's policies and HR's organisation directory.

Real git, real commits, pushed to a bare remote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quanze.server.policy.bundle import bundled_policy_dir
from tests.support import split_directory, trimmed_policies

MESSAGES = Path("quanze/messages/data.json")
# The one test of a repository's own that `PolicyRepo.set_article` makes fail.
PINNED_ARTICLE = """test_the_assistant_duty_message_cites_article_17 if {
	data.quanze.messages.assistant_duty.article == "十七"
}
"""
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Security Team",
    "GIT_AUTHOR_EMAIL": "security@example.org",
    "GIT_COMMITTER_NAME": "Security Team",
    "GIT_COMMITTER_EMAIL": "security@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_IDENTITY},
    )
    return done.stdout.strip()


def commit_and_push(
    work: Path, message: str, *, options: Sequence[str] = (), git_options: Sequence[str] = ()
) -> str:
    """Commit everything in `work` and push it; returns the commit SHA."""
    git("add", "--all", cwd=work)
    git(*git_options, "commit", "--quiet", *options, "-m", message, cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


class PolicyRepo:
    """A working clone of the bundled policies whose commits are pushed to a bare remote.

    Its tests are `trimmed_policies`' and `PINNED_ARTICLE`: a gate runs them in a second where
    the bundled suite takes ten, and passes or refuses a revision on them just the same.
    """

    def __init__(self, root: Path) -> None:
        self.remote = root / "policies.git"
        self.work = root / "work"
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote), cwd=root)
        trimmed_policies(self.work, PINNED_ARTICLE)
        git("init", "--quiet", "--initial-branch=main", cwd=self.work)
        git("remote", "add", "origin", str(self.remote), cwd=self.work)
        self.commit("the bundled policies")

    def commit(self, message: str, *extra: str) -> str:
        """Commit everything and push; returns the commit SHA."""
        return commit_and_push(self.work, message, options=("--allow-empty", *extra))

    def mark(self, code: str, marker: str) -> None:
        """Append `marker` to message `code`'s English text: answers then show the revision."""
        path = self.work / MESSAGES
        messages = json.loads(path.read_text())
        entry = messages[code]
        entry["en"] = entry["en"].split(" [")[0] + f" [{marker}]"
        path.write_text(json.dumps(messages, ensure_ascii=False, indent=1) + "\n")

    def set_article(self, code: str, article: str) -> None:
        """Give message `code` another article: it compiles, but for `assistant_duty` its
        tests fail (`PINNED_ARTICLE`)."""
        path = self.work / MESSAGES
        messages = json.loads(path.read_text())
        messages[code]["article"] = article
        path.write_text(json.dumps(messages, ensure_ascii=False, indent=1) + "\n")

    def break_syntax(self) -> None:
        """A Rego syntax error: the revision does not compile."""
        path = self.work / "quanze/rules/common/common.rego"
        path.write_text(path.read_text() + "\nthis is not rego {\n")

    def restore(self, relative: str) -> None:
        """Put one file back as it was in the bundled policies."""
        shutil.copy(bundled_policy_dir() / relative, self.work / relative)


class DirectoryRepo:
    """HR's repository of the organisation directory: a folder of JSON files, pushed to a remote.

    `sign` (git options naming a signing key) signs every commit made without `signed=False`.
    """

    SUBDIR = "directory"

    def __init__(self, root: Path, document: dict[str, Any], *, sign: Sequence[str] = ()) -> None:
        self.remote = root / "directory.git"
        self.work = root / "work"
        self.sign = list(sign)
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote), cwd=root)
        git("init", "--quiet", "--initial-branch=main", str(self.work), cwd=root)
        git("remote", "add", "origin", str(self.remote), cwd=self.work)
        (self.work / "README.md").write_text("The procuratorate's organisation directory\n")
        self.first = self.publish(document, "the directory")

    def publish(self, document: dict[str, Any], message: str, *, signed: bool = True) -> str:
        """Replace the directory by `document`, commit, push; returns the commit SHA."""
        folder = self.work / self.SUBDIR
        shutil.rmtree(folder, ignore_errors=True)
        split_directory(document, folder)
        if signed and self.sign:
            return commit_and_push(self.work, message, git_options=self.sign, options=("-S",))
        return commit_and_push(self.work, message)
