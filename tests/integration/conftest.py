"""Real sidecars on real sockets (TCP on port 0 and a Unix socket) for the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quanze.client import Client
from quanze.server.testing import running_server


@pytest.fixture(scope="module", params=["tcp", "unix"])
def address(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    where = (
        "127.0.0.1:0"
        if request.param == "tcp"
        else f"unix:{tmp_path_factory.mktemp('sock') / 'quanze.sock'}"
    )
    with running_server(address=where) as bound:
        yield bound


@pytest.fixture(scope="module")
def client(address: str) -> Iterator[Client]:
    with Client(address, timeout=5.0) as c:
        yield c


@pytest.fixture
def socket_dir(tmp_path: Path) -> Path:
    return tmp_path
