"""`quanze logs stats`: totals and counts of the matching answers, as a table, json or csv."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from quanze.server.decisionlog.query import Answer, Match
from quanze.server.decisionlog.render import Output, display_width, fit, printable

STATS_DIMENSIONS = (
    "action",
    "role",
    "decision",
    "article",
    "day",
    "reason",
    "revision",
    "rpc",
    "escalate",
    "subject",
    "resource",
)
DEFAULT_STATS = ("action", "role", "decision", "article", "day")


@dataclass
class Stats:
    """Totals and count maps over matching answers."""

    dimensions: tuple[str, ...]
    records: int = 0
    answers: int = 0
    allowed: int = 0
    denied: int = 0
    escalated: int = 0
    list_calls: int = 0
    """ListAllowedActions calls counted whole (no --action to break them down)."""
    first: str = ""
    last: str = ""
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = {dimension: Counter() for dimension in self.dimensions}

    def add(self, match: Match) -> None:
        self.records += 1
        if not self.first or match.order < self.first:
            self.first = match.order
        self.last = max(self.last, match.order)
        for answer in match.answers:
            self.answers += 1
            self.allowed += answer.decision == "allow"
            self.denied += answer.decision == "deny"
            self.list_calls += answer.decision == "list"
            self.escalated += bool(answer.escalate)
            for dimension, counter in self.counts.items():
                for key in _keys(answer, dimension):
                    counter[key] += 1

    def totals(self) -> dict[str, int | str]:
        return {
            "records": self.records,
            "answers": self.answers,
            "allowed": self.allowed,
            "denied": self.denied,
            "escalated": self.escalated,
            "list_calls": self.list_calls,
            "first": self.first,
            "last": self.last,
        }

    def sections(self) -> dict[str, list[tuple[str, int]]]:
        """Each dimension's counts, largest first (days in calendar order)."""
        result = {}
        for dimension in self.dimensions:
            counter = self.counts.get(dimension, Counter())
            if dimension == "day":
                result[dimension] = sorted(counter.items())
            else:
                result[dimension] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        return result


NONE = "(none)"
"""The key of an answer with no value in a dimension."""


def _keys(answer: Answer, dimension: str) -> Iterable[str]:
    """The keys one answer counts under: once per distinct value, `(none)` when it has none."""
    values: Iterable[str]
    if dimension == "role":
        values = answer.roles
    elif dimension == "reason":
        values = dict.fromkeys(answer.reasons)
    elif dimension == "article":
        values = answer.articles
    elif dimension == "day":
        values = (answer.timestamp[:10],)
    elif dimension == "escalate":
        values = (answer.escalate or "no",)
    else:
        values = (getattr(answer, dimension),)
    values = [v for v in values if v]
    return values or [NONE]


def write_stats(out: Output, stats: Stats, kind: str) -> None:
    """`stats` as `kind`: json, csv or table."""
    if kind == "json":
        document = {
            "totals": stats.totals(),
            "by": {k: dict(v) for k, v in stats.sections().items()},
        }
        out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif kind == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("section", "key", "value"))
        writer.writerows(("total", key, value) for key, value in stats.totals().items())
        for dimension, rows in stats.sections().items():
            writer.writerows((dimension, key, count) for key, count in rows)
    else:
        _table(out, stats)


def _table(out: Output, stats: Stats) -> None:
    def share(count: int) -> str:
        return f"{100.0 * count / stats.answers:5.1f} %" if stats.answers else ""

    lines = [
        f"records     {stats.records:>12,}",
        f"answers     {stats.answers:>12,}",
        f"allowed     {stats.allowed:>12,}  {share(stats.allowed)}",
        f"denied      {stats.denied:>12,}  {share(stats.denied)}",
        f"escalated   {stats.escalated:>12,}  {share(stats.escalated)}",
    ]
    if stats.list_calls:
        lines.append(f"list calls  {stats.list_calls:>12,}  (ListAllowedActions, whole)")
    if stats.first:
        lines.append(f"from        {stats.first[:19].replace('T', ' ')} UTC")
        lines.append(f"to          {stats.last[:19].replace('T', ' ')} UTC")
    out.write("\n".join(line.rstrip() for line in lines) + "\n")
    for dimension, rows in stats.sections().items():
        keys = [printable(key) for key, _ in rows]  # values from records: shown escaped
        width = max([display_width(k) for k in keys] + [len(dimension) + 3, 12])
        width = min(width, 60)
        out.write(f"\n{fit('by ' + dimension, width)}  {'count':>10}  {'share':>7}\n")
        for key, (_, count) in zip(keys, rows, strict=True):
            out.write(f"{fit(key, width)}  {count:>10,}  {share(count):>7}\n")
