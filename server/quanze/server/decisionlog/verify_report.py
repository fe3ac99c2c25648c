"""What `quanze logs verify` found: problems, notes and stream summaries, for people and JSON.

While a stream's chain is followed, its `Findings` collect what is wrong (`Problem`, the first
`MAX_PROBLEMS` listed, the rest counted) and what is worth noting; `VerifyReport` gathers every
stream's and renders them as text (`render`) or JSON (`to_json`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quanze.server.decisionlog.verify_lines import Entry
from quanze.server.errors import QuanzeError

KINDS = ("modified", "deleted", "inserted", "reordered", "truncated", "signature", "malformed")

MAX_PROBLEMS = 1000
"""Problems listed per stream; more are counted (a wrecked log must not exhaust memory)."""

_ANCHOR = re.compile(r"^(?P<stream>[a-z0-9]+):(?P<seq>[0-9]+):(?P<hash>[0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class Problem:
    """One place where the log is not as the writer left it."""

    kind: str
    """One of `KINDS`."""
    stream: str
    file: str | None
    """The file's name (in the log directory), or None when the problem has no one place."""
    line: int | None
    """1-based line in `file`."""
    seq: int | None
    """The record concerned (for deletions: the first missing one)."""
    message: str

    @property
    def location(self) -> str:
        if self.file is None:
            return self.stream
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass
class StreamSummary:
    """What one stream holds, as verified."""

    stream: str
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    files: int = 0
    bytes: int = 0
    checkpoints: int = 0
    last_hash: str = ""
    """Hash of the last complete record: keep it as an `--anchor` for the next run."""
    last_checkpoint_seq: int | None = None
    last_checkpoint_time: str | None = None
    last_checkpoint_reason: str | None = None
    closed: bool = False
    """The stream ends with a shutdown checkpoint."""
    problems: int = 0


@dataclass(frozen=True)
class Anchor:
    """A record's hash noted down earlier: `STREAM:SEQ:HASH`."""

    stream: str
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.stream}:{self.seq}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """An `Anchor` from `STREAM:SEQ:HASH`; raises `QuanzeError` naming the expected form."""
    match = _ANCHOR.match(text.strip())
    if not match or int(match["seq"]) < 1:
        raise QuanzeError(
            f"--anchor {text!r}: expected STREAM:SEQ:HASH, e.g. w0:12345:3f5a…(64 hex digits), "
            "as printed by an earlier `quanze logs verify` on its `anchor` lines"
        )
    return Anchor(match["stream"], int(match["seq"]), match["hash"].lower())


@dataclass
class VerifyReport:
    """The outcome of verifying a log directory."""

    directory: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    streams: dict[str, StreamSummary] = field(default_factory=dict)
    omitted: int = 0
    """Problems found but not listed (beyond `MAX_PROBLEMS` per stream)."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.omitted

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.omitted

    def anchors(self) -> list[Anchor]:
        """The last record of every stream that verified intact, to keep for the next run."""
        return [
            Anchor(s.stream, s.last_seq, s.last_hash)
            for s in self.streams.values()
            if s.last_seq is not None and not s.problems
        ]

    def render(self) -> str:
        """The report for people: problems, then notes, then a summary; the verdict last."""
        out = [f"{p.location}: {p.kind}: {p.message}" for p in self.problems]
        if self.omitted:
            out.append(f"… and {self.omitted:,} more problems not listed")
        out.extend(f"note: {note}" for note in self.notes)
        out.extend(_summary_line(summary) for summary in self.streams.values())
        out.extend(f"anchor {anchor}" for anchor in self.anchors())
        records_total = sum(s.records for s in self.streams.values())
        files_total = sum(s.files for s in self.streams.values())
        if self.ok:
            times = [
                s.last_checkpoint_time for s in self.streams.values() if s.last_checkpoint_time
            ]
            last = f" (last checkpoint {max(times)})" if times else " (no checkpoint)"
            out.append(
                f"intact: {plural(len(self.streams), 'stream')}, "
                f"{plural(records_total, 'record')}, {plural(files_total, 'file')}{last}"
            )
        else:
            tampered = sum(1 for s in self.streams.values() if s.problems)
            tampered += len({p.stream for p in self.problems if p.stream not in self.streams})
            out.append(
                f"TAMPERED: {plural(self.problem_count, 'problem')} in {plural(tampered, 'stream')}"
            )
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "problems": [asdict(p) for p in self.problems],
            "omitted_problems": self.omitted,
            "notes": list(self.notes),
            "streams": {name: asdict(s) for name, s in self.streams.items()},
            "anchors": [str(a) for a in self.anchors()],
        }


class Findings:
    """What the check of one stream found: problems, notes, and its summary."""

    def __init__(self, summary: StreamSummary) -> None:
        self.stream = summary.stream
        self.summary = summary
        self.problems: list[Problem] = []
        self.omitted = 0
        """Problems found but not listed (beyond `MAX_PROBLEMS`)."""
        self.notes: list[str] = []
        self.unchecked_signatures = 0
        """Signed checkpoints whose signature was not checked (no key given)."""

    def problem(
        self, kind: str, where: Entry | None, seq: int | None, message: str, *, line: int = 0
    ) -> int | None:
        """Report a problem; its index in `problems`, or None when it is only counted."""
        self.summary.problems += 1
        if len(self.problems) >= MAX_PROBLEMS:
            self.omitted += 1
            return None
        name = where.file.path.name if where is not None else None
        number = line or (where.line if where is not None else None)
        self.problems.append(Problem(kind, self.stream, name, number, seq, message))
        return len(self.problems) - 1

    def note(self, text: str) -> None:
        self.notes.append(f"{self.stream}: {text}")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def seq_span(first: int, last: int) -> str:
    return f"seq {first:,}" if first == last else f"seq {first:,}..{last:,}"


def file_numbers(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"{numbers[0]:06d}"
    return f"{numbers[0]:06d}..{numbers[-1]:06d}" if len(numbers) > 1 else ""


def _summary_line(s: StreamSummary) -> str:
    if s.last_seq is None:
        return f"{s.stream}: no records in {plural(s.files, 'file')}"
    checkpoint = ""
    if s.last_checkpoint_seq is not None:
        checkpoint = (
            f", last checkpoint seq {s.last_checkpoint_seq:,} ({s.last_checkpoint_reason}) "
            f"at {s.last_checkpoint_time}"
        )
    return (
        f"{s.stream}: {plural(s.records, 'record')} (seq {s.first_seq:,}..{s.last_seq:,}) in "
        f"{plural(s.files, 'file')} ({_size(s.bytes)}), "
        f"{plural(s.checkpoints, 'checkpoint')}{checkpoint}"
    )


def _size(nbytes: int) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:,.1f} GB"
    return f"{nbytes / 1e6:,.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:,.1f} kB"
