"""Selecting decision records: the filters, the answers a record gives, and the scan.

`quanze logs query` and `quanze logs stats` (`quanze.server.cli.logs`) answer compliance
questions with these. A scan streams every file of every stream (plain and gzip) one line at a
time, so memory stays constant however large the log is. Only `decision` records are considered;
`start` and `checkpoint` records are skipped, and lines that are not records (a write cut short
by a crash, damage) are skipped and counted (`ScanCounts`). Unless told not to, the scan follows
each stream's hash chain as it reads (`chain_watch`) and counts where it breaks; `quanze logs
verify` is the tool that judges a log's integrity and says what happened there.

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

import heapq
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quanze.server.clock import timestamp
from quanze.server.decisionlog import records
from quanze.server.decisionlog.chain_watch import Breaks, ChainWatch
from quanze.server.decisionlog.reader import Line, Progress, read_lines
from quanze.server.decisionlog.records import LogFile
from quanze.server.errors import QuanzeError

RPCS = (
    "Check",
    "CheckBatch",
    "ListAllowedActions",
    "AuthZEN.evaluation",
    "AuthZEN.evaluations",
    "AuthZEN.search_action",
)
# The calls whose record answers a whole catalog (gRPC, and its AuthZEN action search).
LIST_RPCS = ("ListAllowedActions", "AuthZEN.search_action")

# The writer's line prefix (`records.dumps` of a record built by `StreamWriter._chain`).
_HEAD = re.compile(rb'\{"type":"(\w+)","seq":\d+,"timestamp":"([^"\\]*)"')
_CANONICAL_TIME = len("2026-11-01T00:00:00.000000Z")


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
            asked = (*self.actions, *LIST_RPCS)
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
    decision_id = text_of(record.get("decision_id"))
    rpc = text_of(record.get("rpc"))
    timestamp = text_of(record.get("timestamp"))
    subject_id = text_of(subject.get("id"))
    roles = _roles(subject)
    resource = text_of(_dict(request.get("resource")).get("id"))
    revision = _revision(record)
    result = record.get("result")
    if isinstance(result, dict) or (rpc in LIST_RPCS and not record.get("dropped")):
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
            action=text_of(_dict(request.get("action")).get("name")),
            resource=resource,
            decision=decision,
            reasons=codes,
            articles=tuple(a for a in dict.fromkeys(cited) if a),
            escalate=text_of(record.get("escalate_to")),
            revision=revision,
        )
    ]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _field(entry: Any, name: str) -> str:
    """A text field of a reason/obligation/accountability entry ("" if not there)."""
    value = entry.get(name) if isinstance(entry, dict) else None
    return value if isinstance(value, str) else text_of(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text_of(value: Any) -> str:
    """A record's value as text: itself if a string, \"\" if missing, else `str` of it."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def _roles(subject: dict[str, Any]) -> tuple[str, ...]:
    properties = _dict(subject.get("properties"))
    found = [properties.get("role"), *_list(properties.get("roles"))]
    return tuple(dict.fromkeys(r for r in found if isinstance(r, str) and r))


def _revision(record: dict[str, Any]) -> str:
    return text_of(_dict(_dict(record.get("bundles")).get("quanze")).get("revision"))


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
    breaks: Breaks | None = field(default_factory=Breaks)
    """Where the hash chain of what was read breaks; None when it was not checked."""

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
        if self.breaks is not None and self.breaks.count:
            count = self.breaks.count
            more = count - len(self.breaks.listed)
            places = ", ".join(self.breaks.listed) + (f" and {more:,} more" if more else "")
            messages.append(
                f"WARNING: the hash chain breaks in {count:,} place{'' if count == 1 else 's'}: "
                f"{places}. A record there or just before was changed, removed, inserted or "
                "moved, or a write failed: do not trust these results until `quanze logs "
                "verify` says what happened"
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
    """The matching decision records of `files` (one stream), in the order written; every
    line's place in the chain is checked on the way (into `counts.breaks`)."""
    watch = ChainWatch(counts.breaks) if counts.breaks is not None else None
    for log_file in files:
        vanished = len(counts.vanished)
        for line in _lines(log_file, counts, progress):
            counts.lines += 1
            if not line.complete:
                counts.partial += 1
                continue
            if watch is not None:
                watch.see(line)
            match = match_of(line.raw, filters, counts)
            if match is not None:
                yield match
        if watch is not None and len(counts.vanished) > vanished:
            watch.restart()


def match_of(raw: bytes, filters: Filters, counts: ScanCounts) -> Match | None:
    """The match a complete line makes, or None (a line that is not a record is counted).
    The one place that decides, for files and the central store alike."""
    record = _decision_record(raw, filters, counts)
    if record is None or (filters.per_record and not filters.record_matches(record)):
        return None
    found = answers_of(record, filters)
    if filters.per_answer:
        found = [a for a in found if filters.answer_matches(a)]
    if not found:
        return None
    stamp = text_of(record.get("timestamp"))
    return Match(raw, record, found, _canonical(stamp) or stamp)


def _lines(log_file: LogFile, counts: ScanCounts, progress: Progress | None) -> Iterator[Line]:
    """The file's lines. On a live log a file listed plain may since have been gzipped, or
    retention may have removed it; only opening can fail so (an open file stays readable)."""
    for candidate in log_file.as_found():
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
        or not filters.time_matches(text_of(record.get("timestamp")))
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
    return merged(scans, merge=merge)


def merged(scans: Sequence[Iterator[Match]], *, merge: bool) -> Iterator[Match]:
    """Streams' matches one stream after another, or interleaved in time order (ties go to
    the stream listed first): files and the central store merge alike."""
    if merge and len(scans) > 1:
        return heapq.merge(*scans, key=lambda match: match.order)
    return (match for one in scans for match in one)
