"""`quanze logs query` and `quanze logs stats`: answer compliance questions from a decision log.

Both stream every file of every stream (plain and gzip) one line at a time, so memory stays
constant however large the log is (`stats` also keeps its count maps). Only `decision` records
are considered; `start` and `checkpoint` records are skipped, and lines that are not records (a
write cut short by a crash, damage) are skipped and counted on stderr: `quanze logs verify`
is the tool that judges a log's integrity.

Filters combine with AND; a filter given several times matches any of its values (OR).

The fast path: a line is only parsed when it could match. Records are written by
`records.dumps`, so a line starts `{"type":…,"seq":…,"timestamp":"…"` (type and time are read
from the bytes), and every filter value appears in a matching line as a JSON string literal
(`"u-17"`, `"十七"`), which a substring test finds far faster than `json.loads` parses.
The exact checks run on the parsed record.

A ListAllowedActions record answers a whole catalog at once: `result.allowed` lists the actions
it allowed. Given `--action` (or an answer id `<call id>#<action>`), such a record yields one
answer per asked action (allowed iff listed, id `<call id>#<action>`), for actions the catalog
has or the record allowed; without them it yields one answer for the whole call with action `*`
and decision `list`, which `--decision`, `--reason`, `--article` and `--escalate` never match.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from quanze.server.clock import timestamp
from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import (
    Line,
    Progress,
    log_directory,
    progress_for,
    read_lines,
)
from quanze.server.decisionlog.records import LogFile
from quanze.server.errors import QuanzeError, did_you_mean

RPCS = ("Check", "CheckBatch", "ListAllowedActions")
LIST_RPC = "ListAllowedActions"
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
TABLE_COLUMNS = (
    "time",
    "decision_id",
    "subject",
    "role",
    "action",
    "resource",
    "decision",
    "reasons",
    "articles",
    "escalate",
    "revision",
)

# The writer's line prefix (`records.dumps` of a record built by `StreamWriter._chain`).
_HEAD = re.compile(rb'\{"type":"(\w+)","seq":\d+,"timestamp":"([^"\\]*)"')
_CANONICAL_TIME = len("2026-11-01T00:00:00.000000Z")
_WIDTH_SAMPLE = 100  # table rows buffered to size the columns; later rows are cut to fit
_COLUMN_CAPS = {
    "time": 19,
    "decision_id": 9,
    "subject": 24,
    "role": 24,
    "action": 40,
    "resource": 24,
    "decision": 8,
    "reasons": 48,
    "articles": 16,
    "escalate": 9,
    "revision": 12,
}


# ---------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What a record (or an answer in it) must match; empty collections match everything."""

    since: datetime | None = None
    until: datetime | None = None
    """Exclusive."""
    subjects: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    actions: tuple[str, ...] = ()
    decisions: frozenset[str] = frozenset()
    """Any of "allow" and "deny"."""
    articles: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    escalations: frozenset[str] = frozenset()
    revisions: tuple[str, ...] = ()
    """Prefixes of `bundles.quanze.revision`."""
    decision_ids: frozenset[str] = frozenset()
    rpcs: frozenset[str] = frozenset()
    catalog: frozenset[str] | None = None
    """Actions a ListAllowedActions call answers (None: any action asked about)."""

    # Derived once: the time bounds as canonical text, and the needles of the fast path.
    _since: str | None = field(init=False, repr=False, compare=False, default=None)
    _until: str | None = field(init=False, repr=False, compare=False, default=None)
    _needles: tuple[tuple[bytes, ...], ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    timed: bool = field(init=False, compare=False, default=False)
    """Whether there is a time filter."""
    per_record: bool = field(init=False, compare=False, default=False)
    """Whether `record_matches` has anything to check."""
    per_answer: bool = field(init=False, compare=False, default=False)
    """Whether `answer_matches` has anything to check."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_since", _time_key(self.since))
        object.__setattr__(self, "_until", _time_key(self.until))
        object.__setattr__(self, "_needles", self._build_needles())
        object.__setattr__(self, "timed", self.since is not None or self.until is not None)
        record_level = (self.rpcs, self.subjects, self.roles, self.resources, self.revisions)
        object.__setattr__(self, "per_record", any(record_level))
        answer_level = (
            self.actions,
            self.decisions,
            self.articles,
            self.reasons,
            self.escalations,
            self.decision_ids,
        )
        object.__setattr__(self, "per_answer", any(answer_level))

    def _build_needles(self) -> tuple[tuple[bytes, ...], ...]:
        """For each active filter, byte strings of which a matching line contains at least one."""
        exact = (
            self.subjects,
            self.roles,
            self.resources,
            self.articles,
            self.reasons,
            self.escalations,
            self.rpcs,
        )
        groups = [
            tuple(n for v in sorted(values) for n in _literals(v)) for values in exact if values
        ]
        if self.revisions:
            # A prefix: the opening quote only.
            groups.append(tuple(n[:-1] for v in self.revisions for n in _literals(v)))
        if self.actions:
            # A ListAllowedActions record answers actions it does not name (denied ones).
            asked = (*self.actions, LIST_RPC)
            groups.append(tuple(n for v in asked for n in _literals(v)))
        if self.decision_ids:
            calls = sorted({_call_part(i) for i in self.decision_ids})
            groups.append(tuple(n for v in calls for n in _literals(v)))
        return tuple(groups)

    def line_may_match(self, raw: bytes) -> bool:
        """False when `raw` cannot hold a matching record (no JSON parsing needed)."""
        return all(any(n in raw for n in group) for group in self._needles)

    def time_matches(self, stamp: str) -> bool:
        since, until = self._since, self._until
        if since is None and until is None:
            return True
        key = _canonical(stamp)
        if key is None:
            return False
        return (since is None or key >= since) and (until is None or key < until)

    def record_matches(self, record: dict[str, Any]) -> bool:
        """The filters that concern the whole record (not one answer of it)."""
        if self.rpcs and record.get("rpc") not in self.rpcs:
            return False
        subject = _dict(_dict(record.get("input")).get("subject"))
        if self.subjects and subject.get("id") not in self.subjects:
            return False
        if self.roles and self.roles.isdisjoint(_roles(subject)):
            return False
        resource = _dict(_dict(record.get("input")).get("resource"))
        if self.resources and resource.get("id") not in self.resources:
            return False
        if self.revisions:
            revision = _revision(record)
            if not any(revision.startswith(prefix) for prefix in self.revisions):
                return False
        return True

    def answer_matches(self, answer: Answer) -> bool:
        """The filters that concern one answer."""
        return (
            (not self.actions or answer.action in self.actions)
            and (not self.decisions or answer.decision in self.decisions)
            and (not self.articles or not self.articles.isdisjoint(answer.articles))
            and (not self.reasons or not self.reasons.isdisjoint(answer.reasons))
            and (not self.escalations or answer.escalate in self.escalations)
            and (
                not self.decision_ids
                or answer.decision_id in self.decision_ids
                or answer.call_id in self.decision_ids
            )
        )

    def list_actions(self, record: dict[str, Any], allowed: Sequence[str]) -> list[str]:
        """The actions a ListAllowedActions record is asked about, in the order given."""
        call = str(record.get("decision_id", ""))
        asked = list(self.actions)
        asked += [i.partition("#")[2] for i in sorted(self.decision_ids) if _call_part(i) == call]
        answered = [
            a for a in asked if a and (self.catalog is None or a in self.catalog or a in allowed)
        ]
        return list(dict.fromkeys(answered))


def _literals(value: str) -> tuple[bytes, ...]:
    """`value` as a JSON string literal, as `records.dumps` writes it and as ASCII-escaped JSON."""
    plain = json.dumps(value, ensure_ascii=False).encode()
    escaped = json.dumps(value).encode()
    return (plain,) if plain == escaped else (plain, escaped)


def _call_part(decision_id: str) -> str:
    return decision_id.partition("#")[0]


def _time_key(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


def _canonical(stamp: str) -> str | None:
    """A record timestamp in the writer's fixed-width form, which sorts as text sorts."""
    if len(stamp) == _CANONICAL_TIME and stamp.endswith("Z"):
        return stamp
    try:
        return timestamp(records.parse_timestamp(stamp))
    except ValueError:
        return None


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date-time (naive means UTC) given to `option`."""
    try:
        return records.parse_timestamp(text)  # a date alone parses as its midnight
    except ValueError:
        raise QuanzeError(
            f"{option} {text!r} is not an ISO 8601 date or time; write e.g. 2026-11-01, "
            "2026-11-01T08:30 (UTC) or 2026-11-01T08:30+08:00"
        ) from None


# ---------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer in a decision record: a Check or CheckBatch record holds one, a
    ListAllowedActions record one per action asked about (or one for the whole call)."""

    timestamp: str
    decision_id: str
    call_id: str
    rpc: str
    subject: str
    roles: tuple[str, ...]
    action: str
    resource: str
    decision: str
    """One of "allow", "deny", "list" (a whole ListAllowedActions call), "dropped" (the mask
    policy dropped the input and result) or "?" (no boolean result)."""
    reasons: tuple[str, ...]
    articles: tuple[str, ...]
    escalate: str
    revision: str


def answers_of(record: dict[str, Any], filters: Filters) -> list[Answer]:
    """The answers `record` gives, before the answer filters."""
    request = _dict(record.get("input"))
    subject = _dict(request.get("subject"))
    decision_id = _text(record.get("decision_id"))
    rpc = _text(record.get("rpc"))
    timestamp = _text(record.get("timestamp"))
    subject_id = _text(subject.get("id"))
    roles = _roles(subject)
    resource = _text(_dict(request.get("resource")).get("id"))
    revision = _revision(record)
    result = record.get("result")
    if isinstance(result, dict) or (rpc == LIST_RPC and not record.get("dropped")):
        allowed = [str(a) for a in _list(_dict(result).get("allowed"))]
        asked = filters.list_actions(record, allowed)
        # One answer per asked action, or the whole call as one.
        answered = [(f"{decision_id}#{a}", a, "allow" if a in allowed else "deny") for a in asked]
        return [
            Answer(
                timestamp=timestamp,
                decision_id=answer_id,
                call_id=decision_id,
                rpc=rpc,
                subject=subject_id,
                roles=roles,
                action=action,
                resource=resource,
                decision=decision,
                reasons=(),
                articles=(),
                escalate="",
                revision=revision,
            )
            for answer_id, action, decision in answered or [(decision_id, "*", "list")]
        ]
    if record.get("dropped"):
        decision = "dropped"
    else:
        decision = "allow" if result is True else "deny" if result is False else "?"
    codes = tuple(_field(e, "code") for e in _list(record.get("reasons")))
    cited = [
        _field(e, "article")
        for key in ("reasons", "obligations", "accountable")
        for e in _list(record.get(key))
    ]
    return [
        Answer(
            timestamp=timestamp,
            decision_id=decision_id,
            call_id=decision_id,
            rpc=rpc,
            subject=subject_id,
            roles=roles,
            action=_text(_dict(request.get("action")).get("name")),
            resource=resource,
            decision=decision,
            reasons=codes,
            articles=tuple(a for a in dict.fromkeys(cited) if a),
            escalate=_text(record.get("escalate_to")),
            revision=revision,
        )
    ]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _field(entry: Any, name: str) -> str:
    """A text field of a reason/obligation/accountability entry ("" if not there)."""
    value = entry.get(name) if isinstance(entry, dict) else None
    return value if isinstance(value, str) else _text(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _roles(subject: dict[str, Any]) -> tuple[str, ...]:
    properties = _dict(subject.get("properties"))
    found = [properties.get("role"), *_list(properties.get("roles"))]
    return tuple(dict.fromkeys(r for r in found if isinstance(r, str) and r))


def _revision(record: dict[str, Any]) -> str:
    return _text(_dict(_dict(record.get("bundles")).get("quanze")).get("revision"))


# ---------------------------------------------------------------------------- scanning


@dataclass
class ScanCounts:
    """What a scan read and what it had to skip."""

    lines: int = 0
    partial: int = 0
    """Last lines with no newline: writes a crash cut short."""
    unreadable: int = 0
    """Lines that are not a JSON record."""
    vanished: list[str] = field(default_factory=list)
    """Files removed (by retention) between listing and reading them."""

    def report(self) -> list[str]:
        """What was skipped, one message a line, for stderr."""
        messages = []
        if self.partial or self.unreadable:
            parts = [
                f"{self.partial} partial (a write cut short)" if self.partial else "",
                f"{self.unreadable} not a JSON record" if self.unreadable else "",
            ]
            messages.append(
                f"skipped {self.partial + self.unreadable} of {self.lines:,} lines: "
                f"{', '.join(p for p in parts if p)}; `quanze logs verify` checks the log's "
                "integrity"
            )
        if self.vanished:
            messages.append(
                f"{len(self.vanished)} file(s) removed before they could be read (retention): "
                + ", ".join(self.vanished)
            )
        return messages


@dataclass(frozen=True)
class Match:
    """A decision record that matched, with its matching answers."""

    raw: bytes
    """The line exactly as stored, without its newline."""
    record: dict[str, Any]
    answers: list[Answer]
    order: str = field(compare=False)
    """Its timestamp, canonical: the merge key across streams."""


def scan_stream(
    files: Iterable[LogFile],
    filters: Filters,
    counts: ScanCounts,
    progress: Progress | None = None,
) -> Iterator[Match]:
    """The matching decision records of `files` (one stream), in the order written."""
    for log_file in files:
        for line in _lines(log_file, counts, progress):
            counts.lines += 1
            if not line.complete:
                counts.partial += 1
                continue
            record = _decision_record(line.raw, filters, counts)
            if record is None or (filters.per_record and not filters.record_matches(record)):
                continue
            found = answers_of(record, filters)
            if filters.per_answer:
                found = [a for a in found if filters.answer_matches(a)]
            if found:
                stamp = _text(record.get("timestamp"))
                yield Match(line.raw, record, found, _canonical(stamp) or stamp)


def _lines(log_file: LogFile, counts: ScanCounts, progress: Progress | None) -> Iterator[Line]:
    """The file's lines. On a live log a file listed plain may since have been gzipped, or
    retention may have removed it; only opening can fail so (an open file stays readable)."""
    candidates = [log_file]
    if not log_file.compressed:
        candidates.append(
            replace(log_file, path=log_file.path.with_name(log_file.path.name + ".gz"))
        )
    for candidate in candidates:
        try:
            yield from read_lines(candidate, progress)
        except FileNotFoundError:
            continue
        return
    counts.vanished.append(log_file.path.name)


def _decision_record(raw: bytes, filters: Filters, counts: ScanCounts) -> dict[str, Any] | None:
    """The decision record on a line if its time and needles can match, else None."""
    head = _HEAD.match(raw)
    if head is not None:
        # Type and time straight from the bytes: most lines end here unparsed.
        if head[1] != b"decision":
            return None
        if filters.timed and not filters.time_matches(head[2].decode()):
            return None
    elif not (raw.startswith(b"{") and raw.endswith(b"}")):
        counts.unreadable += 1
        return None
    if not filters.line_may_match(raw):
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        counts.unreadable += 1
        return None
    if not isinstance(record, dict):
        counts.unreadable += 1
        return None
    if head is None and (
        record.get("type") != records.DECISION
        or not filters.time_matches(_text(record.get("timestamp")))
    ):
        return None
    return record


def scan(
    streams: dict[str, list[LogFile]],
    filters: Filters,
    counts: ScanCounts,
    progress: Progress | None = None,
    *,
    merge: bool = True,
) -> Iterator[Match]:
    """Every stream's matches; with `merge`, interleaved in time order across streams
    (each stream is read in its own order, so memory stays one pending match per stream)."""
    scans = [scan_stream(files, filters, counts, progress) for files in streams.values()]
    if merge and len(scans) > 1:
        return heapq.merge(*scans, key=lambda match: match.order)
    return (match for one in scans for match in one)


# ---------------------------------------------------------------------------- output


class _Out:
    """UTF-8 text or exact bytes to standard output, whatever its encoding."""

    def __init__(self, stream: TextIO) -> None:
        self._text = stream
        self._bytes = getattr(stream, "buffer", None)
        self._text.flush()

    def write(self, text: str) -> int:
        if self._bytes is None:
            return self._text.write(text)
        return int(self._bytes.write(text.encode()))

    def write_bytes(self, data: bytes) -> None:
        if self._bytes is None:
            self._text.write(data.decode(errors="replace"))
        else:
            self._bytes.write(data)

    def flush(self) -> None:
        (self._bytes or self._text).flush()


def _row(answer: Answer, *, full: bool) -> list[str]:
    if full:
        when, ident, revision = answer.timestamp, answer.decision_id, answer.revision
        separator = ";"
    else:
        when = answer.timestamp[:19].replace("T", " ")
        call = answer.call_id[:8]
        ident = call + "#" if answer.decision_id != answer.call_id else call
        revision = answer.revision[:12]
        separator = ","
    return [
        when,
        ident,
        answer.subject,
        separator.join(answer.roles),
        answer.action,
        answer.resource,
        answer.decision,
        separator.join(answer.reasons),
        separator.join(answer.articles),
        answer.escalate,
        revision,
    ]


def _display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, width: int) -> str:
    """`text` cut (with …) or padded to `width` terminal columns; CJK characters count two."""
    used = _display_width(text)
    if used > width:
        kept, used = [], 0
        for char in text:
            size = _display_width(char)
            if used + size > width - 1:
                break
            kept.append(char)
            used += size
        text = "".join(kept) + "…"
        used += 1
    return text + " " * (width - used)


class _Table:
    """Aligned columns, streamed: widths come from the first rows, later rows are cut to fit."""

    def __init__(self, out: _Out, headers: Sequence[str], caps: Sequence[int]) -> None:
        self._out = out
        self._headers = list(headers)
        self._caps = list(caps)
        self._pending: list[list[str]] | None = []
        self._widths: list[int] = []

    def add(self, row: list[str]) -> None:
        if self._pending is None:
            self._emit(row)
            return
        self._pending.append(row)
        if len(self._pending) >= _WIDTH_SAMPLE:
            self.flush()

    def flush(self) -> None:
        if self._pending is None:
            return
        rows, self._pending = self._pending, None
        self._widths = [
            min(cap, max(_display_width(r[i]) for r in [self._headers, *rows]))
            for i, cap in enumerate(self._caps)
        ]
        self._emit(self._headers)
        for row in rows:
            self._emit(row)

    def _emit(self, row: list[str]) -> None:
        cells = [_fit(cell, width) for cell, width in zip(row, self._widths, strict=True)]
        self._out.write("  ".join(cells).rstrip() + "\n")


# ---------------------------------------------------------------------------- commands


def register(logs_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `query` and `stats` to the `quanze logs` commands."""
    query_parser = logs_commands.add_parser(
        "query",
        help="list the decision records that match filters",
        description=_QUERY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(query_parser)
    query_parser.add_argument(
        "--format",
        choices=("table", "jsonl", "csv"),
        default="table",
        help="table (default, readable), jsonl (the records exactly as stored) or csv "
        "(the table's columns, full values)",
    )
    query_parser.add_argument(
        "--limit", type=_positive, metavar="N", help="stop after N matching records"
    )
    query_parser.set_defaults(run=run_query)

    stats_parser = logs_commands.add_parser(
        "stats",
        help="count the matching decisions by action, role, decision, article, day …",
        description=_STATS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(stats_parser)
    stats_parser.add_argument(
        "--by",
        action="append",
        choices=STATS_DIMENSIONS,
        metavar="WHAT",
        help=f"count by WHAT: {', '.join(STATS_DIMENSIONS)} (repeatable; default "
        f"{' '.join(DEFAULT_STATS)})",
    )
    stats_parser.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )
    stats_parser.set_defaults(run=run_stats)


_FILTER_HELP = """
Filters combine with AND; a filter given more than once matches any of its values (OR), e.g.
`--action a --action b`. Times are ISO 8601: a date alone is midnight UTC, a time without an
offset is UTC; --until is exclusive.

A ListAllowedActions record answers every catalog action at once (`result.allowed` lists the
allowed ones). With --action (or --decision-id <call id>#<action>) it gives one answer per asked
action, allowed iff listed; without, one answer for the whole call (action `*`, decision `list`)
that --decision, --reason, --article and --escalate do not match.
"""
_QUERY_HELP = (
    "List the decision records of a log directory (every stream, plain and gzip files) that "
    "match the filters, in time order across streams.\n"
    + _FILTER_HELP
    + """
Formats: table (one row per answer; ids, revisions and long cells cut to fit), csv (the same
columns with full values, UTF-8) and jsonl (each matching record exactly as stored). --limit
counts records.

examples:
  quanze logs query /var/log/quanze --case C2026-0042
  quanze logs query /var/log/quanze --subject p-zhang --since 2026-11-01 --until 2026-12-01
  quanze logs query /var/log/quanze --decision deny --article 十七 --format csv > denials.csv
"""
)
_STATS_HELP = (
    "Count the matching decisions of a log directory: totals (records, allowed, denied, "
    "escalated, the time range covered) and counts by action, role, decision, article and day, "
    "or what --by names.\n"
    + _FILTER_HELP
    + """
A record with several roles, reasons or articles counts once under each.

examples:
  quanze logs stats /var/log/quanze
  quanze logs stats /var/log/quanze --since 2026-11-01 --by reason --by revision --format json
"""
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="the decision-log directory")
    group = parser.add_argument_group("filters")
    group.add_argument("--since", metavar="TIME", help="records at or after TIME")
    group.add_argument("--until", metavar="TIME", help="records before TIME (exclusive)")
    repeatable: list[tuple[tuple[str, ...], str, str, str]] = [
        (("--subject",), "subjects", "ID", "input.subject.id"),
        (("--role",), "roles", "ROLE", "input.subject.properties.role, or any of .roles"),
        (("--resource", "--case"), "resources", "ID", "input.resource.id (e.g. the case id)"),
        (
            ("--action",),
            "actions",
            "NAME",
            "input.action.name, or an action a ListAllowedActions call answered",
        ),
        (
            ("--article",),
            "articles",
            "ART",
            "an article cited by a reason, obligation or "
            "accountability entry, exactly as written (e.g. 十七)",
        ),
        (("--reason",), "reasons", "CODE", "a reason code"),
        (("--revision",), "revisions", "REV", "the policy revision, or its first characters"),
        (
            ("--decision-id",),
            "decision_ids",
            "ID",
            "a decision id, a ListAllowedActions call "
            "id, or one of its answer ids <call id>#<action>",
        ),
    ]
    for flags, dest, metavar, help_text in repeatable:
        group.add_argument(*flags, dest=dest, metavar=metavar, action="append", help=help_text)
    group.add_argument("--decision", dest="decisions", action="append", choices=("allow", "deny"))
    group.add_argument(
        "--escalate", dest="escalations", action="append", choices=("chief", "committee")
    )
    group.add_argument("--rpc", dest="rpcs", action="append", choices=RPCS)
    parser.add_argument(
        "--policies",
        metavar="DIR",
        help="policies whose catalog ListAllowedActions calls answered (default: the bundled "
        "ones); only consulted with --action or an answer id",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )


def filters_from(args: argparse.Namespace) -> Filters:
    """The `Filters` the command-line options ask for; raises `QuanzeError` for bad values."""
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    if since is not None and until is not None and since >= until:
        raise QuanzeError(
            f"--since {args.since} is not before --until {args.until}: no record could match; "
            "swap them or widen the range"
        )
    actions = tuple(dict.fromkeys(args.actions or ()))
    ids = frozenset(args.decision_ids or ())
    catalog = None
    if actions or any("#" in i for i in ids):
        catalog = _catalog(args.policies, actions)
    return Filters(
        since=since,
        until=until,
        subjects=frozenset(args.subjects or ()),
        roles=frozenset(args.roles or ()),
        resources=frozenset(args.resources or ()),
        actions=actions,
        decisions=frozenset(args.decisions or ()),
        articles=frozenset(args.articles or ()),
        reasons=frozenset(args.reasons or ()),
        escalations=frozenset(args.escalations or ()),
        revisions=tuple(dict.fromkeys(args.revisions or ())),
        decision_ids=ids,
        rpcs=frozenset(args.rpcs or ()),
        catalog=catalog,
    )


def _catalog(policies: str | None, actions: Sequence[str]) -> frozenset[str] | None:
    """The action catalog ListAllowedActions calls answered; warns of asked actions not in it."""
    # Imported here: the policies (and their schema tooling) are only needed with --action.
    from quanze.server.policy.bundle import load_bundle  # noqa: PLC0415

    try:
        catalog = frozenset(load_bundle(Path(policies) if policies else None).actions)
    except QuanzeError as exc:
        if policies:
            raise QuanzeError(f"--policies {policies}: {exc}") from exc
        _warn(
            f"cannot read the bundled catalog ({exc}); ListAllowedActions calls are taken "
            "to answer every action asked about"
        )
        return None
    for action in actions:
        if action not in catalog:
            _warn(
                f"action {action!r} is not in the catalog{did_you_mean(action, sorted(catalog))} "
                "(only records that name it "
                "can match)"
            )
    return catalog


def _warn(message: str) -> None:
    print(f"quanze logs: {message}", file=sys.stderr)


def _streams(directory: str) -> dict[str, list[LogFile]]:
    streams = records.list_streams(log_directory(directory))
    if not streams:
        _warn(f"{directory} holds no decision-log files (decisions-<stream>-<n>-<time>.jsonl[.gz])")
    return streams


def _progress(streams: dict[str, list[LogFile]], label: str, enabled: bool | None) -> Progress:
    return progress_for([f for files in streams.values() for f in files], label, enabled)


def run_query(args: argparse.Namespace) -> int:
    """`quanze logs query`: print the matching records; 0 whether or not any matched."""
    filters = filters_from(args)
    streams = _streams(args.directory)
    counts = ScanCounts()
    progress = _progress(streams, "quanze logs query", args.progress)
    out = _Out(sys.stdout)
    emit = _emitter(args.format, out)
    matched = 0
    started = time.monotonic()
    try:
        for match in scan(streams, filters, counts, progress):
            emit(match)
            matched += 1
            if args.limit is not None and matched >= args.limit:
                break
        emit(None)
    finally:
        out.flush()
        progress.finish()
    if args.format == "table":
        if matched:
            limited = (
                " (--limit reached)" if args.limit is not None and matched >= args.limit else ""
            )
            _warn(f"{matched:,} matching records{limited} in {time.monotonic() - started:.1f} s")
        else:
            _warn("no matching records")
    for message in counts.report():
        _warn(message)
    return 0


def _emitter(kind: str, out: _Out) -> Callable[[Match | None], None]:
    """Writes one match (None: the end) in the chosen format."""
    if kind == "jsonl":

        def jsonl(match: Match | None) -> None:
            if match is not None:
                out.write_bytes(match.raw + b"\n")

        return jsonl
    if kind == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(TABLE_COLUMNS)

        def csv_rows(match: Match | None) -> None:
            if match is not None:
                writer.writerows(_row(a, full=True) for a in match.answers)

        return csv_rows
    headers = [c.replace("decision_id", "id").replace("time", "time (UTC)") for c in TABLE_COLUMNS]
    table = _Table(out, headers, [_COLUMN_CAPS[c] for c in TABLE_COLUMNS])
    seen = False

    def table_rows(match: Match | None) -> None:
        nonlocal seen
        if match is None:
            if seen:
                table.flush()
            return
        seen = True
        for answer in match.answers:
            table.add(_row(answer, full=False))

    return table_rows


# ---------------------------------------------------------------------------- stats


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


_NONE = "(none)"


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
    return values or [_NONE]


def run_stats(args: argparse.Namespace) -> int:
    """`quanze logs stats`: totals and counts of the matching answers; exit 0."""
    filters = filters_from(args)
    streams = _streams(args.directory)
    stats = Stats(tuple(dict.fromkeys(args.by or DEFAULT_STATS)))
    counts = ScanCounts()
    progress = _progress(streams, "quanze logs stats", args.progress)
    try:
        for match in scan(streams, filters, counts, progress, merge=False):
            stats.add(match)
    finally:
        progress.finish()
    out = _Out(sys.stdout)
    if args.format == "json":
        document = {
            "totals": stats.totals(),
            "by": {k: dict(v) for k, v in stats.sections().items()},
        }
        out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("section", "key", "value"))
        writer.writerows(("total", key, value) for key, value in stats.totals().items())
        for dimension, rows in stats.sections().items():
            writer.writerows((dimension, key, count) for key, count in rows)
    else:
        _stats_table(out, stats)
        if not stats.records:
            _warn("no matching records")
    out.flush()
    for message in counts.report():
        _warn(message)
    return 0


def _stats_table(out: _Out, stats: Stats) -> None:
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
        width = max([_display_width(k) for k, _ in rows] + [len(dimension) + 3, 12])
        width = min(width, 60)
        out.write(f"\n{_fit('by ' + dimension, width)}  {'count':>10}  {'share':>7}\n")
        for key, count in rows:
            out.write(f"{_fit(key, width)}  {count:>10,}  {share(count):>7}\n")
