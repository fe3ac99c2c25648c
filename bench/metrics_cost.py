"""What recording metrics costs a decision call, in-process, with metrics off and on.

    python bench/metrics_cost.py [--calls 20000]

For each RPC, the recording the servicer does for one call: timing the handler
(`metrics.call`), the engine's time (`metrics.evaluated`) and the answers
(`metrics.answered`). The answers are real: the bundled policies' answers to the decision
table's requests (a Check each, a CheckBatch per 10) and every catalog action's answer to the
clerk example (ListAllowedActions, 121 answers). Off, every function returns at once; on, a
worker's prometheus-client files in a temporary directory take the writes, as in `quanze
serve` with `metrics.address`. Best of 5 runs; microseconds per call.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quanze.server import metrics
from quanze.server.app import build_decider
from quanze.server.config import Config
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "clerk-takes-record.json"
RUNS = 5
EVALUATION_NS = 180_000  # what a Check's evaluation takes (docs/benchmarks.md)


class Answered:
    """A call's context as the metrics read it: answered, so no status."""

    def code(self) -> None:
        return None


def recorders() -> dict[str, Callable[[int], None]]:
    """The recording of one call of each RPC, given the call's number."""
    decider = build_decider(Config())
    cases = load_decision_table(load_bundle().root)
    checks = [(c.request["action"]["name"], decider.check(c.request)) for c in cases]
    batches = [checks[i : i + 10] for i in range(0, len(checks) - 9, 10)]
    example = json.loads(EXAMPLE.read_text())
    listed = decider.allowed_actions({k: v for k, v in example.items() if k != "action"})
    context = Answered()

    def check(n: int) -> None:
        with metrics.call("Check", context):
            metrics.evaluated("Check", EVALUATION_NS)
            metrics.answered("Check", [checks[n % len(checks)]])

    def batch(n: int) -> None:
        with metrics.call("CheckBatch", context):
            metrics.evaluated("CheckBatch", *[EVALUATION_NS] * 10)
            metrics.answered("CheckBatch", batches[n % len(batches)])

    def listing(n: int) -> None:
        with metrics.call("ListAllowedActions", context):
            metrics.evaluated("ListAllowedActions", 40 * EVALUATION_NS)
            metrics.answered("ListAllowedActions", listed)

    return {"Check": check, "CheckBatch of 10": batch, "ListAllowedActions": listing}


def per_call(record: Callable[[int], None], calls: int) -> float:
    """Microseconds per call, best of `RUNS` runs of `calls` calls."""
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter_ns()
        for n in range(calls):
            record(n)
        best = min(best, (time.perf_counter_ns() - started) / calls / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per run (Check)")
    args = parser.parse_args()
    calls = {"Check": args.calls, "CheckBatch of 10": args.calls // 10}
    calls["ListAllowedActions"] = args.calls // 50
    record = recorders()
    off = {rpc: per_call(each, calls[rpc]) for rpc, each in record.items()}
    with tempfile.TemporaryDirectory(prefix="quanze-metrics-bench-") as directory:
        metrics.record_to(directory)
        on = {rpc: per_call(each, calls[rpc]) for rpc, each in record.items()}
    rows: list[Any] = [("call", "off µs", "on µs", "cost µs")]
    rows += [(rpc, f"{off[rpc]:.2f}", f"{on[rpc]:.2f}", f"{on[rpc] - off[rpc]:.2f}") for rpc in off]
    for row in rows:
        print(f"{row[0]:<20} {row[1]:>8} {row[2]:>8} {row[3]:>8}")


if __name__ == "__main__":
    main()
