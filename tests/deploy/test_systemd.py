"""deploy/systemd: the unit passes systemd's own checks and agrees with the example config."""

from __future__ import annotations

import configparser
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from quanze.server import config
from tests.integration.support import start, stop, wait_serving

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNIT = DEPLOY / "quanze.service"
EXAMPLE = DEPLOY / "config.yaml"
INSTALLED = "/opt/quanze/bin/quanze"


def service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # keep keys case-sensitive
    unit.read_string(UNIT.read_text())
    return unit["Service"]


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    # verify checks that ExecStart's program exists: point it at this checkout's quanze.
    quanze = Path(sys.executable).with_name("quanze")
    assert quanze.is_file()
    text = UNIT.read_text()
    assert text.count(INSTALLED) == 1
    unit = tmp_path / "quanze.service"
    unit.write_text(text.replace(INSTALLED, str(quanze)))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_unit_runs_the_example_config_in_its_own_directories() -> None:
    unit = service()
    loaded = config.load(EXAMPLE)
    assert (
        unit["ExecStart"]
        == f"{INSTALLED} serve --config /etc/{unit['ConfigurationDirectory']}/config.yaml"
    )
    assert loaded.server.address.startswith(f"unix:/run/{unit['RuntimeDirectory']}/")
    assert Path(loaded.policies.cache_dir) == Path("/var/cache") / unit["CacheDirectory"]
    assert Path(loaded.decision_log.directory).parent == Path("/var/log") / unit["LogsDirectory"]
    # quanze does not speak sd_notify; SIGTERM goes to the supervisor only, which drains.
    assert (unit["Type"], unit["KillSignal"], unit["KillMode"]) == ("exec", "SIGTERM", "mixed")
    drain = loaded.server.shutdown_delay_seconds + loaded.server.shutdown_grace_seconds
    assert float(unit["TimeoutStopSec"]) > drain + 1
    assert unit["User"] == unit["Group"] == "quanze"


@pytest.mark.slow
def test_the_example_config_serves(tmp_path: Path) -> None:
    # The unit's directories, in a temporary root: what systemd would create.
    text = EXAMPLE.read_text()
    for directory in ("/run/quanze", "/var/cache/quanze", "/var/log/quanze"):
        assert directory in text
        (tmp_path / directory.lstrip("/")).mkdir(parents=True)
        text = text.replace(directory, str(tmp_path / directory.lstrip("/")))
    rewritten = tmp_path / "config.yaml"
    rewritten.write_text(text)
    socket = tmp_path / "run" / "quanze" / "quanze.sock"
    with start("--config", str(rewritten), cwd=tmp_path, shutdown_delay=None) as process:
        try:
            wait_serving(f"unix:{socket}")
            assert stat.S_IMODE(socket.stat().st_mode) == 0o660
            assert any((tmp_path / "var" / "log" / "quanze" / "decisions").glob("decisions-*"))
        finally:
            assert stop(process) == 0
