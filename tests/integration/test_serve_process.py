"""`quanze serve` as an operator runs it: a real process tree, real port, real signals."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from quanze.client import Client
from tests.integration.support import start, stop, wait_event, wait_serving
from tests.support import CONTRACT_EXAMPLE

pytestmark = pytest.mark.slow


def test_two_workers_share_one_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    with start("--address", "127.0.0.1:0", "--workers", "2", cwd=tmp_path) as process:
        address = wait_event(process, "starting_workers")["address"]
        try:
            wait_serving(address)
            request = json.loads(CONTRACT_EXAMPLE)
            # Separate connections land on either worker; every one must answer the same.
            for _ in range(8):
                with Client(address, timeout=5) as client:
                    assert client.check(request).decision is True
        finally:
            assert stop(process) == 0


def test_serve_on_unix_socket_with_bundled_policies_from_any_directory(tmp_path: Path) -> None:
    socket_path = tmp_path / "quanze.sock"
    with start("--address", f"unix:{socket_path}", cwd=tmp_path) as process:
        try:
            wait_event(process, "policies_loaded")
            with Client(f"unix:{socket_path}", timeout=5) as client:
                assert client.check(json.loads(CONTRACT_EXAMPLE)).reasons[0].article == "十七"
        finally:
            assert stop(process, signal.SIGINT) == 0
    assert not socket_path.exists()


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    with start("--address", "127.0.0.1:0", "--workers", "1", cwd=tmp_path) as first:
        try:
            address = wait_event(first, "listening")["address"]
            with start("--address", address, "--workers", "1", cwd=tmp_path) as second:
                _, errors = second.communicate(timeout=30)
                assert second.returncode == 1
                assert "cannot listen on" in errors
        finally:
            stop(first)


def test_workers_log_whole_json_lines(tmp_path: Path) -> None:
    with start("--address", "127.0.0.1:0", "--workers", "2", cwd=tmp_path) as process:
        address = wait_event(process, "starting_workers")["address"]
        wait_serving(address)
        stop(process)
        assert process.stderr is not None
        rest = process.stderr.read()
    lines = [line for line in rest.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # a torn line would not parse
    assert [r["event"] for r in records].count("stopped") == 2


def test_with_no_restarts_allowed_a_dead_worker_stops_the_sidecar(tmp_path: Path) -> None:
    limit = ("--set", "server.worker_restart_limit=0")
    with start("--address", "127.0.0.1:0", "--workers", "2", *limit, cwd=tmp_path) as process:
        try:
            first = wait_event(process, "listening")
            wait_event(process, "listening")
            os.kill(int(first["pid"]), signal.SIGKILL)
            status = process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.stderr is not None
        rest = [json.loads(line) for line in process.stderr.read().splitlines() if line.strip()]
    assert status == 128 + signal.SIGKILL
    (loop,) = [r for r in rest if r["event"] == "worker_crash_loop"]
    assert (loop["worker"], loop["crashes"], loop["restart_limit"]) == (first["worker"], 1, 0)
    assert loop["last_exit"] == "killed by signal SIGKILL"
    assert not [r for r in rest if r["event"] == "worker_restarting"]
