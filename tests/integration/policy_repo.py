"""A security team's policy repository for tests: real git, real commits, pushed to a remote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from quanze.server.policy.bundle import bundled_policy_dir
from tests.support import copy_bundled_policies

MESSAGES = Path("quanze/messages/data.json")
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


class PolicyRepo:
    """A working clone of the bundled policies whose commits are pushed to a bare remote."""

    def __init__(self, root: Path) -> None:
        self.remote = root / "policies.git"
        self.work = root / "work"
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote), cwd=root)
        copy_bundled_policies(self.work)
        git("init", "--quiet", "--initial-branch=main", cwd=self.work)
        git("remote", "add", "origin", str(self.remote), cwd=self.work)
        self.commit("the bundled policies")

    def commit(self, message: str, *extra: str) -> str:
        """Commit everything and push; returns the commit SHA."""
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", *extra, "-m", message, cwd=self.work)
        git("push", "--quiet", "origin", "main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def mark(self, code: str, marker: str) -> None:
        """Append `marker` to message `code`'s English text: answers then show the revision."""
        path = self.work / MESSAGES
        messages = json.loads(path.read_text())
        entry = messages[code]
        entry["en"] = entry["en"].split(" [")[0] + f" [{marker}]"
        path.write_text(json.dumps(messages, ensure_ascii=False, indent=1) + "\n")

    def set_article(self, code: str, article: str) -> None:
        """Give message `code` another article: it compiles, but the decision table fails."""
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
