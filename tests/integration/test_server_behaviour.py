"""Health, reflection, limits, fail-closed engines and graceful shutdown of a real server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from quanze.client import Client, InvalidRequestError, QuanzeClientError
from quanze.server import app, workers
from quanze.server.config import Config, load
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.errors import EvaluationError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.testing import running_server
from tests.support import CONTRACT_EXAMPLE, ScriptedEngine

REQUEST: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)
STOP_AT_ONCE = "server.shutdown_delay_seconds=0"  # as running_server() without a config


def health_status(address: str, service: str = "") -> int:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return int(reply.status)


def test_health_serving_for_server_and_service(address: str) -> None:
    assert health_status(address) == health_pb2.HealthCheckResponse.SERVING
    assert (
        health_status(address, "quanze.v1.DecisionService")
        == health_pb2.HealthCheckResponse.SERVING
    )


def _reflect(
    address: str, version: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One reflection request over `version` (v1 and v1alpha have the same wire format)."""
    with grpc.insecure_channel(address) as channel:
        call = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        (reply,) = list(call(iter([request]), timeout=5))
    return reply


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_services_and_describes_them(address: str, version: str) -> None:
    listed = _reflect(address, version, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert names == {
        "quanze.v1.DecisionService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
    for symbol, file_name, package in (
        ("quanze.v1.DecisionService", "quanze/v1/decision_service.proto", "quanze.v1"),
        (
            "grpc.reflection.v1.ServerReflection",
            "grpc/reflection/v1/reflection.proto",
            "grpc.reflection.v1",
        ),
    ):
        reply = _reflect(
            address, version, reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        )
        files = [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in reply.file_descriptor_response.file_descriptor_proto
        ]
        described = next(f for f in files if f.name == file_name)
        assert described.package == package
        service = next(s for s in described.service if f"{package}.{s.name}" == symbol)
        for method in service.method:
            assert method.input_type.startswith(f".{package}."), method


def test_health_is_not_serving_until_policies_load(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real_load = app.load_bundle

    def slow_load(root: Path | None = None, *, revision: str | None = None) -> PolicyBundle:
        release.wait(10)
        return real_load(root, revision=revision)

    monkeypatch.setattr(app, "load_bundle", slow_load)
    config = load(environ={}, overrides=["server.address=127.0.0.1:0", STOP_AT_ONCE])
    with _worker_thread(config) as worker:
        address = worker.wait_listening()
        assert health_status(address) == health_pb2.HealthCheckResponse.NOT_SERVING
        with Client(address, timeout=5) as client:
            with pytest.raises(QuanzeClientError) as caught:
                client.check(REQUEST)
            assert caught.value.code == "UNAVAILABLE"
            assert client.check_or_deny(REQUEST).decision is False
            release.set()
            _wait_for(lambda: health_status(address) == health_pb2.HealthCheckResponse.SERVING)
            assert client.check(REQUEST).decision is True


def test_oversized_request_is_refused_never_allowed() -> None:
    config = load(environ={}, overrides=["server.max_request_bytes=2048", STOP_AT_ONCE])
    big = json.loads(CONTRACT_EXAMPLE)
    big["context"]["notes"] = "x" * 4096
    with running_server(config) as address, Client(address, timeout=5) as client:
        with pytest.raises(QuanzeClientError) as caught:
            client.check(big)
        assert caught.value.code == "RESOURCE_EXHAUSTED"
        assert client.check_or_deny(big).decision is False
        assert client.check(REQUEST).decision is True


def test_batch_over_limit_is_invalid_argument() -> None:
    config = load(environ={}, overrides=["server.max_batch_items=3", STOP_AT_ONCE])
    with running_server(config) as address, Client(address, timeout=5) as client:
        with pytest.raises(InvalidRequestError) as caught:
            client.check_batch([{"action": {"name": "record.take"}}] * 4, defaults=REQUEST)
        assert caught.value.field == "evaluations"


class PanickingRegorus:
    """Stands in for the regorus objects inside the adapter: raises like a Rust panic."""

    class PanicError(BaseException):
        pass

    def set_input_json(self, _: str) -> None:
        raise self.PanicError("rust panicked")

    def __getattr__(self, name: str) -> Any:
        return self.set_input_json


def panicking_adapter(bundle: PolicyBundle) -> RegorusEngine:
    engine = RegorusEngine(bundle)
    engine._engine = PanickingRegorus()
    engine._rvm = PanickingRegorus()
    return engine


@pytest.mark.parametrize(
    "factory",
    [
        lambda b: ScriptedEngine(EvaluationError("boom")),
        lambda b: ScriptedEngine({"decision": "yes", "reasons": []}),
        lambda b: ScriptedEngine(None),
        panicking_adapter,
    ],
    ids=["raises", "malformed", "undefined", "panics"],
)
def test_broken_engine_answers_deny_never_allow(factory: Any) -> None:
    with running_server(engine_factory=factory) as address, Client(address, timeout=5) as client:
        answer = client.check(REQUEST)
        assert answer.decision is False
        assert [r.code for r in answer.reasons] == ["evaluation_error"]
        listed = client.allowed_actions(REQUEST["subject"], REQUEST["resource"], REQUEST["context"])
        assert listed
        assert not any(d.answer.decision for d in listed)


def test_shutdown_drains_in_flight_calls() -> None:
    started = threading.Event()

    class SlowEngine:
        def __init__(self, bundle: PolicyBundle) -> None:
            self.inner = RegorusEngine(bundle)

        def decide(self, request: Mapping[str, Any]) -> Any:
            started.set()
            time.sleep(0.05)
            return self.inner.decide(request)

        def decide_all(self, request: Mapping[str, Any]) -> Any:
            return self.inner.decide_all(request)

    config = load(
        environ={},
        overrides=[
            "server.address=127.0.0.1:0",
            "engine.timeout_ms=5000",
            "server.shutdown_delay_seconds=2",
        ],
    )
    with _worker_thread(config, engine_factory=SlowEngine) as worker:
        address = worker.wait_listening()
        _wait_for(lambda: health_status(address) == health_pb2.HealthCheckResponse.SERVING)
        with Client(address, timeout=10) as client, ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client.check, REQUEST) for _ in range(8)]
            assert started.wait(5)
            worker.stop()
            answers = [f.result() for f in futures]
    assert all(a.decision is True for a in answers)


class _worker_thread:  # noqa: N801 - used as a context manager like a function
    """run_worker on its own thread and loop, so a test can watch it start and stop."""

    def __init__(self, config: Config, **kwargs: Any) -> None:
        self.config, self.kwargs = config, kwargs
        self.loop = asyncio.new_event_loop()
        self.address = ""
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_listening(self, bound: str) -> None:
        self.address = bound
        self.listening.set()

    def _run(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            await workers.run_worker(
                self.config, stop=self.stop_event, on_listening=self._on_listening, **self.kwargs
            )

        self.loop.run_until_complete(main())

    def __enter__(self) -> _worker_thread:
        self.thread.start()
        return self

    def wait_listening(self) -> str:
        assert self.listening.wait(10), "the server did not start listening"
        return self.address

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()
        self.thread.join(30)
        self.loop.close()


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_unix_socket_file_is_removed_after_shutdown(socket_dir: Path) -> None:
    path = socket_dir / "q.sock"
    with running_server(address=f"unix:{path}"):
        assert path.is_socket()
    assert not path.exists()
