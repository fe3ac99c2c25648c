"""What the compliance report shows, counted from matching records (`quanze logs report`).

`ReportData` takes the matches of a scan — from files (`query.scan`) or the central store, it
does not care which — and counts them with `stats.Stats`, so every number equals what
`quanze logs stats` gives for the same filters: the totals; denials by article and role
(`logs stats --decision deny --by article --by role`); escalations (`--escalate chief`). What
stats does not count it adds here: decisions over time, decisions taken under a delegation
(四十六), and who answers for what (the `accountable` entries). `document` turns it all, with
the verification verdict and the records lost or refused, into the JSON the page draws.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from quanze.server.decisionlog.losses import Losses
from quanze.server.decisionlog.query import Answer, Match, text_of
from quanze.server.decisionlog.records import parse_timestamp
from quanze.server.decisionlog.stats import Stats
from quanze.server.decisionlog.verify_report import VerifyReport
from quanze.server.policy.bundle import bundled_policy_dir

# The reason codes the policies give an act done under the chief's 四十六 delegation (a deputy
# chief or full-time committee member acting as the chief would), or approved or referred by
# such a delegate. A test keeps them in the bundled messages.
DELEGATED_CODES = frozenset(
    {
        "delegate_decides_for_chief",
        "delegate_approves_for_chief",
        "delegate_designates_lead",
        "delegate_acts_for_chief",
        "approved_by_delegate",
        "referred_by_delegate",
    }
)
TOP = 20
"""Rows of the "most denied" tables."""
MAX_ROWS = 1000
"""Rows of the delegation and accountability tables (the most frequent; the rest counted)."""
MAX_LISTED = 200
"""Verification problems listed in the page (the rest counted)."""
_HOURLY_UP_TO = timedelta(days=3)
_MAX_BUCKETS = 1000
_DIGITS = "一二三四五六七八九"


@dataclass(frozen=True)
class About:
    """What the report is of: the header."""

    source: str
    """The log directory, or the database (without its password)."""
    since: datetime | None
    until: datetime | None
    filters: tuple[str, ...]
    """The other filters, as given on the command line."""
    version: str
    generated: datetime


class ReportData:
    """Counts of the matches `add`ed."""

    def __init__(self) -> None:
        self.stats = Stats(())  # its totals and time span; the sections below count
        self.denied = Stats(("article", "role", "subject", "resource"))
        self.escalated = Stats(("escalate", "action"))
        self.per_hour: Counter[tuple[str, str]] = Counter()
        self.delegated: Counter[tuple[str, str, str, str, str, str]] = Counter()
        self.accountable: Counter[tuple[str, str, str, str]] = Counter()

    def add(self, match: Match) -> None:
        self.stats.add(match)
        answers = match.answers
        denied = [a for a in answers if a.decision == "deny"]
        if denied:
            self.denied.add(replace(match, answers=denied))
        escalated = [a for a in answers if a.escalate]
        if escalated:
            self.escalated.add(replace(match, answers=escalated))
        for answer in answers:
            if answer.decision in ("allow", "deny"):
                self.per_hour[answer.timestamp[:13], answer.decision] += 1
        if answers[0].decision not in ("allow", "deny"):
            return  # a listing, or a record the mask policy dropped: no reasons of its own
        self._delegated(answers[0], match.record)
        for entry in _entries(match.record, "accountable"):
            key = ("subject_id", "capacity", "responsibility", "article")
            self.accountable[tuple(text_of(entry.get(k)) for k in key)] += 1  # type: ignore[index]

    def _delegated(self, answer: Answer, record: dict[str, Any]) -> None:
        for reason in _entries(record, "reasons"):
            code = text_of(reason.get("code"))
            if code in DELEGATED_CODES:
                role = answer.roles[0] if answer.roles else ""
                grounds = text_of(reason.get("message_zh"))
                key = (answer.subject, role, answer.action, answer.decision, code, grounds)
                self.delegated[key] += 1

    def document(self, about: About, verify: VerifyReport, losses: Losses) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready data."""
        names = catalog_names()
        denied, escalated = self.denied.sections(), self.escalated.sections()
        return {
            "about": {
                "source": about.source,
                "since": _utc(about.since),
                "until": _utc(about.until),
                "filters": list(about.filters),
                "version": about.version,
                "generated": _utc(about.generated),
            },
            "totals": self.stats.totals(),
            "verification": _verification(verify),
            "losses": {
                "records_lost": losses.records_lost,
                "records_refused": losses.records_refused,
                "writer_runs": losses.runs,
                "lost_with_directory": sum(s.lost for s in verify.streams.values()),
            },
            "timeline": self._timeline(about),
            "denied_by_article": [[article_cell(k), n] for k, n in denied["article"]],
            "denied_by_role": [[_named(k, names["roles"]), n] for k, n in denied["role"]],
            "escalations": [[k, n] for k, n in escalated["escalate"] if k in ESCALATIONS],
            "escalated_actions": [[_named(k, names["actions"]), n] for k, n in escalated["action"]],
            "delegated": [
                [s, _named(r, names["roles"]), _named(a, names["actions"]), _word(d), c, g, n]
                for (s, r, a, d, c, g), n in self.delegated.most_common(MAX_ROWS)
            ],
            "accountable": [
                [_who(s), _named(c, names["roles"]), _word(r), article_cell(a), n]
                for (s, c, r, a), n in self.accountable.most_common(MAX_ROWS)
            ],
            "unlisted": {
                "delegated": max(0, len(self.delegated) - MAX_ROWS),
                "accountable": max(0, len(self.accountable) - MAX_ROWS),
            },
            "top_denied_subjects": denied["subject"][:TOP],
            "top_denied_cases": denied["resource"][:TOP],
        }

    def _timeline(self, about: About) -> dict[str, Any]:
        """Allowed and denied answers per hour when the period is short, else per day."""
        first = about.since or _moment(self.stats.first)
        last = about.until or _moment(self.stats.last)
        hourly = first is not None and last is not None and last - first <= _HOURLY_UP_TO
        width = 13 if hourly else 10
        counts: Counter[tuple[str, str]] = Counter()
        for (hour, decision), n in self.per_hour.items():
            counts[hour[:width], decision] += n
        buckets = sorted({bucket for bucket, _ in counts})
        if buckets:
            buckets = _continuous(buckets, hourly)
        return {
            "unit": "hour" if hourly else "day",
            "labels": [b.replace("T", " ") + (":00" if hourly else "") for b in buckets],
            "allowed": [counts[b, "allow"] for b in buckets],
            "denied": [counts[b, "deny"] for b in buckets],
        }


ESCALATIONS = ("chief", "committee")


def _verification(verify: VerifyReport) -> dict[str, Any]:
    listed = [*verify.problems, *verify.lost, *verify.reopens]
    return {
        "verdict": verify.verdict,
        "summary": verify.render().rsplit("\n", 1)[-1],
        "problems": [
            {"kind": p.kind, "location": p.location, "seq": p.seq, "message": p.message}
            for p in listed[:MAX_LISTED]
        ],
        "unlisted": verify.omitted + max(0, len(listed) - MAX_LISTED),
        "notes": list(verify.notes),
        "anchors": [str(a) for a in verify.anchors()],
        "streams": [
            [
                s.stream,
                s.records,
                f"{s.first_seq}..{s.last_seq}" if s.last_seq is not None else "",
                s.files,
                s.checkpoints,
                s.last_checkpoint_time or "",
                s.problems,
            ]
            for s in verify.streams.values()
        ],
    }


def _continuous(buckets: list[str], hourly: bool) -> list[str]:
    """Every hour (day) from the first bucket to the last, so the time axis has no jumps."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    pattern = "%Y-%m-%dT%H" if hourly else "%Y-%m-%d"
    start = datetime.strptime(buckets[0], pattern).replace(tzinfo=UTC)
    end = datetime.strptime(buckets[-1], pattern).replace(tzinfo=UTC)
    if (end - start) / step >= _MAX_BUCKETS:
        return buckets
    filled = []
    while start <= end:
        filled.append(start.strftime(pattern))
        start += step
    return filled


def article_number(article: str) -> int | None:
    """The number an article's Chinese numeral (as the Opinion writes it, 一…四十八) stands for."""
    tens, ten, units = article.partition("十")
    if not ten:
        return _DIGITS.index(article) + 1 if len(article) == 1 and article in _DIGITS else None
    if len(tens) > 1 or len(units) > 1 or any(c not in _DIGITS for c in tens + units):
        return None
    return (_DIGITS.index(tens) + 1 if tens else 1) * 10 + (
        _DIGITS.index(units) + 1 if units else 0
    )


def article_cell(article: str) -> dict[str, Any]:
    """An article as the Opinion numbers it (十七 in full-width parentheses), with its number
    to sort by."""
    number = article_number(article)
    if number is None:
        return {"t": article, "s": 10_000}  # not an article numeral, e.g. "(none)"
    return {"t": f"（{article}）", "sub": f"Art. {number}", "s": number}  # noqa: RUF001


def catalog_names() -> dict[str, dict[str, str]]:
    """The Chinese names of roles and actions in the bundled catalog (empty if unreadable)."""
    try:
        path = bundled_policy_dir() / "quanze" / "catalog" / "data.json"
        catalog = json.loads(path.read_text(encoding="utf-8"))
        return {
            kind: {key: str(entry.get("zh", "")) for key, entry in catalog[kind].items()}
            for kind in ("roles", "actions")
        }
    except (OSError, ValueError, KeyError, AttributeError):
        return {"roles": {}, "actions": {}}


def _named(key: str, names: dict[str, str]) -> dict[str, Any]:
    """A role or action id with its Chinese name, sorted by the id."""
    name = names.get(key)
    return {"t": name, "sub": key, "s": key} if name else {"t": key, "s": key}


# Words of the records, shown in Chinese with the word itself below.
_WORDS = {
    "allow": "允许",
    "deny": "拒绝",
    "judicial": "司法责任",
    "supervisory": "监督管理责任",
}


def _word(word: str) -> dict[str, Any] | str:
    return {"t": _WORDS[word], "sub": word, "s": word} if word in _WORDS else word


def _who(subject_id: str) -> dict[str, Any] | str:
    """An accountable subject; "" when only the capacity is known."""
    return subject_id or {"t": "（仅知身份）", "sub": "role only", "s": ""}  # noqa: RUF001


def _entries(record: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = record.get(key)
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _moment(stamp: str) -> datetime | None:
    try:
        return parse_timestamp(stamp) if stamp else None
    except ValueError:
        return None


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""
