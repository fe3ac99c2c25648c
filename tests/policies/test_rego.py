"""The policies' own Rego tests, one pytest item per `test_*` rule, run on regorus."""

from __future__ import annotations

import pytest

from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import RegoTest, RegoTestRunner

_RUNNER = RegoTestRunner(load_bundle(), coverage=True)
_TESTS = _RUNNER.discover()
_RESULTS: dict[str, str] = {}
COVERAGE_THRESHOLD = 95.0


def test_rego_tests_were_found() -> None:
    assert len(_TESTS) >= 50, [t.id for t in _TESTS]


@pytest.mark.parametrize("rego_test", _TESTS, ids=[t.id for t in _TESTS])
def test_rego(rego_test: RegoTest) -> None:
    result = _RUNNER.run(rego_test)
    _RESULTS[rego_test.id] = result.status
    if result.status != "pass":
        pytest.fail(result.report(), pytrace=False)


def test_rego_line_coverage_meets_threshold() -> None:
    """Runs after the Rego tests (file order); reports per-file coverage of the policies."""
    assert len(_RESULTS) == len(_TESTS), "run the whole module to measure coverage"
    per_file = _RUNNER.coverage()
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
