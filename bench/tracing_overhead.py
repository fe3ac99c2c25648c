"""What tracing costs `Check`: the same harness with tracing off and on.

Runs bench/run.py (single client and concurrent closed loops, 2 workers) once per
configuration and round, the configurations taking turns round after round so that the
machine's other load falls on all of them alike: tracing off; on, every call sampled and
exported to a real OTLP receiver in this process (`tests/integration/otlp.py`); on with
`tracing.sample_ratio: 0` (the calls carry no traceparent, so no span is recorded: what the
wrapper itself costs); and on with no collector listening (every export fails). Prints a
Markdown table of the medians over rounds for docs/benchmarks.md.

    python bench/tracing_overhead.py               # 3 rounds, ~12 minutes
    python bench/tracing_overhead.py --quick       # smoke run
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test support lives there

from tests.integration.otlp import Receiver

BENCH_DIR = Path(__file__).resolve().parent


def measure(settings: list[str], quick: bool, out: Path) -> dict[str, Any]:
    command = [sys.executable, str(BENCH_DIR / "run.py"), "--phases", "single,concurrent"]
    command += ["--quick"] if quick else ["--repeat", "1"]
    command += ["--output", str(out)]
    for setting in settings:
        command += ["--serve-arg=--set", f"--serve-arg={setting}"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    results: dict[str, Any] = json.loads(out.read_text())["results"]
    return results


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every configuration")
    args = parser.parse_args()
    rows: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    with Receiver() as receiver, tempfile.TemporaryDirectory(prefix="quanze-bench-") as scratch:
        configurations: list[tuple[str, list[str]]] = [
            ("off", []),
            ("on, sampled, exported", [f"tracing.endpoint={receiver.endpoint}"]),
            (
                "on, sample_ratio 0",
                [f"tracing.endpoint={receiver.endpoint}", "tracing.sample_ratio=0"],
            ),
            ("on, collector absent", [f"tracing.endpoint=http://127.0.0.1:{closed_port()}"]),
        ]
        for round_ in range(1 if args.quick else args.rounds):
            for index, (name, settings) in enumerate(configurations):
                print(f"round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
                out = Path(scratch) / f"{round_}-{index}.json"
                results = measure(settings, args.quick, out)
                single = results["grpc.check.single"]["median"]
                concurrent = next(
                    v["median"] for k, v in results.items() if k.startswith("grpc.check.concurrent")
                )
                rows.setdefault(name, []).append((single, concurrent))
        spans = len(receiver.spans())
    print(
        "| tracing | Check p50, 1 client | p99 | Check/s, 4 clients | p99 | server CPU per Check |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in rows.items():
        single = {k: statistics.median(s[k] for s, _ in runs) for k in ("p50_ms", "p99_ms")}
        concurrent = {
            k: statistics.median(c[k] for _, c in runs)
            for k in ("throughput_per_s", "p99_ms", "server_cpu_ms_per_call")
        }
        print(
            f"| {name} | {single['p50_ms']:.3f} ms | {single['p99_ms']:.2f} ms "
            f"| {concurrent['throughput_per_s']:,.0f} | {concurrent['p99_ms']:.2f} ms "
            f"| {concurrent['server_cpu_ms_per_call']:.3f} ms |"
        )
    print(f"\nspans the receiver got: {spans:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
