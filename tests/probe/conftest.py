"""The probe campaign's report: one `Probe` per test, written as JSON when the session ends.

Run it with `.venv/bin/pytest -m probe tests/probe` (`--probe-report PATH` to choose where the
report goes); plain `pytest` does not collect it (see `pytest_ignore_collect` in tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from quanze.server.app import build_decider
from quanze.server.config import Config
from quanze.server.decisions import Decider
from tests.integration.load import Sidecar
from tests.probe.report import Probe
from tests.probe.sidecars import sidecar

REPORT_PATH = pytest.StashKey[Path]()


class Campaign:
    """Every probe of this session, and the report they make together."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = datetime.now(UTC)
        self.probes: dict[str, Probe] = {}

    def probe(self, name: str) -> Probe:
        self.probes[name] = Probe(name)
        return self.probes[name]

    def to_json(self) -> dict[str, Any]:
        probes = {name: probe.to_json() for name, probe in self.probes.items()}
        return {
            "started": self.started.isoformat(),
            "command": " ".join(sys.argv),
            "revision": _git_revision(),
            "totals": {
                "probes": len(probes),
                "probes_failed": sum(1 for p in probes.values() if p["failures_by_kind"]),
                "requests": sum(p["requests"] for p in probes.values()),
                "allows_on_invalid_input": sum(
                    p["allows_on_invalid_input"] for p in probes.values()
                ),
                "records_lost": sum(p["records_lost"] or 0 for p in probes.values()),
                "failures": sum(sum(p["failures_by_kind"].values()) for p in probes.values()),
            },
            "probes": probes,
        }

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n")


def _git_revision() -> str:
    found = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        check=False,
    )
    return found.stdout.strip()


@pytest.fixture(scope="session")
def campaign(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Campaign]:
    chosen = request.config.getoption("--probe-report")
    path = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "probe-report.json"
    request.config.stash[REPORT_PATH] = path.resolve()
    found = Campaign(path)
    yield found
    found.write()


@pytest.fixture
def probe(campaign: Campaign, request: pytest.FixtureRequest) -> Iterator[Probe]:
    """This test's `Probe`; its duration is noted and the report rewritten when it ends."""
    found = campaign.probe(request.node.name)
    started = time.monotonic()
    yield found
    found.seconds = time.monotonic() - started
    campaign.write()  # a report even if the session is interrupted later


@pytest.fixture(scope="module")
def logged_sidecar(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Sidecar, Path]]:
    """A one-worker sidecar with a decision log (`required`), for the module; and the log."""
    directory = tmp_path_factory.mktemp("sidecar")
    log_dir = directory / "log"
    with sidecar(directory, {"decision_log": {"directory": str(log_dir)}}) as found:
        yield found, log_dir


@pytest.fixture(scope="session")
def reference() -> Decider:
    """The in-process answers `quanze check` gives (the same Decider on the defaults)."""
    return build_decider(Config())


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    path = config.stash.get(REPORT_PATH, None)
    if path is not None and path.exists():
        totals = json.loads(path.read_text())["totals"]
        terminalreporter.write_sep("-", "probe campaign")
        terminalreporter.write_line(f"report: {path}")
        terminalreporter.write_line(
            ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in totals.items())
        )
