"""What each probe saw, kept for the campaign's JSON report and for its own verdict.

Every answer a probe receives goes through `Probe.answered` (from any thread): counted by
status, allows and allows on invalid input counted, and anything the issue forbids kept as a
failure with the offending request. Records expected in a decision log are compared with the
ones found there (`Probe.records`). `Probe.verdict` fails the test with a summary by kind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import time
from collections import Counter
from typing import Any

# Failures kept in full per kind (all are counted); the smallest requests are kept.
EXAMPLES_PER_KIND = 20
# A request larger than this is shown by its start, its size and its hash.
SHOWN_BYTES = 2048


def shown(request: Any) -> Any:
    """`request` as the report shows it: JSON as it is, bytes in base64, both cut when huge."""
    if isinstance(request, (bytes, bytearray)):
        data = bytes(request)
        return {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "base64": base64.b64encode(data[:SHOWN_BYTES]).decode(),
            "cut": len(data) > SHOWN_BYTES,
        }
    text = json.dumps(_plain(request), ensure_ascii=False, default=repr)
    if len(text) <= SHOWN_BYTES:
        return json.loads(text)
    return {
        "json_chars": len(text),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "start": text[:SHOWN_BYTES],
        "cut": True,
    }


def _plain(value: Any) -> Any:
    """NaN and infinities as strings, so the report stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def size_of(request: Any) -> int:
    if isinstance(request, (bytes, bytearray)):
        return len(request)
    return len(json.dumps(_plain(request), default=repr))


class Probe:
    """One probe's counts and failures; safe to feed from several threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.monotonic()
        self.seconds = 0.0
        self.requests = 0
        self.statuses: Counter[str] = Counter()
        self.allows = 0
        self.allows_on_invalid = 0
        self.invalid_requests = 0
        self.records_expected: int | None = None
        self.records_found: int | None = None
        self.records_lost: int | None = None
        self.failure_counts: Counter[str] = Counter()
        self.failures: dict[str, list[dict[str, Any]]] = {}
        self.facts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def answered(
        self,
        request: Any,
        status: str,
        *,
        allowed: bool = False,
        invalid: bool = False,
        answer: Any = None,
    ) -> None:
        """Count one call: its status ("OK" or a gRPC code name) and, if OK, the decision."""
        with self._lock:
            self.requests += 1
            self.statuses[status] += 1
            self.invalid_requests += invalid
            if status == "OK" and allowed:
                self.allows += 1
                if invalid:
                    self.allows_on_invalid += 1
        if status == "OK" and allowed and invalid:
            self.fail("allow_on_invalid_input", request, answer)

    def fail(self, kind: str, request: Any, answer: Any = None) -> None:
        """Keep a failure of `kind` with the request that caused it and what came back."""
        with self._lock:
            self.failure_counts[kind] += 1
            kept = self.failures.setdefault(kind, [])
            entry = {"request": shown(request), "answer": _plain(answer), "_size": size_of(request)}
            kept.append(entry)
            kept.sort(key=lambda e: e["_size"])
            del kept[EXAMPLES_PER_KIND:]

    def records(
        self, expected: dict[str, Any], found: set[str], allowed: frozenset[str] = frozenset()
    ) -> None:
        """Compare decision ids answered (with the request of each) with those in the log;
        a lost record of an allow (`allowed`) is an `unrecorded_allow`."""
        lost = [decision_id for decision_id in expected if decision_id not in found]
        with self._lock:
            self.records_expected = len(expected)
            self.records_found = len(expected) - len(lost)
            self.records_lost = len(lost)
        for decision_id in lost:
            kind = "unrecorded_allow" if decision_id in allowed else "lost_record"
            self.fail(kind, expected[decision_id], {"decision_id": decision_id})

    def fact(self, name: str, value: Any) -> None:
        """Something the report should say about this run (a setting, a measured count)."""
        with self._lock:
            self.facts[name] = value

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seconds": round(self.seconds, 1),
                "requests": self.requests,
                "answers_by_status": dict(sorted(self.statuses.items())),
                "allows": self.allows,
                "invalid_requests": self.invalid_requests,
                "allows_on_invalid_input": self.allows_on_invalid,
                "records_expected": self.records_expected,
                "records_found": self.records_found,
                "records_lost": self.records_lost,
                "failures_by_kind": dict(sorted(self.failure_counts.items())),
                "failures": {
                    kind: [{k: v for k, v in e.items() if k != "_size"} for e in examples]
                    for kind, examples in sorted(self.failures.items())
                },
                "facts": self.facts,
            }

    def verdict(self) -> None:
        """Fail the test, naming every kind of failure with what came back for its smallest
        offending request (the report has up to 20 of each)."""
        with self._lock:
            if not self.failure_counts:
                return
            lines = [f"probe {self.name}: {sum(self.failure_counts.values())} failure(s)"]
            for kind, count in sorted(self.failure_counts.items()):
                first = self.failures[kind][0]
                answer = json.dumps(first["answer"], ensure_ascii=False, default=repr)[:400]
                request = json.dumps(first["request"], ensure_ascii=False)[:400]
                lines.append(f"  {kind}: {count}; e.g. {answer} for the request {request}")
        raise AssertionError("\n".join(lines))
