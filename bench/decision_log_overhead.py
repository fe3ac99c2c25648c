"""What decision logging costs `Check`: the same harness run with logging off and on.

Runs bench/run.py (single client and concurrent closed loops) once per configuration — off,
then `required` with each fsync policy, then `best_effort` — against a fresh log directory each
time, and prints a Markdown table for docs/benchmarks.md.

    python bench/decision_log_overhead.py            # ~3 minutes
    python bench/decision_log_overhead.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent

CONFIGURATIONS: list[tuple[str, list[str]]] = [
    ("off", []),
    ("required, fsync record", ["decision_log.mode=required", "decision_log.fsync=record"]),
    ("required, fsync interval", ["decision_log.mode=required", "decision_log.fsync=interval"]),
    ("required, fsync none", ["decision_log.mode=required", "decision_log.fsync=none"]),
    ("best_effort, fsync none", ["decision_log.mode=best_effort", "decision_log.fsync=none"]),
]


def measure(settings: list[str], log_dir: Path | None, quick: bool, out: Path) -> dict[str, Any]:
    command = [sys.executable, str(BENCH_DIR / "run.py"), "--phases", "single,concurrent"]
    command += ["--quick"] if quick else ["--repeat", "1"]
    command += ["--output", str(out)]
    if log_dir is not None:
        command.append(f"--serve-arg=--decision-log={log_dir}")
    for setting in settings:
        command += ["--serve-arg=--set", f"--serve-arg={setting}"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    results: dict[str, Any] = json.loads(out.read_text())["results"]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="quanze-bench-log-") as scratch:
        for index, (name, settings) in enumerate(CONFIGURATIONS):
            print(f"{name} ...", file=sys.stderr, flush=True)
            log_dir = Path(scratch) / f"log{index}" if name != "off" else None
            results = measure(settings, log_dir, args.quick, Path(scratch) / f"{index}.json")
            single = results["grpc.check.single"]["median"]
            concurrent = next(
                v["median"] for k, v in results.items() if k.startswith("grpc.check.concurrent")
            )
            size = sum(f.stat().st_size for f in log_dir.iterdir()) if log_dir else 0
            rows.append((name, single, concurrent, size))
    print("| decision log | Check p50, 1 client | p99 | Check/s, 4 clients | p99 | log bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, single, concurrent, size in rows:
        print(
            f"| {name} | {single['p50_ms']:.2f} ms | {single['p99_ms']:.2f} ms "
            f"| {concurrent['throughput_per_s']:,.0f} | {concurrent['p99_ms']:.2f} ms "
            f"| {size / 1e6:,.1f} MB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
