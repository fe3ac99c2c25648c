"""The benchmark harness works: a quick run starts the real server, measures and stops it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import environment_without_quanze_settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_quick_benchmark_run_measures_every_call_and_cleans_up(tmp_path: Path) -> None:
    output = tmp_path / "quick.json"
    env = environment_without_quanze_settings()
    # --quick stops itself after 90 s, which a shared 2-core machine at load 6 has exceeded: it
    # may take until just before the subprocess timeout, and still says why when it gives up.
    quick = ["--quick", "--time-limit", "170", "--output", str(output)]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *quick],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(output.read_text())
    results = report["results"]
    for name in (
        "grpc.check.single",
        "grpc.batch.single",
        "grpc.list.single",
        "grpc.health.single",
    ):
        median = results[name]["median"]
        assert median["n"] > 0, name
        assert median["p50_ms"] > 0, name
        assert median["errors"] == 0, name
        assert median["client_cpu_ms_per_call"] > 0, name
        assert median["server_cpu_ms_per_call"] > 0, name
    # Check and the null RPC took turns in one measurement; their ratio is per run.
    (ratio,) = results["grpc.check_over_null.single"]["runs"]
    check, health = results["grpc.check.single"], results["grpc.health.single"]
    assert ratio["ratio"] == round(check["median"]["p50_ms"] / health["median"]["p50_ms"], 3)
    assert results["engine.check.rvm"]["median"]["p50_ms"] > 0
    assert report["corpus"]["check_requests"] >= 50
    assert report["corpus"]["reason_codes"].get("evaluation_error", 0) == 0
    assert {t["target"] for t in report["targets"]} >= {
        "single-client Check p50",
        "Check p50 / null RPC p50, same run",
    }


def run_script(name: str, *args: str) -> list[str]:
    """`python bench/NAME ARGS` from the repository root: the lines it printed (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=environment_without_quanze_settings(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout.splitlines()


def test_engine_ab_compares_two_checkouts_request_by_request() -> None:
    # This checkout against itself: every table request accepted, both sides timed.
    lines = run_script("engine_ab.py", "--before", str(ROOT), "--after", str(ROOT), "--rounds", "1")
    accepted, total = (int(n) for n in lines[0].split(" requests")[0].split(" of "))
    assert accepted == total > 400, lines[0]
    for line in lines[1:]:
        median = float(line.split("median ")[1].split(" ms")[0])
        assert 0 < median < 1000, line


def test_sidecar_ab_times_both_sidecars_call_by_call() -> None:
    # This checkout against itself: two sidecars serve, every call answered and timed.
    quanze = str(Path(sys.executable).parent / "quanze")
    lines = run_script("sidecar_ab.py", "--before", quanze, "--calls", "50")
    assert [line.split()[0] for line in lines] == ["before", "after"], lines
    for line in lines:
        assert "Check, 50 calls" in line, line
        p50 = float(line.split("p50 ")[1].split(" ms")[0])
        assert 0 < p50 < 10_000, line
