"""How `quanze logs query` prints matches: an aligned table, csv or the stored lines (jsonl).

`Output` writes UTF-8 text or exact bytes to standard output, whatever its encoding; `fit` and
`display_width` size cells in terminal columns (CJK characters count two), as `stats` does too.

A record holds whatever its caller sent. In a table, `printable` shows control characters and
Unicode formatting characters (the bidirectional ones among them) as escapes, so that no record
can move the cursor, forge a line of output or reorder the text around it on a terminal. csv
and jsonl keep the values exact, for programs.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Sequence
from typing import TextIO

from quanze.server.decisionlog.query import Answer, Match

_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
"""Unicode categories shown as escapes: controls, formatting (bidi embeddings, overrides and
isolates, marks such as U+200E and U+061C, zero-width characters), surrogates, private use,
unassigned, line and paragraph separators."""

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


class Output:
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


def printable(text: str) -> str:
    """`text` with every character of a `_HIDDEN` category as an escape (`\\x1b`, `\\u202e`)."""
    if text.isprintable():
        return text  # the usual case; isprintable() is False for every hidden category
    return "".join(
        _escape(char) if unicodedata.category(char) in _HIDDEN else char for char in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fit(text: str, width: int) -> str:
    """`text` cut (with …) or padded to `width` terminal columns; CJK characters count two."""
    used = display_width(text)
    if used > width:
        kept, used = [], 0
        for char in text:
            size = display_width(char)
            if used + size > width - 1:
                break
            kept.append(char)
            used += size
        text = "".join(kept) + "…"
        used += 1
    return text + " " * (width - used)


class _Table:
    """Aligned columns, streamed: widths come from the first rows, later rows are cut to fit."""

    def __init__(self, out: Output, headers: Sequence[str], caps: Sequence[int]) -> None:
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
            min(cap, max(display_width(r[i]) for r in [self._headers, *rows]))
            for i, cap in enumerate(self._caps)
        ]
        self._emit(self._headers)
        for row in rows:
            self._emit(row)

    def _emit(self, row: list[str]) -> None:
        cells = [fit(cell, width) for cell, width in zip(row, self._widths, strict=True)]
        self._out.write("  ".join(cells).rstrip() + "\n")


def match_writer(kind: str, out: Output) -> Callable[[Match | None], None]:
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
            table.add([printable(cell) for cell in _row(answer, full=False)])

    return table_rows
