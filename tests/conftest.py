"""Fixtures shared by every test: the bundled policies and the decision table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

os.environ.pop("RUST_BACKTRACE", None)  # regorus errors stay one readable line

from quanze.server.policy.bundle import PolicyBundle, load_bundle
from quanze.server.policy.testing import DecisionCase, load_decision_table
from tests.postgres import PostgresServer

PROBES = Path(__file__).parent / "probe"
IMAGE = Path(__file__).parent / "image"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--probe-report",
        metavar="PATH",
        help="where the probe campaign writes its JSON report (default: in pytest's temp dir)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The probe campaign and the image test run in one process, one probe after another: they
    measure a sidecar under load (another test beside them would be part of it) and the probe
    campaign writes one report for the session."""
    if {"probe", "image"} & set((config.option.markexpr or "").split()):
        config.option.numprocesses = 0
        config.option.dist = "no"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The probe campaign and the image build take minutes: they run only when asked for
    (`pytest -m probe`, `pytest -m image`)."""
    for folder, marker in ((PROBES, "probe"), (IMAGE, "image")):
        if collection_path == folder and marker not in (config.option.markexpr or ""):
            return True
    return None


@pytest.fixture(scope="session")
def bundle() -> PolicyBundle:
    return load_bundle()


@pytest.fixture(scope="session")
def decision_cases(bundle: PolicyBundle) -> list[DecisionCase]:
    return load_decision_table(bundle.root)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for this test process (each test gets its own database)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def database_url(postgres: PostgresServer) -> str:
    """The URL of a new, empty database on the shared test server."""
    return postgres.create_database()


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, for tests that stop and restart it."""
    with PostgresServer() as server:
        yield server


# structlog as it is before any test configures it (conftest is imported first).
_STRUCTLOG_AT_START = structlog.get_config()


@pytest.fixture(autouse=True)
def _structlog_as_at_start() -> None:
    """Each test starts with structlog as it was at start: a command run in-process, even by a
    module's fixture (`policy …` quiets logs to warnings), must not hide a later test's info
    events from `capture_logs`."""
    structlog.configure(**_STRUCTLOG_AT_START)
