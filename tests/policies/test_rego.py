"""The policies' own Rego tests, one pytest item per `test_*` rule, run on regorus."""

from __future__ import annotations

import pytest

from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import RegoTest, RegoTestResult, RegoTestRunner

_TESTS = RegoTestRunner(load_bundle()).discover()
COVERAGE_THRESHOLD = 95.0


class _Run:
    """One coverage-measuring runner for the module; runs each Rego test once, whatever asks."""

    def __init__(self) -> None:
        self.runner = RegoTestRunner(load_bundle(), coverage=True)
        self._results: dict[str, RegoTestResult] = {}

    def result(self, test: RegoTest) -> RegoTestResult:
        if test.id not in self._results:
            self._results[test.id] = self.runner.run(test)
        return self._results[test.id]


@pytest.fixture(scope="module")
def rego_run() -> _Run:
    return _Run()


def test_rego_tests_were_found() -> None:
    assert len(_TESTS) >= 50, [t.id for t in _TESTS]


@pytest.mark.parametrize("rego_test", _TESTS, ids=[t.id for t in _TESTS])
def test_rego(rego_test: RegoTest, rego_run: _Run) -> None:
    result = rego_run.result(rego_test)
    if result.status != "pass":
        pytest.fail(result.report(), pytrace=False)


def test_rego_line_coverage_meets_threshold(rego_run: _Run) -> None:
    """Measured over every Rego test, alone or after them; reports per-file coverage."""
    for rego_test in _TESTS:
        rego_run.result(rego_test)
    per_file = rego_run.runner.coverage()
    assert per_file, "no coverage was recorded"
    covered = sum(len(c) for c, _ in per_file.values())
    total = covered + sum(len(n) for _, n in per_file.values())
    percent = 100.0 * covered / total
    lines = [
        f"{path}: {100.0 * len(c) / max(1, len(c) + len(n)):.1f}% uncovered {n}"
        for path, (c, n) in per_file.items()
    ]
    print(f"\nRego line coverage {percent:.1f}%\n" + "\n".join(lines))
    assert percent >= COVERAGE_THRESHOLD, "\n".join(lines)
