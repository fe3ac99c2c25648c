"""What one Check costs on the RVM: every package, each package alone, and per-action evaluation.

    python bench/routing_costs.py              # the bundled policies, decision table as inputs
    python bench/routing_costs.py --rounds 5   # best of 5 per request (default 3)

Each row is an entry point compiled into one program and evaluated on every decision-table
request (the input set once per request, outside the timing), best of `--rounds` per request;
the table gives the median and mean over requests in microseconds. Rows:

- `decision (every package)`: `data.quanze.authz.decision`, all sets for every action;
- `decision (routed)`: the entry point per-action evaluation picks for the request's action;
- `answer with no entries`: the answer logic alone (`answer(act, {...empty...})`);
- `package <name>`: that package's sets, on their own (shared libraries included, so the
  package rows do not add up to the whole).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import regorus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from quanze.server.engine.base import input_json
from quanze.server.policy.bundle import DECISION_ENTRYPOINT, load_bundle
from quanze.server.policy.routing import plan_routes
from quanze.server.policy.testing import load_decision_table

PROBE_PACKAGE = "quanze.bench_costs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    bundle = load_bundle()
    routes = plan_routes(bundle.modules, bundle.data)
    packages: dict[str, list[str]] = {}
    for rules in routes.parts.values():
        for rule in rules:
            packages.setdefault(rule.rsplit(".", 1)[0].removeprefix("data."), []).append(rule)
    empty = ", ".join(f'"{kind}": set()' for kind in routes.parts)
    probe = [f"package {PROBE_PACKAGE}", "", "import rego.v1", ""]
    probe.append(f"no_entries := data.quanze.authz.answer(input.action.name, {{{empty}}})")
    for name, package_rules in packages.items():
        probe.append(f"{name.rsplit('.', 1)[-1]} := [{', '.join(package_rules)}]")
    modules: list[tuple[str, str]] = [
        *bundle.modules,
        ("bench_costs.rego", "\n".join(probe) + "\n"),
    ]
    if routes.module:
        modules.append(routes.module)
    rows: dict[str, Callable[[str], str]] = {
        "decision (every package)": lambda _: DECISION_ENTRYPOINT,
        "decision (routed)": routes.entry_point,
        "answer with no entries": lambda _: f"data.{PROBE_PACKAGE}.no_entries",
    }
    for name in packages:
        short = name.rsplit(".", 1)[-1]
        rows[f"package {short}"] = _constant(f"data.{PROBE_PACKAGE}.{short}")
    entry_points = sorted(
        {DECISION_ENTRYPOINT, *routes.extra_entry_points}
        | {f"data.{PROBE_PACKAGE}.{n.rsplit('.', 1)[-1]}" for n in packages}
        | {f"data.{PROBE_PACKAGE}.no_entries"}
    )
    program = regorus.Program.compile_from_modules(bundle.data_json, modules, entry_points)
    rvm = regorus.Rvm()
    rvm.load_program(program)
    rvm.set_data_json(bundle.data_json)

    requests = [case.request for case in load_decision_table(bundle.root)]
    best: dict[str, list[float]] = {row: [] for row in rows}
    for request in requests:
        rvm.set_input_json(input_json(request))
        action = request["action"]["name"]
        for row, entry in rows.items():
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                json.loads(rvm.execute_entry_point(entry(action)))
                times.append(time.perf_counter() - started)
            best[row].append(min(times))
    print(f"{len(requests)} decision-table requests, best of {args.rounds} each, RVM only (µs)")
    print(f"{'row':<32} {'median':>8} {'mean':>8}")
    for row, times in best.items():
        median, mean = statistics.median(times) * 1e6, statistics.mean(times) * 1e6
        print(f"{row:<32} {median:8.1f} {mean:8.1f}")
    return 0


def _constant(entry: str) -> Callable[[str], str]:
    return lambda _: entry


if __name__ == "__main__":
    raise SystemExit(main())
