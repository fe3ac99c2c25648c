"""What `quanze logs verify` found: problems, notes and stream summaries, for people and JSON.

While a stream's chain is followed, its `Findings` collect what is wrong (`Problem`, the first
`MAX_PROBLEMS` listed, the rest counted), what the writer itself reported (a reopen after its
file or directory was deleted or replaced; records it lost with a directory) and what is worth
noting; `VerifyReport` gathers every stream's, decides the verdict and renders them as text
(`render`) or JSON (`to_json`).

The verdicts, most serious first; every one but `intact` fails the command:

- `tampered`: the log is not as its writer left it (a `Problem`);
- `incomplete`: records are missing, and only those the writer said it lost with a directory;
- `reopened`: nothing is missing, but the writer found its file or directory deleted or
  replaced while serving and put back what it had written: someone interfered with the log;
- `unverified`: the chain holds, but signed checkpoints were not checked (no `--key`);
- `intact`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quanze.server.config import SHIP_SOURCE_PATTERN
from quanze.server.decisionlog.verify_lines import Entry
from quanze.server.errors import QuanzeError

KINDS = ("modified", "deleted", "inserted", "reordered", "truncated", "signature", "malformed")
VERDICTS = ("tampered", "incomplete", "reopened", "unverified", "intact")

MAX_PROBLEMS = 1000
"""Problems listed per stream; more are counted (a wrecked log must not exhaust memory)."""

# A stream of a directory (`w0`), or of the central store (`<source>/w0`).
_ANCHOR = re.compile(
    rf"^(?P<stream>(?:{SHIP_SOURCE_PATTERN}/)?[a-z0-9]+):(?P<seq>[0-9]+):"
    r"(?P<hash>[0-9a-fA-F]{64})$"
)


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
    place: str | None = None
    """In the central store: the row, `<stream> seq N (shipped from FILE:LINE)`."""

    @property
    def location(self) -> str:
        if self.place is not None:
            return self.place
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
    reopens: int = 0
    """Times the writer found its file or directory gone and put back what it had written."""
    lost: int = 0
    """Records the writer said it lost with its directory (not counted as problems)."""


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

    directory: Path | None
    """The log directory verified (None: the central store)."""
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    streams: dict[str, StreamSummary] = field(default_factory=dict)
    omitted: int = 0
    """Problems found but not listed (beyond `MAX_PROBLEMS` per stream)."""
    reopens: list[Problem] = field(default_factory=list)
    """Where a writer reopened its log after a fault (kind `reopened`)."""
    lost: list[Problem] = field(default_factory=list)
    """Records a writer said it lost with its directory (kind `lost`)."""
    unchecked_signatures: int = 0
    """Signed checkpoints whose signatures were not checked (no key given)."""
    database: str = ""
    """The central store verified: its URL, without a password."""

    def add(self, findings: Findings) -> None:
        """One stream's findings."""
        self.problems.extend(findings.problems)
        self.omitted += findings.omitted
        self.notes.extend(findings.notes)
        self.reopens.extend(findings.reopens)
        self.lost.extend(findings.lost)
        self.streams[findings.stream] = findings.summary
        self.unchecked_signatures += findings.unchecked_signatures

    def missing_streams(self, anchors: list[Anchor], held: str) -> None:
        """Anchors of streams that are not there at all: their `held` (files, rows) deleted."""
        for anchor in anchors:
            if anchor.stream not in self.streams:
                self.problems.append(
                    Problem(
                        "deleted",
                        anchor.stream,
                        None,
                        None,
                        anchor.seq,
                        f"stream {anchor.stream} has no {held}, but anchor {anchor} was "
                        f"recorded: its {held.split(maxsplit=1)[0]} were deleted",
                    )
                )

    @property
    def verdict(self) -> str:
        """One of `VERDICTS`: the most serious that applies."""
        if self.problems or self.omitted:
            return "tampered"
        if self.lost:
            return "incomplete"
        if self.reopens:
            return "reopened"
        return "unverified" if self.unchecked_signatures else "intact"

    @property
    def ok(self) -> bool:
        return self.verdict == "intact"

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
        found = [*self.problems, *self.lost, *self.reopens]
        out = [f"{p.location}: {p.kind}: {p.message}" for p in found]
        if self.omitted:
            out.append(f"… and {self.omitted:,} more problems not listed")
        out.extend(f"note: {note}" for note in self.notes)
        if self.unchecked_signatures and self.verdict != "unverified":
            out.append(f"note: {self._unchecked()}")
        out.extend(_summary_line(summary) for summary in self.streams.values())
        out.extend(f"anchor {anchor}" for anchor in self.anchors())
        out.append(self._verdict_line())
        return "\n".join(out)

    def _verdict_line(self) -> str:
        verdict = self.verdict
        records_total = sum(s.records for s in self.streams.values())
        files_total = sum(s.files for s in self.streams.values())
        holding = (
            f"{plural(len(self.streams), 'stream')}, {plural(records_total, 'record')}, "
            f"{plural(files_total, 'file')}"
        )
        if verdict == "tampered":
            tampered = sum(1 for s in self.streams.values() if s.problems)
            tampered += len({p.stream for p in self.problems if p.stream not in self.streams})
            return (
                f"TAMPERED: {plural(self.problem_count, 'problem')} in {plural(tampered, 'stream')}"
            )
        if verdict == "incomplete":
            lost = sum(s.lost for s in self.streams.values())
            return (
                f"INCOMPLETE: {plural(lost, 'record')} missing, lost with a directory that was "
                f"deleted or replaced while the sidecar served (its writer says so above); "
                f"the rest is intact: {holding}"
            )
        if verdict == "reopened":
            return (
                f"REOPENED: {holding}, none missing, but the writer found its file or directory "
                f"deleted or replaced {plural(len(self.reopens), 'time')} while serving and put "
                "back what it had written (above): find out who did it"
            )
        if verdict == "unverified":
            return f"UNVERIFIED: the chain is intact ({holding}), but {self._unchecked()}"
        times = [s.last_checkpoint_time for s in self.streams.values() if s.last_checkpoint_time]
        last = f" (last checkpoint {max(times)})" if times else " (no checkpoint)"
        return f"intact: {holding}{last}"

    def _unchecked(self) -> str:
        return (
            f"the signatures of {plural(self.unchecked_signatures, 'signed checkpoint')} were "
            "not checked: pass --key with the Ed25519 public key or HMAC secret that signs "
            "this log"
        )

    def to_json(self) -> dict[str, Any]:
        where = {"database": self.database} if self.database else {"directory": str(self.directory)}
        return {
            **where,
            "ok": self.ok,
            "verdict": self.verdict,
            "problems": [_problem_json(p) for p in self.problems],
            "omitted_problems": self.omitted,
            "lost": [_problem_json(p) for p in self.lost],
            "reopened": [_problem_json(p) for p in self.reopens],
            "unchecked_signatures": self.unchecked_signatures,
            "notes": list(self.notes),
            "streams": {name: asdict(s) for name, s in self.streams.items()},
            "anchors": [str(a) for a in self.anchors()],
        }


def _problem_json(problem: Problem) -> dict[str, Any]:
    found = asdict(problem)
    if problem.place is None:
        del found["place"]  # files: FILE:LINE says where
    return found


class Findings:
    """What the check of one stream found: problems, notes, and its summary."""

    def __init__(self, summary: StreamSummary) -> None:
        self.stream = summary.stream
        self.summary = summary
        self.problems: list[Problem] = []
        self.omitted = 0
        """Problems found but not listed (beyond `MAX_PROBLEMS`)."""
        self.notes: list[str] = []
        self.reopens: list[Problem] = []
        self.lost: list[Problem] = []
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
        self.problems.append(Problem(kind, self.stream, name, number, seq, message, _place(where)))
        return len(self.problems) - 1

    def reopened(self, where: Entry, seq: int, message: str) -> None:
        """The writer's own report (a start record) that it reopened its log after a fault."""
        self.summary.reopens += 1
        self.reopens.append(
            Problem(
                "reopened",
                self.stream,
                where.file.path.name,
                where.line,
                seq,
                message,
                _place(where),
            )
        )

    def lose(self, where: Entry, seq: int, count: int, message: str) -> None:
        """`count` records from `seq` on are missing, and the writer said it lost them."""
        self.summary.lost += count
        self.lost.append(
            Problem(
                "lost", self.stream, where.file.path.name, where.line, seq, message, _place(where)
            )
        )

    def note(self, text: str) -> None:
        self.notes.append(f"{self.stream}: {text}")


def _place(where: Entry | None) -> str | None:
    """A row of the central store, with the file line it was shipped from."""
    if where is None or not where.place:
        return None
    return f"{where.place} (shipped from {where.file.path.name}:{where.line})"


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
