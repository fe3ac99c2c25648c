"""Fixtures of the client tests: a real sidecar (TCP and Unix socket), a stub sidecar that
misbehaves on demand, and the contract's worked example as typed requests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from quanze.client import Action, CheckRequest, Resource, Subject
from quanze.server.testing import running_server
from quanze.v1 import decision_service_pb2 as pb

SERVICE = "quanze.v1.DecisionService"


@pytest.fixture(scope="module", params=["tcp", "unix"])
def sidecar(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The address of a real sidecar, once over TCP and once over a Unix socket."""
    if request.param == "tcp":
        address = "127.0.0.1:0"
    else:
        address = f"unix:{tmp_path_factory.mktemp('sock') / 'quanze.sock'}"
    with running_server(address=address) as bound:
        yield bound


# ---------------------------------------------------------------------- the contract example


def _assistant() -> Subject:
    return Subject(
        "asst-A1",
        properties={
            "role": "procurator_assistant",
            "roles": ["procurator_assistant"],
            "procuratorate": "PROC-CITY-A",
            "department": "DEPT-CRIM-1",
            "senior_stage": False,
        },
    )


def _clerk() -> Subject:
    return Subject(
        "clerk-A1",
        properties={
            "role": "clerk",
            "roles": ["clerk"],
            "procuratorate": "PROC-CITY-A",
            "department": "DEPT-CRIM-1",
        },
    )


def _case() -> Resource:
    return Resource(
        "case",
        "C-1001",
        {
            "procuratorate": "PROC-CITY-A",
            "department": "DEPT-CRIM-1",
            "domain": "criminal",
            "handling_mode": "sole",
            "sole_procurator": "p-A1",
            "within_power_list": True,
        },
    )


def _contract_example(context: dict[str, Any]) -> CheckRequest:
    """The assistant asking to interrogate the suspect of C-1001 (contract.md)."""
    return CheckRequest(_assistant(), Action("case.interrogate_suspect"), _case(), context)


@pytest.fixture
def assistant() -> Subject:
    """Assistant asst-A1 of PROC-CITY-A (procurator_assistant, not senior stage)."""
    return _assistant()


@pytest.fixture
def clerk() -> Subject:
    """Clerk clerk-A1 of PROC-CITY-A."""
    return _clerk()


@pytest.fixture
def case() -> Resource:
    """Criminal case C-1001 handled solely by procurator p-A1."""
    return _case()


@pytest.fixture
def guided() -> CheckRequest:
    """The contract example with a supervising procurator: allowed by 十七."""
    return _contract_example({"supervising_procurator": "p-A1"})


@pytest.fixture
def unguided() -> CheckRequest:
    """The contract example without guidance: denied (assistant_requires_guidance)."""
    return _contract_example({})


@pytest.fixture
def clerk_record() -> CheckRequest:
    """A clerk under a procurator's guidance taking the record: allowed by 十九."""
    return CheckRequest(
        _clerk(), Action("record.take"), _case(), {"supervising_procurator": "p-A1"}
    )


# ---------------------------------------------------------------------- a misbehaving sidecar


class _StubSidecar(grpc.GenericRpcHandler):
    """Fails Check the way `subject.id` asks; other methods report their deadline."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def service(self, handler_call_details: Any) -> Any:
        method = handler_call_details.method
        if method == f"/{SERVICE}/Check":
            return grpc.unary_unary_rpc_method_handler(
                self._check, request_deserializer=pb.CheckRequest.FromString
            )
        if method.startswith(f"/{SERVICE}/"):
            return grpc.unary_unary_rpc_method_handler(_report_deadline)
        return None

    def _check(self, request: pb.CheckRequest, context: grpc.ServicerContext) -> Any:
        behaviour = request.subject.id
        if behaviour == "stall":
            # Outlive the client's deadline, but end as soon as the client has gone.
            while context.is_active() and not self.released.wait(0.01):
                pass
            context.abort(grpc.StatusCode.INTERNAL, "stalled")
        codes: dict[str, tuple[grpc.StatusCode, str]] = {
            "not-loaded": (
                grpc.StatusCode.UNAVAILABLE,
                "policies are not loaded yet; retry shortly",
            ),
            "internal": (grpc.StatusCode.INTERNAL, "the engine crashed"),
            "exhausted": (grpc.StatusCode.RESOURCE_EXHAUSTED, "too many requests"),
            "invalid": (
                grpc.StatusCode.INVALID_ARGUMENT,
                "subject.properties.role: 'judge' is not one of 'clerk', 'procurator'",
            ),
        }
        if behaviour in codes:
            context.abort(*codes[behaviour])
        return _report_deadline(request, context)


def _report_deadline(_request: Any, context: grpc.ServicerContext) -> Any:
    remaining = context.time_remaining()
    context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{remaining:.3f}")


@pytest.fixture(scope="module")
def stub_sidecar() -> Iterator[str]:
    """Address of a stub DecisionService: Check with subject id "stall" never answers in time,
    "not-loaded"/"internal"/"exhausted"/"invalid" fail with that status, anything else (and
    every other method) fails FAILED_PRECONDITION with the seconds left before its deadline."""
    handler = _StubSidecar()
    executor = futures.ThreadPoolExecutor(max_workers=8)
    server = grpc.server(executor, handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        handler.released.set()
        server.stop(None).wait()
        executor.shutdown(wait=True)


@pytest.fixture
def refused_address() -> Iterator[str]:
    """A TCP address where nothing listens (the port is held, so no one else takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{holder.getsockname()[1]}"


@pytest.fixture
def behaving() -> Callable[[str], CheckRequest]:
    """A valid-looking request whose subject id tells the stub sidecar how to fail."""
    return lambda behaviour: CheckRequest(
        Subject(behaviour), Action("case.interrogate_suspect"), Resource("case")
    )
