"""Time to SERVING with a git source: first start (cold cache) against a restart (warm cache).

A real git repository of the bundled policies in a temp dir; `quanze serve` (2 workers, tests
gate on, the defaults) is started on an empty `policies.cache_dir` — clone, export, `quanze
policy check` and `quanze policy test`, compile — then stopped and started again on the same
cache, where the revision's kept pass spares the gate. Each start is timed from the process's
launch to the first SERVING health answer, and split by its log lines.

    python bench/restart.py [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test support lives there

from tests.integration.load import Sidecar, event_time
from tests.integration.policy_repo import PolicyRepo
from tests.integration.support import start, stop, wait_serving

PHASES = ("listening", "found", "check", "test", "active", "serving")
WIDTHS = (9, 7, 6, 6, 7, 8)


def one_start(remote: Path, cache: Path, workers: int) -> dict[str, float]:
    """Seconds from launch until it listens, has found the revision (clone or fetch, export),
    has activated it and answers SERVING; and the seconds each gate command took."""
    launched = time.time()
    process = start(
        "--address", "127.0.0.1:0", "--workers", str(workers),
        "--policies", str(remote), "--set", f"policies.cache_dir={cache}",
        "--set", "server.shutdown_delay_seconds=0",
        cwd=cache.parent,
    )  # fmt: skip
    with process:
        server = Sidecar(process)
        try:
            address = str(server.wait_event("listening", 60)["address"])
            wait_serving(address, timeout=600)
            serving = time.time()
            active = server.wait_event("policy_revision_active", 60)
            found = server.wait_event("policy_revision_found", 60)
            gate: dict[str, float] = {
                str(e["command"]): float(e["seconds"])
                for e in server.events
                if e.get("event") == "gate_command_finished"
            }
            listening = server.wait_event("listening", 60)
            return {
                "listening": event_time(listening) - launched,
                "found": event_time(found) - launched,
                "check": gate.get("quanze policy check", 0.0),
                "test": gate.get("quanze policy test", 0.0),
                "active": event_time(active) - launched,
                "serving": serving - launched,
                "gated": float(active["gate"] == "gated"),
            }
        finally:
            stop(process)
            server.reader.join(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="quanze-restart-"))
    try:
        repo = PolicyRepo(root / "repo")
        runs: dict[str, list[dict[str, float]]] = {"first start": [], "restart": []}
        for attempt in range(args.repeat):
            cache = root / f"cache-{attempt}"
            runs["first start"].append(one_start(repo.remote, cache, args.workers))
            runs["restart"].append(one_start(repo.remote, cache, args.workers))
            if not runs["first start"][-1]["gated"] or runs["restart"][-1]["gated"]:
                raise SystemExit("the first start must run the gate, and the restart must not")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"median of {args.repeat}, {args.workers} workers; seconds from launch, but check and "
        "test: the seconds quanze policy check and quanze policy test took (0: not run)"
    )
    print(f"{'':12} " + " ".join(f"{p:>{w}}" for p, w in zip(PHASES, WIDTHS, strict=True)))
    for name, starts in runs.items():
        medians = [statistics.median(run[phase] for run in starts) for phase in PHASES]
        print(
            f"{name:12} " + " ".join(f"{m:>{w}.2f}" for m, w in zip(medians, WIDTHS, strict=True))
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
