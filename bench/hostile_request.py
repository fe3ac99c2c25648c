"""Where a 1 MB request of 40,000 roles spends its time in-process, step by step.

    python bench/hostile_request.py          # run with the checkout whose server you measure

Parses the request, converts it to a dict, validates it and evaluates it (as before issue 11),
and times the size checks on the unconverted message where this checkout has them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format

from quanze.server import convert
from quanze.server.app import build_decider
from quanze.server.config import Config
from quanze.server.errors import InvalidRequestError
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.v1 import decision_service_pb2 as pb


def best_ms(step: Callable[[], Any], times: int = 5) -> tuple[float, str]:
    """The fastest of `times` runs in milliseconds, and what the step returned or raised."""
    fastest, outcome = float("inf"), ""
    for _ in range(times):
        started = time.perf_counter()
        try:
            outcome = str(step())[:60]
        except InvalidRequestError as exc:
            outcome = str(exc)
        fastest = min(fastest, time.perf_counter() - started)
    return fastest * 1000, outcome


def main() -> None:
    bundle = load_bundle()
    request = json.loads(json.dumps(load_decision_table(bundle.root)[0].request))
    request["subject"].setdefault("properties", {})["roles"] = ["procurator_assistant"] * 40_000
    raw = json_format.ParseDict(request, pb.CheckRequest()).SerializeToString()
    decider = build_decider(Config(), None, bundle)
    message = pb.CheckRequest.FromString(raw)
    as_dict = convert.request_dict(message)
    print(f"request: {len(raw):,} bytes")
    steps: list[tuple[str, Callable[[], Any], int]] = [
        ("protobuf parse", lambda: pb.CheckRequest.FromString(raw), 5),
        ("MessageToDict", lambda: convert.request_dict(message), 5),
        ("Decider.decide (validation, evaluation)", lambda: decider.decide(as_dict), 1),
    ]
    if hasattr(decider, "check_shape"):
        steps.append(
            (
                "bounds on the protobuf message",
                lambda: decider.check_shape(convert.request_view(message)),
                20,
            )
        )
    for name, step, times in steps:
        ms, outcome = best_ms(step, times)
        print(f"{name:<42} {ms:>10.3f} ms  {outcome}")


if __name__ == "__main__":
    main()
