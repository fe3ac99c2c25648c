"""Side-by-side cost of one decision under two checkouts' policies, on the compiled RVM.

    python bench/engine_ab.py --before /tmp/quanze-old              # this checkout is "after"
    python bench/engine_ab.py --before OLD --after NEW --rounds 5

Each checkout runs in its own worker process (its own `server/` on the path, so each loads its
policies the way that version did). The requests are the decision table of `--before` that both
accept; every request is evaluated alternately by the two workers, `--rounds` times, and the
best time per request is kept, so drift of a shared machine cancels out. Prints the median and
mean over requests of each side. A worker that fails on a request prints why and stops the run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import regorus

ENTRYPOINT = "data.quanze.authz.decision"


def worker(root: Path) -> None:
    """Evaluate requests from stdin (one JSON per line); answer each with its time or error."""
    # That checkout's own code reads its policies: imported only once it is on the path.
    sys.path.insert(0, str(root / "server"))
    load_bundle = importlib.import_module("quanze.server.policy.bundle").load_bundle
    load_decision_table = importlib.import_module(
        "quanze.server.policy.testing"
    ).load_decision_table

    bundle = load_bundle(root / "policies")
    program = regorus.Program.compile_from_modules(
        bundle.data_json, list(bundle.modules), [ENTRYPOINT]
    )
    rvm = regorus.Rvm()
    rvm.load_program(program)
    rvm.set_data_json(bundle.data_json)
    for line in sys.stdin:
        if line.strip() == "corpus":
            cases = load_decision_table(bundle.root)
            print(json.dumps([case.request for case in cases], ensure_ascii=False), flush=True)
            continue
        try:
            rvm.set_input_json(line)
            started = time.perf_counter()
            rvm.execute_entry_point(ENTRYPOINT)
            print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)
        except Exception as exc:  # reported to the parent, which stops
            print(json.dumps({"error": str(exc).splitlines()[0]}), flush=True)


class Side:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, line: str) -> Any:
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:
            raise RuntimeError("the worker's pipes are closed")
        stdin.write(line + "\n")
        stdin.flush()
        return json.loads(stdout.readline())

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="the older checkout")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    if args.before is None:
        parser.error("--before is required")
    for root in (args.before, args.after):
        if not (root / "policies").is_dir() or not (root / "server").is_dir():
            parser.error(f"{root} is not a Quanze checkout (no policies/ and server/ folders)")
    sides = [Side(args.before.resolve()), Side(args.after.resolve())]
    try:
        requests = [json.dumps(r, ensure_ascii=False) for r in sides[0].ask("corpus")]
        # Only requests both versions answer: the schema may have changed between them.
        accepted = [r for r in requests if all("error" not in s.ask(r) for s in sides)]
        best = [[float("inf")] * len(accepted) for _ in sides]
        for _ in range(args.rounds):
            for i, request in enumerate(accepted):
                for k, side in enumerate(sides):
                    reply = side.ask(request)
                    if "error" in reply:
                        print(f"{side.root}: {reply['error']}", file=sys.stderr)
                        return 1
                    best[k][i] = min(best[k][i], reply["seconds"])
    finally:
        for side in sides:
            side.close()
    print(f"{len(accepted)} of {len(requests)} requests, best of {args.rounds} each")
    for side, times in zip(sides, best, strict=True):
        median, mean = statistics.median(times) * 1e3, statistics.mean(times) * 1e3
        print(f"{side.root}: median {median:.3f} ms, mean {mean:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
