"""`quanze health` as a probe runs it: a real process asking a real sidecar's grpc.health.v1."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.support import start, stop, wait_event, wait_serving
from tests.support import environment_without_quanze_settings

pytestmark = pytest.mark.slow


def health(
    *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quanze.server.cli", "health", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environment or environment_without_quanze_settings(),
    )


def test_health_asks_every_worker_socket_the_configuration_names(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"server:\n  address: unix:{tmp_path / 'q.sock'}\n  workers: 2\n")
    sockets = [f"unix:{tmp_path / 'q-w0.sock'}", f"unix:{tmp_path / 'q-w1.sock'}"]
    with start("--config", str(config), cwd=tmp_path) as process:
        try:
            for socket in sockets:
                wait_serving(socket)
            result = health("--config", str(config))
            assert result.returncode == 0, result.stdout + result.stderr
            assert result.stdout.splitlines() == [f"{s}: SERVING" for s in sockets]
            # The environment names the address as well as a file does.
            environment = environment_without_quanze_settings() | {
                "QUANZE_SERVER_ADDRESS": f"unix:{tmp_path / 'q.sock'}",
                "QUANZE_SERVER_WORKERS": "2",
            }
            assert health(environment=environment).returncode == 0
        finally:
            assert stop(process) == 0


def test_health_is_not_serving_while_the_sidecar_drains(tmp_path: Path) -> None:
    address = f"unix:{tmp_path / 'q.sock'}"
    # A long delay keeps the sidecar answering, NOT_SERVING, while the probe asks.
    with start("--address", address, cwd=tmp_path, shutdown_delay=60.0) as process:
        try:
            wait_serving(address)
            assert health("--address", address).returncode == 0
            process.send_signal(signal.SIGTERM)
            wait_event(process, "shutting_down")
            result = health("--address", address)
            assert result.returncode == 1
            assert result.stdout == f"{address}: NOT_SERVING\n"
        finally:
            assert stop(process) == 0  # a second SIGTERM skips the rest of the delay


def test_health_of_nothing_fails_and_says_why(tmp_path: Path) -> None:
    address = f"unix:{tmp_path / 'nobody.sock'}"
    result = health("--address", address, "--timeout", "2")
    assert result.returncode == 1
    assert result.stdout.startswith(f"{address}: no answer: UNAVAILABLE")


def test_health_reports_a_bad_configuration_as_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  address: nowhere\n")
    result = health("--config", str(config))
    assert result.returncode == 2
    assert "server.address: 'nowhere' is not HOST:PORT or unix:PATH" in result.stderr
