"""What each part of a `Check` costs in-process, with the whole policy library: µs per part.

    python bench/request_path.py                # ~1 minute; a Markdown table on stdout
    python bench/request_path.py --quick        # smoke run
    python bench/request_path.py --json out.json

Every part runs on the requests of the shared decision table, cycling, and the table gives the
median (and p90) of single calls after a warm-up. The parts are those the servicer's `Check`
runs on the decider thread, in order, each timed alone on the output of the one before; the
totals time the same path whole, so the difference between the sum and a total is what calling
through the layers adds. The "outside regorus" totals replace regorus by a lookup of the answer
it gave each request: they hold everything but the engine's own time (and its noise). The
decision log's part is timed twice: on the table's requests, which carry no personal data, and on
the same requests with a suspect's name and ID number added under `context.extensions` (as the
decision-log guide's real record does), which the mask must find and erase.

It runs on checkouts from before issue 12 too (their older `request_dict`), for a before column.
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
from quanze.server.decisions import Decided, Decider
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


class ReplayedEngine:
    """Answers as regorus answered each request, found by the request's input JSON: the engine's
    JSON round trips stay, regorus's own time (and its noise) goes."""

    def __init__(self, answers: dict[str, str]) -> None:
        self._answers = answers

    def decide(self, request: Json) -> Any:
        return parse_result(self._answers[input_json(request)])

    def decide_all(self, request: Json) -> Any:
        raise NotImplementedError


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


class Path:
    """The Check path of one checkout: its parts, callable one by one."""

    def __init__(self) -> None:
        self.bundle = load_bundle()
        self.decider = build_decider(Config(), None, self.bundle)
        self.engine = RegorusEngine(self.bundle)
        self.masker = Masker(self.bundle)
        self.validator: Any = self.decider._validator  # the parts are timed alone
        requests = [case.request for case in load_decision_table(self.bundle.root)]
        self.raws = [
            json_format.ParseDict(r, pb.CheckRequest()).SerializeToString() for r in requests
        ]
        self.messages = [pb.CheckRequest.FromString(raw) for raw in self.raws]
        self.dicts = [convert.request_dict(m) for m in self.messages]
        self.personal = [with_personal_data(d) for d in self.dicts]
        self.results = [json.dumps(self.engine.decide(d), ensure_ascii=False) for d in self.dicts]
        self.answers = [self.decider.check(d) for d in self.dicts]
        replay = {input_json(d): r for d, r in zip(self.dicts, self.results, strict=True)}
        self.replayed = Decider(self.bundle, ReplayedEngine(replay), validator=self.validator)
        # Since issue 12 the bounds are checked while converting, and not again.
        self._checked = hasattr(self.decider, "limits")

    def read(self, message: Any) -> Any:
        if self._checked:
            return convert.request_dict(message, self.decider.limits)
        old_check: Any = self.decider.check_shape
        return convert.request_dict(message, old_check)

    def validate(self, request: Json) -> None:
        if self._checked:
            self.validator.check_request(request, within_limits=True)
        else:
            self.validator.check_request(request)

    def job(self, message: Any, decider: Decider | None = None, *, logged: bool = False) -> Any:
        """What the servicer's Check job does: proto in, answer proto out (and the record)."""
        decider = decider or self.decider
        request = self.read(message)
        decided = (
            decider.decide(request, within_limits=True)
            if self._checked
            else decider.decide(request)
        )
        if logged:
            self.record(decided.request, decided.answer)
        return convert.answer_message(decided.answer)

    def mask(self, request: Json) -> Any:
        return self.masker.apply({"input": request, "path": events.CHECK_PATH, "rpc": "Check"})

    def record(self, request: Json, answer: Json) -> Any:
        call = events.Call("Check", self.bundle.revision, LABELS)
        return events.check_record(call, Decided(request, answer), self.masker)

    def parts(self) -> list[tuple[str, Callable[[Any], Any], Sequence[Any]]]:
        shape: Any = self.decider._finish
        raw_answers = [parse_result(r) for r in self.results]
        replies = [convert.answer_message(a) for a in self.answers]
        with_answers = list(zip(self.dicts, self.answers, strict=True))
        personal_with_answers = list(zip(self.personal, self.answers, strict=True))
        return [
            ("bytes → proto (`FromString`; gRPC does it)", pb.CheckRequest.FromString, self.raws),
            ("proto → dict with the size checks (`request_dict`)", self.read, self.messages),
            ("schema validation (`check_request`)", self.validate, self.dicts),
            ("decision id (`uuid4`)", lambda _: str(uuid.uuid4()), self.dicts),
            ("input → JSON (`input_json`)", input_json, self.dicts),
            ("engine, whole (`RegorusEngine.decide`)", self.engine.decide, self.dicts),
            ("result JSON → dict (`parse_result`)", parse_result, self.results),
            ("answer shaping (`Decider._finish`)", lambda raw: shape(raw, "id"), raw_answers),
            ("answer → proto (`convert.answer_message`)", convert.answer_message, self.answers),
            (
                "proto → bytes (`SerializeToString`; gRPC does it)",
                lambda m: m.SerializeToString(),
                replies,
            ),
            ("log: mask, no personal data (`Masker.apply`)", self.mask, self.dicts),
            (
                "log: record, no personal data (`check_record`)",
                lambda ra: self.record(*ra),
                with_answers,
            ),
            ("log: mask, name and ID number (`Masker.apply`)", self.mask, self.personal),
            (
                "log: record, name and ID number (`check_record`)",
                lambda ra: self.record(*ra),
                personal_with_answers,
            ),
            (
                "total: `Decider.check` (a dict in: the whole validation)",
                self.decider.check,
                self.dicts,
            ),
            ("total: the servicer's `Check` job (proto → answer proto)", self.job, self.messages),
            (
                "total: the same with its decision record",
                lambda m: self.job(m, logged=True),
                self.messages,
            ),
            ("outside regorus: `Decider.check`", self.replayed.check, self.dicts),
            (
                "outside regorus: the servicer's `Check` job",
                lambda m: self.job(m, self.replayed),
                self.messages,
            ),
            (
                "outside regorus: the same with its decision record",
                lambda m: self.job(m, self.replayed, logged=True),
                self.messages,
            ),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per part")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 calls per part")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    calls = 500 if args.quick else args.calls
    path = Path()
    rows = []
    for name, function, items in path.parts():
        took = sorted(timed(function, items, calls))
        rows.append(
            {
                "part": name,
                "median_us": statistics.median(took),
                "p90_us": took[int(0.9 * (len(took) - 1))],
                "calls": len(took),
            }
        )
    print(f"{len(path.dicts)} decision-table requests, {calls} calls per part")
    print()
    print("| part | median µs | p90 µs |")
    print("|---|---:|---:|")
    for row in rows:
        print(f"| {row['part']} | {row['median_us']:.1f} | {row['p90_us']:.1f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"revision": path.bundle.revision, "calls": calls, "rows": rows}, out, indent=1
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
