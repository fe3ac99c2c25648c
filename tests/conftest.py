"""Fixtures shared by every test: the bundled policies and the decision table."""

from __future__ import annotations

import os

import pytest

os.environ.pop("RUST_BACKTRACE", None)  # regorus errors stay one readable line

from quanze.server.policy.bundle import PolicyBundle, load_bundle
from quanze.server.policy.testing import DecisionCase, load_decision_table


@pytest.fixture(scope="session")
def bundle() -> PolicyBundle:
    return load_bundle()


@pytest.fixture(scope="session")
def decision_cases(bundle: PolicyBundle) -> list[DecisionCase]:
    return load_decision_table(bundle.root)
