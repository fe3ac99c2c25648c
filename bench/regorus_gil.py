"""Does regorus let the GIL go while it evaluates? A Python thread counts while another evaluates.

    python bench/regorus_gil.py

One thread makes a few long calls (around a hundred milliseconds each) and notes when each
started and ended; the main thread meanwhile counts in a tight loop, noting the time every 200
counts (microseconds apart). A call during whose middle 80 % the counting thread never noted
the time held the GIL throughout. Long calls make the answer hold on a loaded machine too: the
scheduler may keep the counting thread off a core for milliseconds, not for a whole call (short
calls cannot tell: Python may hand the GIL over just before or after the call). The control,
hashing, lets the GIL go (hashlib does for anything over 2 kB). The regorus calls are the two
the sidecar makes: `Rvm.execute_entry_point` (the compiled RVM: Check) and
`Engine.eval_rule_as_json` (the tree-walking Engine: ListAllowedActions and the RVM's
fallback), on a policy made slow on purpose (the RVM stops after 25,000 instructions, so its
slowness is one builtin over a large array).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable

import regorus

CALLS = 3
MARK_EVERY = 200  # counts between two notes of the time
SLOW_POLICY = """package slow

import rego.v1

rvm := count(numbers.range(1, input.n))

engine := count([y | some y in numbers.range(1, input.n)])
"""


def rvm_call(n: int) -> Callable[[], object]:
    program = regorus.Program.compile_from_modules(
        "{}", [("slow.rego", SLOW_POLICY)], ["data.slow.rvm"]
    )
    rvm = regorus.Rvm()
    rvm.load_program(program)
    rvm.set_data_json("{}")
    rvm.set_input_json(json.dumps({"n": n}))
    return lambda: rvm.execute_entry_point("data.slow.rvm")


def engine_call(n: int) -> Callable[[], object]:
    engine = regorus.Engine()
    engine.add_policy("slow.rego", SLOW_POLICY)
    engine.set_input_json(json.dumps({"n": n // 4}))
    return lambda: engine.eval_rule_as_json("data.slow.engine")


def hash_call(n: int) -> Callable[[], object]:
    data = b"x" * (n * 100)
    return lambda: hashlib.sha256(data).digest()


def calls(
    build: Callable[[], Callable[[], object]],
    ready: threading.Event,
    spans: list[tuple[float, float]],
) -> None:
    """CALLS calls of what `build` returns (built here: regorus objects are thread-bound)."""
    call = build()
    ready.set()
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        spans.append((started, time.perf_counter()))


def main() -> int:
    sys.setswitchinterval(0.0001)  # let the counting thread in as soon as the GIL is free
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for name, build in (
        ("control: hashlib.sha256", lambda: hash_call(n)),
        ("regorus.Rvm.execute_entry_point", lambda: rvm_call(n)),
        ("regorus.Engine.eval_rule_as_json", lambda: engine_call(n)),
    ):
        ready = threading.Event()
        spans: list[tuple[float, float]] = []
        thread = threading.Thread(target=calls, args=(build, ready, spans))
        thread.start()
        ready.wait()
        marks = []
        while thread.is_alive():
            for _ in range(MARK_EVERY):
                pass
            marks.append(time.perf_counter())
        for started, ended in spans:
            low = started + (ended - started) / 10
            high = ended - (ended - started) / 10
            noted = bisect.bisect(marks, high) - bisect.bisect(marks, low)
            print(
                f"{name}: a call of {(ended - started) * 1000:.0f} ms; the counting thread "
                f"noted the time {noted} times during its middle 80 %"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
