"""The Node client's own tests (clients/node, `node --test`), run from pytest so that the
README's single test command covers them.

They start real sidecars from this environment's `quanze` and use the repository's test CA;
npm's downloads are cached in build/npm-cache, so a second run needs no network. Missing
Node or npm fails the test, naming what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "clients" / "node"
NPM_CACHE = REPO / "build" / "npm-cache"


def _run(command: list[str], timeout: float) -> None:
    environment = {
        **os.environ,
        "QUANZE_BIN": str(Path(sys.executable).parent / "quanze"),
        "npm_config_cache": str(NPM_CACHE),
        "npm_config_update_notifier": "false",
    }
    try:
        done = subprocess.run(
            command,
            cwd=PACKAGE,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{' '.join(command)} did not finish in {timeout} s:\n{exc.stdout}\n{exc.stderr}"
        )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed (exit status {done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )


def test_node_client() -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is not installed: the Node client's tests need Node 20 and npm "
                "(./scripts/bootstrap --for-tests installs Debian's nodejs and npm)"
            )
    # Exactly the versions of package-lock.json, from the cache when it has them.
    _run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], timeout=600)
    # Builds (tsc), then runs every clients/node/test/*.test.ts against real sidecars.
    _run(["npm", "test"], timeout=900)
