"""Latency of Check while a pushed revision is gated, prepared and swapped in (one worker).

A real git repository of the bundled policies, a sidecar following it (poll 0.5 s, tests
gate on), one client calling every 5 ms; one good commit is pushed. Prints latency before,
during (push to first answer from the new commit) and after the reload.

    python bench/policy_reload.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test support lives there

from quanze.client import Client
from quanze.server.config import Config, PolicyConfig, ServerConfig
from quanze.server.testing import running_server
from tests.integration.policy_repo import PolicyRepo
from tests.support import CONTRACT_EXAMPLE

Sample = tuple[float, float, str]  # started, seconds, revision


def summary(seconds: Sequence[float]) -> str:
    ordered = sorted(s * 1000 for s in seconds)
    n = len(ordered)
    p99 = ordered[max(0, int(n * 0.99) - 1)]
    return f"n={n} p50={ordered[n // 2]:.2f} p99={p99:.2f} max={ordered[-1]:.1f} ms"


def main() -> int:
    request = json.loads(CONTRACT_EXAMPLE)
    root = Path(tempfile.mkdtemp(prefix="quanze-reload-"))
    repo = PolicyRepo(root / "repo")
    config = Config(
        server=ServerConfig(shutdown_delay_seconds=0.0),
        policies=PolicyConfig(
            path=str(repo.remote), poll_interval_seconds=0.5, cache_dir=str(root / "cache")
        ),
    )
    samples: list[Sample] = []
    stop = threading.Event()
    with running_server(config, timeout=120) as address, Client(address, timeout=30) as client:

        def load() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                answer = client.check(request)
                samples.append((started, time.perf_counter() - started, answer.policy_revision))
                time.sleep(0.005)

        caller = threading.Thread(target=load)
        caller.start()
        time.sleep(3)
        pushed = time.perf_counter()
        repo.mark("assistant_duty", "r1")
        revision = repo.commit("r1")
        while not samples or samples[-1][2] != revision:
            time.sleep(0.05)
        served = time.perf_counter()
        time.sleep(2)
        stop.set()
        caller.join()
    print("before push ", summary([s for t, s, _ in samples if t < pushed]))
    print(
        "gate + swap ",
        summary([s for t, s, _ in samples if pushed <= t <= served]),
        f"({served - pushed:.1f} s from push to serving)",
    )
    print("after       ", summary([s for t, s, _ in samples if t > served]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
