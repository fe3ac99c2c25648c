"""`quanze logs verify`: prove a decision-log directory complete and untouched, or say where not.

Every file of every stream is streamed once, one line at a time (plain and gzip), so memory
stays constant however large the log is. Each stream is checked on its own:

- every line is a JSON object with an integer `seq`, a known `type` and a `prev_hash`;
- the records form one chain: each `seq` is one more than the last and each `prev_hash` is the
  SHA-256 of the previous line, across file boundaries and writer restarts;
- the stream begins at seq 1 on the genesis hash, or (retention) no later than the
  `retained_from_seq` its last checkpoint signs; file numbers have no holes;
- a `rotation` checkpoint ends its file, a `shutdown` checkpoint ends a writer's run, and a
  `start` record says truthfully how the previous run ended;
- checkpoint signatures hold (given `--key`);
- `--anchor STREAM:SEQ:HASH` records noted down earlier are still there, unchanged.

Finding *where* a log was changed: the verifier follows the chain by hash rather than by position.
It keeps a window of the next `_WINDOW` lines; the successor of the last accepted record is the
line in the window whose `prev_hash` is that record's hash (preferring one whose own successor is
also there). A successor found further ahead means the lines in between are out of place: taken
later by the chain they were *reordered* (the smallest set of moved records is reported, as the
complement of the longest run in file order); never taken, they were *inserted*, unless the
chain reaches their place later on (a record moved far: *reordered* again). No successor by hash
but one by `seq` means a record was *modified*; a jump in `seq` means records were *deleted*
(whole files, or a *truncated* file end, when it falls on a file boundary). Every problem is
reported and the check carries on, so one run lists all of them.

What the chain cannot show: the hash chain is unkeyed, so records cut off the end of a stream,
or a tail rewritten with fresh hashes, still chain. Signed checkpoints (with `--key`) catch a
rewrite up to the last checkpoint; anchors kept from an earlier run catch a cut-off tail.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import re
import sys
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import Progress, log_directory, progress_for, read_lines
from quanze.server.decisionlog.records import LogFile, SignatureChecker
from quanze.server.errors import QuanzeError

KINDS = ("modified", "deleted", "inserted", "reordered", "truncated", "signature", "malformed")
CHECKPOINT_REASONS = ("interval", "rotation", "shutdown")
START_PREVIOUS = ("new", "closed", "unclosed", "write_failed")
SIGNATURE_ALGORITHMS = ("hmac-sha256", "ed25519", "none")

_WINDOW = 32
"""Lines looked ahead to tell insertions, deletions, modifications and reorderings apart."""
_RECENT = 64
"""Accepted records remembered to name the original of a copied line."""
_MAX_PROBLEMS = 1000
"""Problems listed per stream; more are counted (a wrecked log must not exhaust memory)."""
_MAX_REGION = 4 * _WINDOW
_MAX_DISPLACED = 1024
"""Passed-over records and deletions remembered to pair records moved far from their place."""

_ANCHOR = re.compile(r"^(?P<stream>[a-z0-9]+):(?P<seq>[0-9]+):(?P<hash>[0-9a-fA-F]{64})$")

# Line kinds.
_RECORD = 0
_GARBAGE = 1
_PARTIAL = 2
_DAMAGED = 3


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
    """Problems found but not listed (beyond `_MAX_PROBLEMS` per stream)."""

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
                f"intact: {_plural(len(self.streams), 'stream')}, "
                f"{_plural(records_total, 'record')}, {_plural(files_total, 'file')}{last}"
            )
        else:
            tampered = sum(1 for s in self.streams.values() if s.problems)
            tampered += len({p.stream for p in self.problems if p.stream not in self.streams})
            out.append(
                f"TAMPERED: {_plural(self.problem_count, 'problem')} "
                f"in {_plural(tampered, 'stream')}"
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


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _summary_line(s: StreamSummary) -> str:
    if s.last_seq is None:
        return f"{s.stream}: no records in {_plural(s.files, 'file')}"
    checkpoint = ""
    if s.last_checkpoint_seq is not None:
        checkpoint = (
            f", last checkpoint seq {s.last_checkpoint_seq:,} ({s.last_checkpoint_reason}) "
            f"at {s.last_checkpoint_time}"
        )
    return (
        f"{s.stream}: {_plural(s.records, 'record')} (seq {s.first_seq:,}..{s.last_seq:,}) in "
        f"{_plural(s.files, 'file')} ({_size(s.bytes)}), "
        f"{_plural(s.checkpoints, 'checkpoint')}{checkpoint}"
    )


# ---------------------------------------------------------------------------- the check


def verify_directory(
    directory: Path,
    *,
    key_file: Path | None = None,
    anchors: Sequence[str] = (),
    progress: bool | None = None,
) -> VerifyReport:
    """Verify every stream of `directory`; raises `QuanzeError` if it cannot be read at all."""
    log_directory(directory)
    parsed = [parse_anchor(text) for text in anchors]
    checker = SignatureChecker(key_file) if key_file is not None else None
    streams = records.list_streams(directory)
    if not streams and not parsed:
        raise QuanzeError(
            f"{directory} holds no decision-log files (decisions-<stream>-<n>-<time>.jsonl[.gz]); "
            "nothing to verify"
        )
    report = VerifyReport(directory)
    shown = progress_for([f for files in streams.values() for f in files], "verifying", progress)
    unchecked = 0
    try:
        for stream, files in streams.items():
            wanted = {a.seq: a.hash for a in parsed if a.stream == stream}
            check = _StreamCheck(stream, files, checker, wanted, shown)
            check.run()
            report.problems.extend(check.problems)
            report.omitted += check.omitted
            report.notes.extend(check.notes)
            report.streams[stream] = check.summary
            unchecked += check.unchecked_signatures
    finally:
        shown.finish()
    for anchor in parsed:
        if anchor.stream not in streams:
            report.problems.append(
                Problem(
                    "deleted",
                    anchor.stream,
                    None,
                    None,
                    anchor.seq,
                    f"stream {anchor.stream} has no files in {directory}, but anchor {anchor} "
                    "was recorded: its files were deleted",
                )
            )
    if unchecked:
        report.notes.append(
            f"signatures were not checked: {_plural(unchecked, 'signed checkpoint')} (give "
            "--key with the HMAC secret or Ed25519 public key that signs this log)"
        )
    return report


class _Entry:
    """One line of a stream as the chain follower sees it."""

    __slots__ = (
        "defect",
        "file",
        "hash",
        "kind",
        "line",
        "phys",
        "prev_hash",
        "record",
        "seq",
        "skipped_at",
        "type",
    )

    def __init__(self, file: LogFile, line: int, phys: int, kind: int, defect: str = "") -> None:
        self.file = file
        self.line = line
        self.phys = phys
        """Position in the stream, counting every line."""
        self.kind = kind
        self.defect = defect
        self.hash = ""
        self.seq = 0
        self.prev_hash = ""
        self.type = ""
        self.record: dict[str, Any] | None = None
        """Kept for start and checkpoint records only (decisions need nothing more)."""
        self.skipped_at = -1
        """Accepted-record count when the chain passed over this line; -1 while not passed."""

    @property
    def where(self) -> str:
        return f"{self.file.path.name}:{self.line}"


class _Accepted:
    """A record taken into the chain: what the checks of the records after it need."""

    __slots__ = ("entry", "hash", "modified", "seq")

    def __init__(self, entry: _Entry | None, seq: int, hash_: str, *, modified: bool) -> None:
        self.entry = entry
        """None for the virtual record before the first one (the genesis hash)."""
        self.seq = seq
        """The seq the chain gives it (a modified `seq` field is not believed)."""
        self.hash = hash_
        self.modified = modified
        """Its hash is known not to be the original: the next chain link fails because of it."""

    @property
    def where(self) -> str:
        return self.entry.where if self.entry is not None else "the beginning"

    def is_checkpoint(self, reason: str) -> bool:
        return (
            self.entry is not None
            and self.entry.type == records.CHECKPOINT
            and self.entry.record is not None
            and self.entry.record.get("reason") == reason
        )


def _entries(files: list[LogFile], progress: Progress) -> Iterator[_Entry]:
    """Every line of a stream's files, parsed; a damaged gzip file ends in a `_DAMAGED` entry."""
    phys = 0
    for log_file in files:
        number = 0
        try:
            for line in read_lines(log_file, progress):
                number = line.number
                phys += 1
                yield _parse(line.raw, log_file, number, phys, complete=line.complete)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            phys += 1
            yield _Entry(log_file, number + 1, phys, _DAMAGED, f"its gzip data is damaged: {exc}")
        except OSError as exc:
            raise QuanzeError(
                f"cannot read {log_file.path}: {exc.strerror or exc}; check its permissions"
            ) from exc


def _parse(raw: bytes, log_file: LogFile, number: int, phys: int, *, complete: bool) -> _Entry:
    if not complete:
        return _Entry(log_file, number, phys, _PARTIAL, "the line has no newline")
    try:
        record = json.loads(raw.decode())  # str: json skips guessing the encoding of bytes
    except UnicodeDecodeError:
        return _Entry(log_file, number, phys, _GARBAGE, "not UTF-8")
    except ValueError:
        return _Entry(log_file, number, phys, _GARBAGE, "not JSON")
    if not isinstance(record, dict):
        return _Entry(log_file, number, phys, _GARBAGE, "not a JSON object")
    seq, prev_hash = record.get("seq"), record.get("prev_hash")
    if type(seq) is not int or seq < 1:
        return _Entry(log_file, number, phys, _GARBAGE, "no positive integer seq")
    if not isinstance(prev_hash, str):
        return _Entry(log_file, number, phys, _GARBAGE, "no prev_hash")
    entry = _Entry(log_file, number, phys, _RECORD)
    entry.hash = records.line_hash(raw)
    entry.seq = seq
    entry.prev_hash = prev_hash
    kind = record.get("type")
    entry.type = kind if isinstance(kind, str) else ""
    if entry.type != records.DECISION:
        entry.record = record
    if entry.type not in records.RECORD_TYPES:
        entry.defect = f"unknown record type {kind!r}"
    elif not isinstance(record.get("timestamp"), str):
        entry.defect = "no timestamp"
    elif entry.type == records.DECISION and not isinstance(record.get("decision_id"), str):
        entry.defect = "a decision record without a decision_id"
    return entry


class _StreamCheck:
    """Follows one stream's chain through its files and collects what is wrong with it."""

    def __init__(
        self,
        stream: str,
        files: list[LogFile],
        checker: SignatureChecker | None,
        anchors: dict[int, str],
        progress: Progress,
    ) -> None:
        self.stream = stream
        self.files = files
        self.checker = checker
        self.anchors = anchors
        self.anchors_seen: set[int] = set()
        self.source = _entries(files, progress)
        self.exhausted = False
        self.window: deque[_Entry] = deque()
        self.skipped = 0
        """The window's first `skipped` entries were passed over by the chain (out of place)."""
        self.by_prev: dict[str, int] = {}
        """How many window records name each prev_hash: who has a successor in view."""
        self.prev = _Accepted(None, 0, records.GENESIS_HASH, modified=False)
        self.accepted = 0
        self.first: _Accepted | None = None
        self.first_from_genesis = False
        self.recent: OrderedDict[str, _Accepted] = OrderedDict()
        self.absorb = 0
        """Unreadable lines since the last record that stand where records should be."""
        self.lines_between = 0
        """Lines that are not records since the last record taken."""
        self.cut: _Entry | None = None
        """An incomplete or damaged end of file that the next chain link must explain."""
        self.partial: _Entry | None = None
        """A legitimate incomplete line (a crash) just before a start record."""
        self.displaced: OrderedDict[int, _Entry] = OrderedDict()
        """Records the chain passed over whose seq is still to come: maybe moved backwards."""
        self.gaps: OrderedDict[int, _Gap] = OrderedDict()
        """Recent deletions by first missing seq: a record found later may fill them (moved)."""
        self.region: list[_Accepted] | None = None
        self.region_base = 0
        self.problems: list[Problem] = []
        self.omitted = 0
        self.notes: list[str] = []
        self.summary = StreamSummary(stream, files=len(files))
        self.summary.bytes = sum(f.path.stat().st_size for f in files if f.path.exists())
        self.last_checkpoint: _Accepted | None = None
        self.retained_from: int | None = None
        self.unsigned: list[_Entry] = []
        self.unsigned_count = 0
        self.unchecked_signatures = 0
        self.signed_ok = 0
        self.key_mismatches: list[tuple[_Entry, str]] = []
        self.numbers = {f.number for f in files}

    # ------------------------------------------------------------------ reporting

    def problem(
        self, kind: str, where: _Entry | None, seq: int | None, message: str, *, line: int = 0
    ) -> int | None:
        """Report a problem; its index in `problems`, or None when it is only counted."""
        self.summary.problems += 1
        if len(self.problems) >= _MAX_PROBLEMS:
            self.omitted += 1
            return None
        name = where.file.path.name if where is not None else None
        number = line or (where.line if where is not None else None)
        self.problems.append(Problem(kind, self.stream, name, number, seq, message))
        return len(self.problems) - 1

    def note(self, text: str) -> None:
        self.notes.append(f"{self.stream}: {text}")

    # ------------------------------------------------------------------ the window

    def fill(self) -> None:
        while len(self.window) - self.skipped < _WINDOW and not self.exhausted:
            entry = next(self.source, None)
            if entry is None:
                self.exhausted = True
                break
            self.window.append(entry)
            if entry.kind == _RECORD:
                self.by_prev[entry.prev_hash] = self.by_prev.get(entry.prev_hash, 0) + 1

    def remove(self, index: int) -> _Entry:
        entry = self.window[index]
        del self.window[index]
        if index < self.skipped:
            self.skipped -= 1
        if entry.kind == _RECORD:
            left = self.by_prev[entry.prev_hash] - 1
            if left:
                self.by_prev[entry.prev_hash] = left
            else:
                del self.by_prev[entry.prev_hash]
        return entry

    def has_successor(self, entry: _Entry) -> bool:
        """Some record in view chains to `entry`, or it is the stream's last line."""
        if entry.hash in self.by_prev:
            return True
        return self.exhausted and self.window[-1] is entry

    def pick(self, candidates: list[int]) -> int:
        """Of window indexes, the record the chain most likely continues from.

        One the chain goes on from beats one it does not (a copy or a forgery in its place);
        then one still ahead of the chain's position beats one it passed over earlier.
        """
        after = self.prev.entry.phys if self.prev.entry is not None else 0

        def rank(index: int) -> tuple[bool, bool, bool, int]:
            entry = self.window[index]
            # After a failed write the writer goes on from its last good record in a new file
            # (a `write_failed` start); what the failed write left behind is not the chain.
            return (
                not self.has_successor(entry),
                not _after_failed_write(entry),
                entry.phys < after,
                index,
            )

        return min(candidates, key=rank)

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        while True:
            self.fill()
            self.evict_stale()
            if not self.window:
                break
            if self.skipped == len(self.window):
                # Only passed-over lines are left (the stream has ended): the chain may still
                # continue through them; whatever it does not take was inserted.
                if not self.follow(allow_gap=False):
                    while self.window:
                        self.evict(self.remove(0))
                continue
            front = self.window[self.skipped]
            if front.kind != _RECORD:
                self.unreadable(self.remove(self.skipped))
                continue
            prev = self.prev
            if (
                front.prev_hash == prev.hash
                and front.seq == prev.seq + 1
                and self.skipped == 0
                and self.by_prev[prev.hash] == 1
            ):
                self.accept(0)  # the common case: the next line is the next record
            else:
                self.follow(allow_gap=True)
        self.finish()

    def follow(self, *, allow_gap: bool) -> bool:
        """Find the successor of the last accepted record in the window and accept it."""
        prev = self.prev
        window = self.window
        expected = prev.seq + 1
        records_at = [i for i, e in enumerate(window) if e.kind == _RECORD]
        # 1. The record that names the previous one's hash: the chain's own successor.
        chained = [i for i in records_at if window[i].prev_hash == prev.hash]
        if chained:
            in_seq = [i for i in chained if window[i].seq == expected]
            index = self.pick(in_seq or chained)
            entry = window[index]
            if entry.seq != expected:
                self.problem(
                    "modified",
                    entry,
                    expected,
                    f"seq {entry.seq:,} was changed: the chain puts this record at seq "
                    f"{expected:,}, right after seq {prev.seq:,} ({prev.where})",
                )
                self.accept(index, seq=expected, modified=True, reported=True)
            else:
                self.accept(index)
            return True
        # 2. The record with the next seq, whose prev_hash does not fit: one of them was changed.
        in_seq = [i for i in records_at if window[i].seq == expected]
        if in_seq:
            self.follow_changed(self.pick(in_seq))
            return True
        if not allow_gap:
            return False
        # 3. A record passed over earlier fits here: it was moved backwards, far.
        if self.take_displaced():
            return True
        # 4. Records missing: continue at the lowest later seq that the chain goes on from.
        later = [i for i in records_at if window[i].seq > expected]
        if later:
            # Where retention (or deletion) left the stream's beginning, the lowest seq is its
            # first record; further on, one the chain goes on from (not a record moved far).
            continuing = later
            if prev.entry is not None:
                continuing = [i for i in later if self.has_successor(window[i])] or later
            index = min(continuing, key=lambda i: (window[i].seq, i))
            self.gap(window[index])
            self.accept(index, reported=True)
            return True
        # 5. Nothing ahead continues the chain: the next line goes back in seq.
        index = self.skipped
        entry = window[index]
        original = self.recent.get(entry.hash)
        if original is None and self.has_successor(entry) and window[-1] is not entry:
            # A whole run goes back (e.g. the chain restarts at seq 1): follow it rather than
            # report every line of it.
            self.problem(
                "reordered",
                entry,
                entry.seq,
                f"seq goes back from {prev.seq:,} ({prev.where}) to {entry.seq:,}; the chain "
                "restarts here",
            )
            self.accept(index, reported=True)
        else:
            self.evict(self.remove(index))
        return True

    def follow_changed(self, index: int) -> None:
        """`window[index]` has the next seq but does not chain: say which record changed."""
        prev = self.prev
        entry = self.window[index]
        if prev.entry is None:
            self.problem(
                "modified",
                entry,
                entry.seq,
                "the first record of the stream does not start from the genesis hash "
                f"(prev_hash {entry.prev_hash[:16]}…)",
            )
            self.accept(index, modified=not self.has_successor(entry), reported=True)
        elif prev.modified:
            self.accept(index, reported=True)  # already reported, as prev
        elif self.has_successor(entry):
            self.problem(
                "modified",
                prev.entry,
                prev.seq,
                f"seq {prev.seq:,} was modified: its hash no longer matches the prev_hash "
                f"of seq {entry.seq:,} ({entry.where})",
            )
            self.accept(index, reported=True)
        else:
            self.problem(
                "modified",
                entry,
                entry.seq,
                f"seq {entry.seq:,} was modified: its prev_hash does not match seq "
                f"{prev.seq:,} ({prev.where}) and the record after it does not chain to it",
            )
            self.accept(index, modified=True, reported=True)

    def take_displaced(self) -> bool:
        """Take the record passed over earlier that fits the chain here, if there is one."""
        prev = self.prev
        stray = self.displaced.pop(prev.seq + 1, None)
        if stray is None:
            return False
        if stray.prev_hash != prev.hash:
            self.report_inserted(stray)
            return False
        self.problem(
            "reordered",
            stray,
            stray.seq,
            f"seq {stray.seq:,} is out of place: by the chain it belongs after seq "
            f"{prev.seq:,} ({prev.where})",
        )
        self.take(stray, reported=True)
        return True

    # ------------------------------------------------------------------ acceptance

    def accept(
        self,
        index: int,
        *,
        seq: int | None = None,
        modified: bool = False,
        reported: bool = False,
    ) -> None:
        """Take `window[index]` as the next record of the chain and check it in its context."""
        was_skipped = index < self.skipped
        passed: list[_Entry] = []
        abandoned: list[_Entry] = []
        if not was_skipped and index > self.skipped:
            # Lines between the chain's position and its successor: out of place for now.
            for skipped_index in range(self.skipped, index):
                self.window[skipped_index].skipped_at = self.accepted
            passed = [self.window[i] for i in range(index) if self.window[i].kind != _RECORD]
            if _after_failed_write(self.window[index]):
                number = self.window[index].file.number
                abandoned = [
                    self.window[i]
                    for i in range(self.skipped, index)
                    if self.window[i].kind == _RECORD and self.window[i].file.number < number
                ]
            self.skipped = index
        entry = self.window[index]
        for record in abandoned:
            self.remove(self.window.index(record))
        if abandoned:
            self.note(
                f"{_plural(len(abandoned), 'record')} at {abandoned[0].where}.."
                f"{abandoned[-1].line} were left by a write that failed; the writer went on "
                f"without them (the start record at {entry.where} says write_failed)"
            )
        for other in passed:
            line = self.remove(self.window.index(other))
            if line.kind == _GARBAGE:
                self.lines_between += 1
                self.problem(
                    "inserted",
                    line,
                    None,
                    f"a line that is not a record ({line.defect}); the chain continues without it",
                )
            else:
                self.unreadable(line)  # while `entry` is in view: it may be the start after it
        self.remove(self.window.index(entry))
        self.take(
            entry,
            seq=seq,
            modified=modified,
            reported=reported,
            in_region=was_skipped or self.skipped > 0 or self.region is not None,
        )

    def take(
        self,
        entry: _Entry,
        *,
        seq: int | None = None,
        modified: bool = False,
        reported: bool = False,
        in_region: bool = False,
    ) -> None:
        """Make `entry` the chain's last record, after checking it in its context."""
        prev = self.prev
        current = _Accepted(entry, entry.seq if seq is None else seq, entry.hash, modified=modified)
        if in_region:
            self.track_region(current)
        stray = self.displaced.pop(current.seq, None)
        if stray is not None:
            self.report_inserted(stray)
        self.check_link(prev, entry, current.seq, reported=reported)
        self.check_record(current, entry)
        self.prev = current
        self.accepted += 1
        self.absorb = 0
        self.cut = None
        self.partial = None
        self.lines_between = 0
        if self.first is None:
            self.first = current
            self.first_from_genesis = prev.entry is None and (
                entry.prev_hash == records.GENESIS_HASH and current.seq == 1
            )
        self.recent[entry.hash] = current
        if len(self.recent) > _RECENT:
            self.recent.popitem(last=False)
        summary = self.summary
        summary.records += 1
        if summary.first_seq is None:
            summary.first_seq = current.seq
        summary.last_seq = current.seq
        summary.last_hash = entry.hash
        expected_hash = self.anchors.get(current.seq)
        if expected_hash is not None:
            self.anchors_seen.add(current.seq)
            if expected_hash != entry.hash:
                self.problem(
                    "modified",
                    entry,
                    current.seq,
                    f"seq {current.seq:,} differs from the anchor {self.stream}:{current.seq}:"
                    f"{expected_hash[:16]}… recorded earlier (its hash is now {entry.hash[:16]}…)",
                )

    def check_link(self, prev: _Accepted, entry: _Entry, seq: int, *, reported: bool) -> None:
        """File-boundary, start and shutdown rules between two consecutive records."""
        cut = self.cut
        if cut is not None and not reported:
            if cut.kind == _PARTIAL:
                self.problem(
                    "inserted",
                    cut,
                    None,
                    f"an incomplete line ({cut.defect}) that no start record follows; the chain "
                    "continues without it",
                )
            else:
                self.problem("malformed", cut, None, f"{cut.file.path.name}: {cut.defect}")
        before = prev.entry
        if before is None:
            previous = entry.record.get("previous") if entry.record is not None else None
            if entry.type == records.START and previous not in START_PREVIOUS:
                self.problem("malformed", entry, seq, f"start record with previous={previous!r}")
            return
        missing = [
            n for n in range(before.file.number + 1, entry.file.number) if n not in self.numbers
        ]
        if missing and not reported:
            self.problem(
                "deleted",
                entry,
                seq,
                f"file number {_numbers(missing)} of stream {self.stream} is missing between "
                f"{before.file.path.name} and {entry.file.path.name} (the chain continues, so "
                "it held no records)",
            )
        if entry.type == records.START:
            self.check_start(prev, entry, seq, reported=reported)
        elif not reported and entry.phys == before.phys + 1 + self.lines_between:
            # Only for neighbours in the files: a reordering is reported as one already.
            self.check_order(prev, before, entry, seq)

    def check_order(self, prev: _Accepted, before: _Entry, entry: _Entry, seq: int) -> None:
        """Where a run or a file may end: shutdown, then start; rotation, then a new file."""
        same_file = before.file == entry.file
        if prev.is_checkpoint("shutdown"):
            self.problem(
                "inserted",
                entry,
                seq,
                f"seq {seq:,} follows the shutdown checkpoint seq {prev.seq:,} ({prev.where}); "
                "only a start record may follow one",
            )
        elif same_file and prev.is_checkpoint("rotation"):
            self.problem(
                "inserted",
                entry,
                seq,
                f"seq {seq:,} follows the rotation checkpoint seq {prev.seq:,} in the same file; "
                "a rotation checkpoint is the last record of its file",
            )
        elif not same_file and not prev.is_checkpoint("rotation"):
            self.problem(
                "truncated",
                before,
                prev.seq + 1,
                f"{before.file.path.name} ends at seq {prev.seq:,} without its rotation "
                f"checkpoint, and {entry.file.path.name} does not begin with a start record",
                line=before.line + 1,
            )

    def check_start(self, prev: _Accepted, entry: _Entry, seq: int, *, reported: bool) -> None:
        """A start record must say truthfully how the previous run ended."""
        record = entry.record or {}
        previous = record.get("previous")
        partial = self.partial
        if entry.line != 1:
            self.problem(
                "malformed",
                entry,
                seq,
                "a start record that is not the first line of its file (a writer always "
                "starts a new file)",
            )
        if previous not in START_PREVIOUS:
            self.problem("malformed", entry, seq, f"start record with previous={previous!r}")
            return
        if previous == "unclosed":
            self.note(
                f"the writer restarted after a crash at {entry.where} (seq {seq:,}; "
                f"the run before ended at seq {prev.seq:,}, {prev.where})"
            )
        elif previous == "write_failed":
            self.note(
                f"the writer started a new file at {entry.where} after a write failed (seq {seq:,})"
            )
        if reported:
            return
        shut = prev.is_checkpoint("shutdown")
        if previous == "new":
            self.problem(
                "malformed",
                entry,
                seq,
                f"the start record says the stream is new, but it follows seq {prev.seq:,} "
                f"({prev.where})",
            )
        elif previous == "closed" and (not shut or partial is not None):
            why = (
                f"an incomplete line ({partial.where}) comes between"
                if shut and partial is not None
                else f"the record before it (seq {prev.seq:,}, {prev.where}) is not a "
                "shutdown checkpoint"
            )
            kind = "inserted" if shut else "malformed"
            where = partial if shut and partial is not None else entry
            self.problem(
                kind,
                where,
                seq,
                f"the start record at {entry.where} says the previous run closed cleanly, "
                f"but {why}",
            )
        elif previous == "unclosed" and shut and partial is None:
            self.problem(
                "malformed",
                entry,
                seq,
                "the start record says the previous run crashed, but that run ended with a "
                f"shutdown checkpoint (seq {prev.seq:,}, {prev.where})",
            )
        named = record.get("partial_line")
        if partial is not None and previous == "unclosed" and not isinstance(named, dict):
            self.problem(
                "inserted",
                partial,
                None,
                f"an incomplete line the start record at {entry.where} does not mention: it "
                "was added after the writer restarted",
            )
        elif isinstance(named, dict) and partial is None:
            self.note(
                f"the start record at {entry.where} mentions a partial line at "
                f"{named.get('file')}:{named.get('line')}, which is no longer there"
            )

    def check_record(self, current: _Accepted, entry: _Entry) -> None:
        """Rules for one record on its own: fields, checkpoints and their signatures."""
        if entry.defect:
            self.problem("malformed", entry, current.seq, entry.defect)
            return
        record = entry.record
        if entry.type != records.CHECKPOINT or record is None:
            return
        seq = current.seq
        self.summary.checkpoints += 1
        self.last_checkpoint = current
        self.summary.last_checkpoint_seq = seq
        self.summary.last_checkpoint_time = str(record.get("timestamp"))
        reason = record.get("reason")
        self.summary.last_checkpoint_reason = str(reason)
        if reason not in CHECKPOINT_REASONS:
            self.problem("malformed", entry, seq, f"checkpoint with reason {reason!r}")
        if record.get("stream") != self.stream:
            self.problem(
                "modified",
                entry,
                seq,
                f"the checkpoint names stream {record.get('stream')!r}, but its file belongs to "
                f"stream {self.stream}",
            )
        retained = record.get("retained_from_seq", 1)
        if type(retained) is not int or retained < 1:
            self.problem("malformed", entry, seq, f"retained_from_seq {retained!r} is not a seq")
        else:
            self.retained_from = retained
        self.check_signature(entry, seq, record)

    def check_signature(self, entry: _Entry, seq: int, record: dict[str, Any]) -> None:
        signature = record.get("signature")
        if not isinstance(signature, dict) or signature.get("alg") not in SIGNATURE_ALGORITHMS:
            self.problem("malformed", entry, seq, "the checkpoint has no valid signature field")
            return
        checker = self.checker
        if signature.get("alg") == "none":
            self.unsigned_count += 1
            if not self.unsigned:
                self.unsigned.append(entry)
            return
        if checker is None:
            self.unchecked_signatures += 1
            return
        why = checker.problem(signature, records.checkpoint_message(record, self.stream))
        if not why:
            self.signed_ok += 1
        elif signature.get("key_id") != checker.key_id and len(self.key_mismatches) < _MAX_PROBLEMS:
            # Held back: if no checkpoint fits the key, the key is wrong (one problem, not many).
            self.key_mismatches.append((entry, str(signature.get("key_id"))))
        else:
            self.problem(
                "signature",
                entry,
                seq,
                f"checkpoint seq {seq:,}: {why} (forged, or its signed fields — seq, prev_hash, "
                "timestamp, retained_from_seq — were changed)",
            )

    # ------------------------------------------------------------------ out-of-place lines

    def gap(self, after: _Entry) -> None:
        """Records prev.seq+1 .. after.seq-1 are missing before `after`: say where and how."""
        prev = self.prev
        first, last = prev.seq + 1, after.seq - 1
        if prev.entry is None:
            return  # the stream begins after seq 1: judged at the end against retention
        missing = last - first + 1 - self.absorb
        if missing <= 0:
            return
        span = _span(first, last)
        between = f"between {prev.where} (seq {prev.seq:,}) and {after.where} (seq {after.seq:,})"
        cut = self.cut
        before, later = prev.entry.file, after.file
        holes = [n for n in range(before.number + 1, later.number) if n not in self.numbers]
        if cut is not None:
            index = self.problem(
                "truncated",
                cut,
                first,
                f"{cut.file.path.name} was cut at line {cut.line} ({cut.defect}): records "
                f"{span} are missing; {later.path.name if later != cut.file else 'it'} "
                f"continues at seq {after.seq:,}",
            )
        elif holes:
            index = self.problem(
                "deleted",
                after,
                first,
                f"file number {_numbers(holes)} of stream {self.stream} is missing: records "
                f"{span} missing {between}",
            )
        elif before != later and not (
            prev.is_checkpoint("rotation") or prev.is_checkpoint("shutdown")
        ):
            index = self.problem(
                "truncated",
                prev.entry,
                first,
                f"{before.path.name} ends early after seq {prev.seq:,} (line {prev.entry.line}): "
                f"records {span} are missing; {later.path.name} continues at seq {after.seq:,}",
                line=prev.entry.line + 1,
            )
        elif before != later:
            index = self.problem(
                "deleted",
                after,
                first,
                f"records {span} missing at the beginning of {later.path.name}, {between}",
            )
        else:
            index = self.problem("deleted", after, first, f"records {span} missing {between}")
        if index is not None:
            place = f"between seq {prev.seq:,} ({prev.where}) and seq {after.seq:,} ({after.where})"
            self.gaps[first] = _Gap(index, prev.hash, last, after, place, between)
            if len(self.gaps) > _MAX_DISPLACED:
                self.gaps.popitem(last=False)

    def unreadable(self, entry: _Entry) -> None:
        """A line that is not a record: a crash's incomplete line, damage, or tampering."""
        prev = self.prev
        self.lines_between += 1
        if entry.kind == _DAMAGED:
            self.cut = entry  # the next chain link tells whether records were lost
            return
        if entry.kind == _PARTIAL:
            following = next((e for e in self.window if e.phys > entry.phys), None)
            upto = f"seq {prev.seq:,}" if prev.entry is not None else "its beginning"
            if following is None and self.exhausted:
                self.note(
                    f"partial line from an interrupted write at {entry.where}; the log is "
                    f"intact up to {upto}"
                )
            elif following is not None and following.type == records.START:
                self.partial = entry
                self.note(
                    f"partial line from an interrupted write at {entry.where}; the log is "
                    f"intact up to {upto}"
                )
            else:
                self.cut = entry  # the next chain link tells whether records were lost
            return
        if prev.hash in self.by_prev:
            self.problem(
                "inserted",
                entry,
                None,
                f"a line that is not a record ({entry.defect}); the chain continues without it",
            )
        else:
            self.absorb += 1
            self.problem(
                "malformed",
                entry,
                prev.seq + self.absorb,
                f"a line that is not a record ({entry.defect}) where seq "
                f"{prev.seq + self.absorb:,} should be",
            )

    def evict_stale(self) -> None:
        while self.skipped and self.accepted - self.window[0].skipped_at > _WINDOW:
            self.evict(self.remove(0))

    def evict(self, entry: _Entry) -> None:
        """A record the chain passed over and did not come back to: moved far, or inserted."""
        if entry.kind != _RECORD:
            self.unreadable(entry)
        elif entry.seq > self.prev.seq and entry.hash not in self.recent:
            # Its place may be ahead: decided when the chain gets there.
            self.displaced[entry.seq] = entry
            if len(self.displaced) > _MAX_DISPLACED:
                self.report_inserted(self.displaced.popitem(last=False)[1])
        elif not self.fill_gap(entry):
            self.report_inserted(entry)
        if self.region is not None and not self.skipped:
            self.flush_region()

    def fill_gap(self, entry: _Entry) -> bool:
        """`entry` belongs in a gap reported earlier: turn that deletion into a reordering."""
        gap = self.gaps.pop(entry.seq, None)
        if gap is None or gap.prev_hash != entry.prev_hash:
            return False
        self.problems[gap.problem] = Problem(
            "reordered",
            self.stream,
            entry.file.path.name,
            entry.line,
            entry.seq,
            f"seq {entry.seq:,} is out of place: by the chain it belongs {gap.place}",
        )
        if gap.last > entry.seq:
            index = self.problem(
                "deleted",
                gap.after,
                entry.seq + 1,
                f"records {_span(entry.seq + 1, gap.last)} missing {gap.between}",
            )
            if index is not None:
                self.gaps[entry.seq + 1] = _Gap(
                    index, entry.hash, gap.last, gap.after, gap.place, gap.between
                )
        return True

    def report_inserted(self, entry: _Entry) -> None:
        original = self.recent.get(entry.hash)
        if original is not None and original.entry is not None:
            what = f"a copy of seq {original.seq:,} ({original.where})"
        else:
            what = f"a record with seq {entry.seq:,} that does not fit the chain"
        self.problem(
            "inserted", entry, entry.seq, f"{what}; the records around it chain without it"
        )

    def track_region(self, current: _Accepted) -> None:
        """Records taken out of file order: at the end, report the fewest that moved."""
        if self.region is None:
            self.region = []
            self.region_base = self.prev.entry.phys if self.prev.entry is not None else 0
        self.region.append(current)
        if not self.skipped or len(self.region) >= _MAX_REGION:
            self.flush_region()

    def flush_region(self) -> None:
        region, self.region = self.region or [], None
        positions = [a.entry.phys for a in region if a.entry is not None]
        keep = _longest_increasing(positions, floor=self.region_base)
        moved = [a for i, a in enumerate(region) if i not in keep]
        for accepted in moved:
            if accepted.entry is None:
                continue
            index = region.index(accepted)
            before = region[index - 1] if index else None
            after_text = (
                f"after seq {before.seq:,} ({before.where})"
                if before is not None
                else f"before seq {region[index + 1].seq:,} ({region[index + 1].where})"
                if index + 1 < len(region)
                else "elsewhere"
            )
            self.problem(
                "reordered",
                accepted.entry,
                accepted.seq,
                f"seq {accepted.seq:,} is out of order: by the chain it belongs {after_text}",
            )

    # ------------------------------------------------------------------ the end

    def finish(self) -> None:
        while self.displaced:
            self.report_inserted(self.displaced.popitem(last=False)[1])
        if self.region is not None:
            self.flush_region()
        cut = self.cut
        if cut is not None and cut.kind == _PARTIAL:
            self.note(
                f"partial line from an interrupted write at {cut.where}; the log is intact up "
                f"to seq {self.prev.seq:,}"
            )
        elif cut is not None:
            self.problem(
                "truncated",
                cut,
                None,
                f"{cut.file.path.name}: {cut.defect}; the records after line {cut.line - 1} "
                "cannot be read",
            )
        self.check_beginning()
        self.check_anchors()
        self.report_signatures()
        last = self.prev
        self.summary.closed = last.is_checkpoint("shutdown")
        if last.entry is None:
            return
        checkpoint = self.last_checkpoint
        if checkpoint is None:
            self.note(
                f"no checkpoint: all {_plural(self.summary.records, 'record')} are protected by "
                "the chain only"
            )
        elif last.seq > checkpoint.seq:
            self.note(
                f"{_plural(last.seq - checkpoint.seq, 'record')} after the last checkpoint (seq "
                f"{checkpoint.seq:,}) are protected by the chain only"
            )
        if not self.summary.closed:
            self.note(
                "the writer did not close the stream cleanly (crash or truncation after seq "
                f"{last.seq:,}), or it is still writing"
            )
        if self.unsigned_count:
            self.note(
                f"{_plural(self.unsigned_count, 'checkpoint')} unsigned (alg none; first at "
                f"{self.unsigned[0].where}): they do not protect against someone who can "
                "rewrite the files"
            )

    def check_beginning(self) -> None:
        """A stream that does not begin at seq 1: only retention may have removed records."""
        first = self.first
        if first is None or first.entry is None or self.first_from_genesis or first.seq == 1:
            return
        retained = self.retained_from
        if retained is None:
            self.problem(
                "deleted",
                first.entry,
                1,
                f"stream {self.stream} begins at seq {first.seq:,} ({first.where}): records "
                f"{_span(1, first.seq - 1)} are missing and no checkpoint says retention "
                "removed them",
            )
        elif first.seq > retained:
            self.problem(
                "deleted",
                first.entry,
                retained,
                f"stream {self.stream} begins at seq {first.seq:,} ({first.where}), but its "
                f"last checkpoint keeps records from seq {retained:,}: records "
                f"{_span(retained, first.seq - 1)} were deleted",
            )
        else:
            self.note(
                f"retention removed the records before seq {first.seq:,} (the last checkpoint "
                f"keeps them from seq {retained:,})"
            )

    def check_anchors(self) -> None:
        last = self.prev
        first_seq = self.summary.first_seq
        for seq, hash_ in sorted(self.anchors.items()):
            if seq in self.anchors_seen:
                continue
            anchor = f"{self.stream}:{seq}:{hash_[:16]}…"
            if last.entry is None or seq > last.seq:
                end = f"seq {last.seq:,} ({last.where})" if last.entry is not None else "nothing"
                self.problem(
                    "truncated",
                    last.entry,
                    seq,
                    f"the anchor {anchor} was recorded, but the stream ends at {end}: records "
                    f"after it were cut off",
                    line=last.entry.line + 1 if last.entry is not None else 0,
                )
            elif (
                first_seq is not None
                and seq < first_seq
                and (self.retained_from is not None and first_seq <= self.retained_from)
            ):
                self.note(f"the anchor {anchor} predates the records retention kept; not checked")
            else:
                self.problem(
                    "deleted",
                    None,
                    seq,
                    f"the anchored record {anchor} is missing from stream {self.stream}",
                )

    def report_signatures(self) -> None:
        mismatches = self.key_mismatches
        if not mismatches:
            return
        key_ids = {key_id for _, key_id in mismatches}
        expected = self.checker.key_id if self.checker is not None else ""
        if self.signed_ok == 0 and len(key_ids) == 1:
            entry, key_id = mismatches[0]
            self.problem(
                "signature",
                entry,
                entry.seq,
                f"all {len(mismatches):,} signed checkpoints were signed with key {key_id!r}, "
                f"not {expected!r}: give --key the key that signs this log (the "
                "Ed25519 public key or the HMAC secret), or the checkpoints were forged",
            )
            return
        for entry, key_id in mismatches:
            self.problem(
                "signature",
                entry,
                entry.seq,
                f"checkpoint seq {entry.seq:,} is signed with key {key_id!r}, not "
                f"{expected!r} like the others: forged",
            )


def _after_failed_write(entry: _Entry) -> bool:
    return (
        entry.type == records.START
        and entry.record is not None
        and entry.record.get("previous") == "write_failed"
    )


def _size(nbytes: int) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:,.1f} GB"
    return f"{nbytes / 1e6:,.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:,.1f} kB"


@dataclass(frozen=True)
class _Gap:
    """A reported deletion that a record found later in the wrong place may explain."""

    problem: int
    prev_hash: str
    """The hash the first missing record must name."""
    last: int
    after: _Entry
    place: str
    between: str


def _span(first: int, last: int) -> str:
    return f"seq {first:,}" if first == last else f"seq {first:,}..{last:,}"


def _numbers(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"{numbers[0]:06d}"
    return f"{numbers[0]:06d}..{numbers[-1]:06d}" if len(numbers) > 1 else ""


def _longest_increasing(values: list[int], *, floor: int) -> set[int]:
    """Indexes of one longest strictly increasing run of `values` (all above `floor`)."""
    tails: list[int] = []  # value at the end of the best run of each length
    tail_index: list[int] = []
    parent: list[int] = [-1] * len(values)
    for index, value in enumerate(values):
        if value <= floor:
            continue
        position = bisect.bisect_left(tails, value)
        if position == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[position] = value
            tail_index[position] = index
        parent[index] = tail_index[position - 1] if position else -1
    keep: set[int] = set()
    current = tail_index[-1] if tail_index else -1
    while current != -1:
        keep.add(current)
        current = parent[current]
    return keep


# ---------------------------------------------------------------------------- the command

_HELP = """\
Prove a decision-log directory complete and untouched, or say exactly where it is not.

Every stream's hash chain is followed through all its files (plain and gzip): a record that was
modified, deleted, inserted, reordered or cut off is reported as FILE:LINE: kind: message, and
the check goes on so that one run lists every problem. With --key the checkpoint signatures are
checked too (the Ed25519 public key, or the HMAC secret); without it they are not.

The last line says `intact: …` (exit status 0; notes such as a crash's partial line are
allowed) or `TAMPERED: N problems …` (exit status 1). For each intact stream an
`anchor STREAM:SEQ:HASH` line names its last record: keep it, and pass it with --anchor next
time, so that records cut off the end of the log since then are caught as well.

examples:
  quanze logs verify /var/log/quanze --key checkpoint.pub
  quanze logs verify /var/log/quanze --key checkpoint.pub --anchor w0:120345:3f5a…
  quanze logs verify /var/log/quanze --format json > verify.json
"""


def register(logs_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `verify` to the `quanze logs` commands."""
    parser = logs_commands.add_parser(
        "verify",
        help="prove a decision log complete and untouched, or say where it is not",
        description=_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="the decision-log directory")
    parser.add_argument(
        "--key",
        metavar="FILE",
        help="check checkpoint signatures with this Ed25519 public (or private) key or HMAC secret",
    )
    parser.add_argument(
        "--anchor",
        metavar="STREAM:SEQ:HASH",
        action="append",
        default=[],
        dest="anchors",
        help="a record hash noted from an earlier run (its `anchor` lines); fail if that record "
        "is gone or changed (repeatable)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    parser.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """`quanze logs verify`: 0 when intact, 1 when any problem was found."""
    report = verify_directory(
        Path(args.directory),
        key_file=Path(args.key) if args.key else None,
        anchors=args.anchors,
        progress=args.progress,
    )
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(report.render() + "\n")
    return 0 if report.ok else 1
