"""Spurious denies: Check during policy reloads, and ListAllowedActions under CPU starvation.

Each scenario runs the real sidecar (`quanze serve`, a child process) and records every answer.

    python bench/spurious_denies.py reload     # directory source, N revisions published under load
    python bench/spurious_denies.py starve     # busy-loop processes on every core, List + Check
    python bench/spurious_denies.py lag        # in-process: how long a prepare holds up the loop

`reload` prints Check latency before the first publish and while revisions are compiled and
swapped in (from each revision's `policy_revision_found` to its `policy_revision_active`), and
how many answers were `evaluation_error` or otherwise not what the serving revision says.
`starve` prints the same counts for ListAllowedActions (per action) and Check while `--hogs`
processes spin at nice 0 (with `--core C --nice N`, on CPU C only, the sidecar N lower).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test support lives there

from tests.integration.load import (
    LoadRecorder,
    Sample,
    busy_loops,
    event_time,
    publish_marker,
    sidecar,
)
from tests.support import copy_bundled_policies


def summary(seconds: Sequence[float]) -> str:
    if not seconds:
        return "n=0"
    ordered = sorted(s * 1000 for s in seconds)
    n = len(ordered)
    p99 = ordered[max(0, int(n * 0.99) - 1)]
    return f"n={n} p50={ordered[n // 2]:.2f} p99={p99:.2f} max={ordered[-1]:.1f} ms"


def reasons(samples: Sequence[Sample]) -> Counter[str]:
    """How many decisions cite each system reason (evaluation_error, policy_unavailable)."""
    return Counter(
        code
        for s in samples
        for _, codes in s.verdicts
        for code in codes
        if code in ("evaluation_error", "policy_unavailable")
    )


def logged(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The sidecar's evaluation failures and child compiles, with the slowest timeout seen."""
    names = ("evaluation_timeout", "evaluation_error", "policy_compiled_in_child")
    found = Counter(str(e["event"]) for e in events if e.get("event") in names)
    late = [float(e["elapsed_ms"]) for e in events if "elapsed_ms" in e]
    return {**found, **({"slowest_ms": max(late)} if late else {})}


def reload(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="quanze-denies-"))
    policies = copy_bundled_policies(root / "policies")
    with sidecar(
        root,
        "--workers", str(args.workers),
        "--policies", str(policies), "--poll-interval", "0.2",
        "--set", f"policies.cache_dir={root / 'cache'}",
        "--set", f"policies.require_tests_pass={args.tests}",
    ) as server:  # fmt: skip
        recorder = LoadRecorder(server.address, threads=args.threads, timeout=30)
        with recorder:
            time.sleep(3)
            windows: list[tuple[float, float]] = []
            for n in range(1, args.revisions + 1):
                seen = server.count()
                publish_marker(policies, f"r{n}", root)
                found = server.wait_event("policy_revision_found", after=seen)
                active = server.wait_event("policy_revision_active", 300, after=seen)
                windows.append((event_time(found), event_time(active)))
                time.sleep(1)
        samples = recorder.samples
        print("sidecar log:", logged(server.events))
    before = [s for s in samples if s.started < windows[0][0] - 1]
    during = [s for s in samples if any(a <= s.started <= b for a, b in windows)]
    print("before      ", summary([s.seconds for s in before]))
    print("reloading   ", summary([s.seconds for s in during]))
    print("all         ", summary([s.seconds for s in samples]))
    wrong = [s for s in samples if not s.expected]
    print(
        f"answers {len(samples)}, errors {dict(reasons(samples))}, "
        f"not as expected {len(wrong)}, call failures {recorder.failures[:3]}"
    )
    return 0


def starve(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="quanze-starve-"))
    core = None if args.core < 0 else args.core
    with sidecar(root, "--workers", str(args.workers), core=core, nice=args.nice) as server:
        recorder = LoadRecorder(server.address, threads=args.threads, timeout=60, lists=True)
        with busy_loops(args.hogs, core), recorder:
            time.sleep(args.seconds)
        samples = recorder.samples
        print("sidecar log:", logged(server.events))
    for kind in ("check", "list"):
        chosen = [s for s in samples if s.kind == kind]
        print(f"{kind:6s}", summary([s.seconds for s in chosen]))
        print(
            f"       answers {len(chosen)} "
            f"(decisions {sum(len(s.verdicts) for s in chosen)}), "
            f"errors {dict(reasons(chosen))}, not as expected "
            f"{sum(1 for s in chosen if not s.expected)}"
        )
    print("call failures", len(recorder.failures), recorder.failures[:3])
    return 0


def lag(args: argparse.Namespace) -> int:
    """How long preparing a revision holds up the serving loop, in-process, no gRPC."""
    # Imported here: the other scenarios run the server in child processes only.
    from quanze.server import app, validation  # noqa: PLC0415
    from quanze.server.config import Config  # noqa: PLC0415
    from quanze.server.decider_thread import DeciderThread  # noqa: PLC0415
    from quanze.server.policy.bundle import load_bundle  # noqa: PLC0415

    config = Config()

    async def held_up(prepare: Any) -> tuple[float, float]:
        """The loop's longest stall (ms) while `prepare` runs, and how long it ran (s)."""
        worst = 0.0
        done = asyncio.Event()

        async def tick() -> None:
            nonlocal worst
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                worst = max(worst, time.perf_counter() - before - 0.001)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await prepare()
        seconds = time.perf_counter() - started
        done.set()
        await ticker
        return worst * 1000, seconds

    bundle = load_bundle()  # a worker reads it on another thread, before preparing
    deciders = DeciderThread()  # a worker's, serving a first revision

    async def serve_first() -> None:
        await app.prepare_decider(config, None, bundle, deciders, "first")
        await deciders.commit("first")

    asyncio.run(serve_first())

    async def on_the_loop() -> None:  # what a worker did before
        validation._compile_fast.cache_clear()
        app.build_decider(config, None, bundle)

    async def new_schema() -> None:
        validation._compile_fast.cache_clear()
        await app.prepare_decider(config, None, bundle, deciders, "next")

    async def same_schema() -> None:
        await app.prepare_decider(config, None, bundle, deciders, "next")

    for name, prepare in (
        ("build_decider on the loop (before)", on_the_loop),
        ("prepare_decider, new input schema", new_schema),
        ("prepare_decider, same input schema", same_schema),
    ):
        runs = [asyncio.run(held_up(prepare)) for _ in range(args.rounds)]
        stalls = sorted(r[0] for r in runs)
        took = sorted(r[1] for r in runs)
        print(
            f"{name:36s} longest stall median {stalls[len(stalls) // 2]:7.1f} ms "
            f"(max {stalls[-1]:.1f}); prepare takes {took[len(took) // 2]:.2f} s"
        )
    asyncio.run(deciders.close())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["reload", "starve", "lag"])
    parser.add_argument("--rounds", type=int, default=5, help="lag: prepares of each kind")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=3, help="client threads")
    parser.add_argument("--revisions", type=int, default=4, help="reload: revisions published")
    parser.add_argument("--tests", default="false", help="reload: policies.require_tests_pass")
    parser.add_argument("--hogs", type=int, default=4, help="starve: busy-loop processes")
    parser.add_argument("--seconds", type=float, default=20.0, help="starve: how long")
    parser.add_argument("--nice", type=int, default=0, help="starve: the sidecar's niceness")
    parser.add_argument(
        "--core", type=int, default=-1, help="starve: run the sidecar and the hogs on this CPU"
    )
    args = parser.parse_args(argv)
    return {"reload": reload, "starve": starve, "lag": lag}[args.scenario](args)


if __name__ == "__main__":
    raise SystemExit(main())
