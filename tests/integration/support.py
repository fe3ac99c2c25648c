"""Support for integration tests: run `quanze serve` as a real process, ask a sidecar, wait."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc
from tests.support import environment_without_quanze_settings


def start(
    *args: str,
    cwd: Path,
    preexec_fn: Callable[[], None] | None = None,
    shutdown_delay: float | None = 0.0,
) -> subprocess.Popen[str]:
    """`quanze serve ARGS` on the defaults but one; `preexec_fn` runs in the child before exec.

    Like `running_server` it stops at once: `server.shutdown_delay_seconds` (1 s by default, a
    wait at every stop) is `shutdown_delay` unless ARGS set it; None leaves it to a `--config`.
    """
    delay = (
        []
        if shutdown_delay is None
        else ["--set", f"server.shutdown_delay_seconds={shutdown_delay}"]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "quanze.server.cli", "serve", *delay, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment_without_quanze_settings(),
        cwd=cwd,
        preexec_fn=preexec_fn,  # noqa: PLW1509 - callers only set resource limits there
    )


def wait_event(process: subprocess.Popen[str], event: str, timeout: float = 30.0) -> dict[str, Any]:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        record = json.loads(line)
        if record.get("event") == event:
            return dict(record)
    process.kill()
    raise AssertionError(f"no {event!r} event from quanze serve")


def wait_serving(address: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)  # grpc_health ships no types
        while time.monotonic() < deadline:
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"{address} never became SERVING")


def stop(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> int:
    process.send_signal(sig)
    try:
        return process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()


def status(address: str) -> pb.GetStatusResponse:
    """The sidecar's `GetStatus` answer."""
    with grpc.insecure_channel(address) as channel:
        reply: pb.GetStatusResponse = pb_grpc.DecisionServiceStub(channel).GetStatus(
            pb.GetStatusRequest(), timeout=5
        )
        return reply


def health_with_details(address: str) -> tuple[int, dict[str, str]]:
    """Health of the decision service, and the policy details in its trailing metadata."""
    with grpc.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        reply, call = stub.Check.with_call(
            health_pb2.HealthCheckRequest(service="quanze.v1.DecisionService"), timeout=5
        )
        return reply.status, {k: str(v) for k, v in call.trailing_metadata()}


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll `condition` every 0.1 s until it holds; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")
