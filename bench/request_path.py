"""What each part of a `Check` costs in-process, with the whole policy library: µs per part.

    python bench/request_path.py                # ~1 minute; a Markdown table on stdout
    python bench/request_path.py --quick        # smoke run
    python bench/request_path.py --json out.json

Every part runs on the requests of the shared decision table, cycling, and the table gives the
median (and p90) of single calls after a warm-up. The parts are those the servicer's `Check`
runs on the decider thread, in order, each timed alone on the output of the one before; the
totals time the same path whole, so the difference between the sum and a total is what calling
through the layers adds. The decision log's part is timed twice: on the table's requests, which
carry no personal data, and on the same requests with a suspect's name and ID number added
under `context.extensions` (as the decision-log guide's real record does), which the mask must
find and erase.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import json_format

from quanze.server import convert
from quanze.server.app import build_decider
from quanze.server.config import Config
from quanze.server.decisionlog import events
from quanze.server.decisionlog.mask import Masker
from quanze.server.decisions import Decided
from quanze.server.engine.base import input_json
from quanze.server.engine.regorus_engine import RegorusEngine, parse_result
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from quanze.v1 import decision_service_pb2 as pb

Json = Any
LABELS = {"id": "bench", "version": "0", "stream": "w0"}


def with_personal_data(request: Json) -> Json:
    """The request with a suspect's name and ID number where a case application may put them."""
    personal = copy.deepcopy(request)
    extensions = personal.setdefault("context", {}).setdefault("extensions", {})
    extensions.update({"suspect_name": "张三", "suspect_id_number": "110101199001011234"})
    return personal


def timed(function: Callable[[Any], Any], items: Sequence[Any], calls: int) -> list[float]:
    """µs of each of `calls` calls of `function` over `items` (cycling), after a warm-up."""
    for item in items[: min(len(items), 200)]:
        function(item)
    took = []
    clock = time.perf_counter_ns
    for i in range(calls):
        item = items[i % len(items)]
        started = clock()
        function(item)
        took.append((clock() - started) / 1000)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per part")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 calls per part")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    calls = 500 if args.quick else args.calls

    bundle = load_bundle()
    decider = build_decider(Config(), None, bundle)
    engine = RegorusEngine(bundle)
    masker = Masker(bundle)
    requests = [case.request for case in load_decision_table(bundle.root)]
    raws = [json_format.ParseDict(r, pb.CheckRequest()).SerializeToString() for r in requests]
    messages = [pb.CheckRequest.FromString(raw) for raw in raws]
    dicts = [convert.request_dict(m) for m in messages]
    results = [json.dumps(engine.decide(d), ensure_ascii=False) for d in dicts]
    raw_answers = [parse_result(r) for r in results]
    answers = [decider.check(d) for d in dicts]
    replies = [convert.answer_message(a) for a in answers]
    validator: Any = decider._validator  # the parts are timed alone
    shape: Any = decider._finish

    def call() -> events.Call:
        return events.Call("Check", bundle.revision, LABELS)

    def record(request: Json, answer: Json) -> Any:
        return events.check_record(call(), Decided(request, answer), masker)

    if hasattr(decider, "limits"):  # the bounds checked while converting (issue 12)
        limits: Any = decider.limits

        def read(message: Any) -> Any:
            return convert.request_dict(message, limits)

        def validate(request: Any) -> None:
            validator.check_request(request, within_limits=True)

        def decide(request: Any) -> Any:
            return decider.decide(request, within_limits=True)
    else:  # an older checkout, for the "before" column

        def read(message: Any) -> Any:
            old_api: Any = decider.check_shape
            return convert.request_dict(message, old_api)

        validate = validator.check_request
        decide = decider.decide

    def event(request: Json) -> Json:
        return {"input": request, "path": events.CHECK_PATH, "rpc": "Check"}

    personal = [with_personal_data(d) for d in dicts]
    parts: list[tuple[str, Callable[[Any], Any], Sequence[Any]]] = [
        ("bytes → proto (`FromString`; gRPC does it)", pb.CheckRequest.FromString, raws),
        ("proto → dict with the size checks (`request_dict`)", read, messages),
        ("schema validation (`check_request`)", validate, dicts),
        ("decision id (`uuid4`)", lambda _: str(uuid.uuid4()), dicts),
        ("input → JSON (`input_json`)", input_json, dicts),
        ("engine, whole (`RegorusEngine.decide`)", engine.decide, dicts),
        ("result JSON → dict (`parse_result`)", parse_result, results),
        ("answer shaping (`Decider._finish`)", lambda r: shape(r, "id"), raw_answers),
        ("answer → proto (`convert.answer_message`)", convert.answer_message, answers),
        (
            "proto → bytes (`SerializeToString`; gRPC does it)",
            lambda m: m.SerializeToString(),
            replies,
        ),
        ("log: mask, no personal data (`Masker.apply`)", lambda d: masker.apply(event(d)), dicts),
        (
            "log: record, no personal data (`check_record`)",
            lambda pair: record(*pair),
            list(zip(dicts, answers, strict=True)),
        ),
        (
            "log: mask, name and ID number (`Masker.apply`)",
            lambda d: masker.apply(event(d)),
            personal,
        ),
        (
            "log: record, name and ID number (`check_record`)",
            lambda pair: record(*pair),
            list(zip(personal, answers, strict=True)),
        ),
        ("total: `Decider.check` (a dict in: the whole validation)", decider.check, dicts),
        (
            "total: the servicer's `Check` job without a log (proto → answer proto)",
            lambda m: convert.answer_message(decide(read(m)).answer),
            messages,
        ),
        (
            "total: the same with its decision record (`decision_log` on)",
            lambda m: (
                record((decided := decide(read(m))).request, decided.answer),
                convert.answer_message(decided.answer),
            ),
            messages,
        ),
    ]
    rows = []
    for name, function, items in parts:
        took = timed(function, items, calls)
        took.sort()
        rows.append(
            {
                "part": name,
                "median_us": statistics.median(took),
                "p90_us": took[int(0.9 * (len(took) - 1))],
                "calls": len(took),
            }
        )
    print(f"{len(requests)} decision-table requests, {calls} calls per part")
    print()
    print("| part | median µs | p90 µs |")
    print("|---|---:|---:|")
    for row in rows:
        print(f"| {row['part']} | {row['median_us']:.1f} | {row['p90_us']:.1f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"revision": bundle.revision, "calls": calls, "rows": rows}, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
