"""Following one stream's hash chain through its files, line by line.

Finding *where* a log was changed: the verifier follows the chain by hash rather than by position.
It keeps a window of the next `WINDOW` lines; the successor of the last accepted record is the
line in the window whose `prev_hash` is that record's hash (preferring one whose own successor is
also there). A successor found further ahead means the lines in between are out of place: taken
later by the chain they were *reordered* (the smallest set of moved records is reported, as the
complement of the longest run in file order); never taken, they were *inserted*, unless the
chain reaches their place later on (a record moved far: *reordered* again). No successor by hash
but one by `seq` means a record was *modified*; a jump in `seq` means records were *deleted*
(whole files, or a *truncated* file end, when it falls on a file boundary). Every problem is
reported and the check carries on, so one run lists all of them.

The rules each record is then held to are `verify_checks`'; what was passed over or found
missing is remembered by `verify_misplaced` until the chain shows which it was.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Iterator

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import Progress
from quanze.server.decisionlog.records import LogFile, SignatureChecker
from quanze.server.decisionlog.verify_checks import RecordChecks
from quanze.server.decisionlog.verify_lines import (
    DAMAGED,
    GARBAGE,
    PARTIAL,
    RECORD,
    WINDOW,
    Accepted,
    Entry,
    after_failed_write,
    stream_entries,
)
from quanze.server.decisionlog.verify_misplaced import Misplaced
from quanze.server.decisionlog.verify_report import Findings, StreamSummary, plural


class StreamCheck:
    """Follows one stream's chain through its files and collects what is wrong with it."""

    def __init__(
        self,
        summary: StreamSummary,
        entries: Iterator[Entry],
        numbers: Container[int],
        checker: SignatureChecker | None,
        anchors: dict[int, str],
    ) -> None:
        """`entries`: the stream's lines in order (from files, or rows of the central store);
        `numbers`: the file numbers the stream has (a hole between two is a deleted file)."""
        self.findings = Findings(summary)
        self.checks = RecordChecks(self.findings, checker, anchors, numbers)
        self.misplaced = Misplaced(self.findings, numbers)
        self.source = entries
        self.exhausted = False
        self.window: deque[Entry] = deque()
        self.skipped = 0
        """The window's first `skipped` entries were passed over by the chain (out of place)."""
        self.by_prev: dict[str, int] = {}
        """How many window records name each prev_hash: who has a successor in view."""
        self.prev = Accepted(None, 0, records.GENESIS_HASH, modified=False)
        self.accepted = 0
        self.first: Accepted | None = None
        self.first_from_genesis = False
        self.absorb = 0
        """Unreadable lines since the last record that stand where records should be."""
        self.lines_between = 0
        """Lines that are not records since the last record taken."""
        self.cut: Entry | None = None
        """An incomplete or damaged end of file that the next chain link must explain."""
        self.partial: Entry | None = None
        """A legitimate incomplete line (a crash) just before a start record."""

    @classmethod
    def of_files(
        cls,
        stream: str,
        files: list[LogFile],
        checker: SignatureChecker | None,
        anchors: dict[int, str],
        progress: Progress,
    ) -> StreamCheck:
        """The check of a stream of a log directory."""
        summary = StreamSummary(stream, files=len(files))
        summary.bytes = sum(f.path.stat().st_size for f in files if f.path.exists())
        entries = stream_entries(files, progress)
        return cls(summary, entries, {f.number for f in files}, checker, anchors)

    def fill(self) -> None:
        while len(self.window) - self.skipped < WINDOW and not self.exhausted:
            entry = next(self.source, None)
            if entry is None:
                self.exhausted = True
                break
            self.window.append(entry)
            if entry.kind == RECORD:
                self.by_prev[entry.prev_hash] = self.by_prev.get(entry.prev_hash, 0) + 1

    def remove(self, index: int) -> Entry:
        entry = self.window[index]
        del self.window[index]
        if index < self.skipped:
            self.skipped -= 1
        if entry.kind == RECORD:
            left = self.by_prev[entry.prev_hash] - 1
            if left:
                self.by_prev[entry.prev_hash] = left
            else:
                del self.by_prev[entry.prev_hash]
        return entry

    def has_successor(self, entry: Entry) -> bool:
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
                not after_failed_write(entry),
                entry.phys < after,
                index,
            )

        return min(candidates, key=rank)

    def run(self) -> Findings:
        """Follow the chain to the stream's end; what was found."""
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
            if front.kind != RECORD:
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
        return self.findings

    def follow(self, *, allow_gap: bool) -> bool:
        """Find the successor of the last accepted record in the window and accept it."""
        prev = self.prev
        window = self.window
        expected = prev.seq + 1
        records_at = [i for i, e in enumerate(window) if e.kind == RECORD]
        # 1. The record that names the previous one's hash: the chain's own successor.
        chained = [i for i in records_at if window[i].prev_hash == prev.hash]
        if chained:
            in_seq = [i for i in chained if window[i].seq == expected]
            index = self.pick(in_seq or chained)
            entry = window[index]
            if entry.seq != expected:
                self.findings.problem(
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
        stray = self.misplaced.take_displaced(prev)
        if stray is not None:
            self.take(stray, reported=True)
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
            self.misplaced.gap(prev, window[index], cut=self.cut, absorb=self.absorb)
            self.accept(index, reported=True)
            return True
        # 5. Nothing ahead continues the chain: the next line goes back in seq.
        index = self.skipped
        entry = window[index]
        original = self.misplaced.recent.get(entry.hash)
        if original is None and self.has_successor(entry) and window[-1] is not entry:
            # A whole run goes back (e.g. the chain restarts at seq 1): follow it rather than
            # report every line of it.
            self.findings.problem(
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
            self.findings.problem(
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
            self.findings.problem(
                "modified",
                prev.entry,
                prev.seq,
                f"seq {prev.seq:,} was modified: its hash no longer matches the prev_hash "
                f"of seq {entry.seq:,} ({entry.where})",
            )
            self.accept(index, reported=True)
        else:
            self.findings.problem(
                "modified",
                entry,
                entry.seq,
                f"seq {entry.seq:,} was modified: its prev_hash does not match seq "
                f"{prev.seq:,} ({prev.where}) and the record after it does not chain to it",
            )
            self.accept(index, modified=True, reported=True)

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
        passed: list[Entry] = []
        abandoned: list[Entry] = []
        if not was_skipped and index > self.skipped:
            # Lines between the chain's position and its successor: out of place for now.
            for skipped_index in range(self.skipped, index):
                self.window[skipped_index].skipped_at = self.accepted
            passed = [self.window[i] for i in range(index) if self.window[i].kind != RECORD]
            if after_failed_write(self.window[index]):
                number = self.window[index].file.number
                abandoned = [
                    self.window[i]
                    for i in range(self.skipped, index)
                    if self.window[i].kind == RECORD and self.window[i].file.number < number
                ]
            self.skipped = index
        entry = self.window[index]
        for record in abandoned:
            self.remove(self.window.index(record))
        if abandoned:
            self.findings.note(
                f"{plural(len(abandoned), 'record')} at {abandoned[0].where}.."
                f"{abandoned[-1].line} were left by a write that failed; the writer went on "
                f"without them (the start record at {entry.where} says write_failed)"
            )
        for other in passed:
            line = self.remove(self.window.index(other))
            if line.kind == GARBAGE:
                self.lines_between += 1
                self.findings.problem(
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
            in_region=was_skipped or self.skipped > 0 or self.misplaced.region is not None,
        )

    def take(
        self,
        entry: Entry,
        *,
        seq: int | None = None,
        modified: bool = False,
        reported: bool = False,
        in_region: bool = False,
    ) -> None:
        """Make `entry` the chain's last record, after checking it in its context."""
        prev = self.prev
        current = Accepted(entry, entry.seq if seq is None else seq, entry.hash, modified=modified)
        self.misplaced.taken(current, prev, skipped=self.skipped, in_region=in_region)
        cut = self.cut
        if cut is not None and not reported:  # a cut end of file that lost no records
            if cut.kind == PARTIAL:
                self.findings.problem(
                    "inserted",
                    cut,
                    None,
                    f"an incomplete line ({cut.defect}) that no start record follows; the chain "
                    "continues without it",
                )
            else:
                self.findings.problem("malformed", cut, None, f"{cut.file.path.name}: {cut.defect}")
        self.checks.check_link(
            prev,
            entry,
            current.seq,
            reported=reported,
            partial=self.partial,
            lines_between=self.lines_between,
        )
        self.checks.check_record(current, entry)
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
        summary = self.findings.summary
        summary.records += 1
        if summary.first_seq is None:
            summary.first_seq = current.seq
        summary.last_seq = current.seq
        summary.last_hash = entry.hash
        self.checks.check_anchor(current, entry)

    def unreadable(self, entry: Entry) -> None:
        """A line that is not a record: a crash's incomplete line, damage, or tampering."""
        prev = self.prev
        self.lines_between += 1
        if entry.kind == DAMAGED:
            self.cut = entry  # the next chain link tells whether records were lost
            return
        if entry.kind == PARTIAL:
            following = next((e for e in self.window if e.phys > entry.phys), None)
            upto = f"seq {prev.seq:,}" if prev.entry is not None else "its beginning"
            if following is None and self.exhausted:
                self.findings.note(
                    f"partial line from an interrupted write at {entry.where}; the log is "
                    f"intact up to {upto}"
                )
            elif following is not None and following.type == records.START:
                self.partial = entry
                self.findings.note(
                    f"partial line from an interrupted write at {entry.where}; the log is "
                    f"intact up to {upto}"
                )
            else:
                self.cut = entry  # the next chain link tells whether records were lost
            return
        if prev.hash in self.by_prev:
            self.findings.problem(
                "inserted",
                entry,
                None,
                f"a line that is not a record ({entry.defect}); the chain continues without it",
            )
        else:
            self.absorb += 1
            self.findings.problem(
                "malformed",
                entry,
                prev.seq + self.absorb,
                f"a line that is not a record ({entry.defect}) where seq "
                f"{prev.seq + self.absorb:,} should be",
            )

    def evict_stale(self) -> None:
        while self.skipped and self.accepted - self.window[0].skipped_at > WINDOW:
            self.evict(self.remove(0))

    def evict(self, entry: Entry) -> None:
        """A record the chain passed over and did not come back to: moved far, or inserted."""
        misplaced = self.misplaced
        if entry.kind != RECORD:
            self.unreadable(entry)
        elif entry.seq > self.prev.seq and entry.hash not in misplaced.recent:
            misplaced.displace(entry)  # its place may be ahead
        elif not misplaced.fill_gap(entry):
            misplaced.report_inserted(entry)
        if misplaced.region is not None and not self.skipped:
            misplaced.flush_region()

    def finish(self) -> None:
        self.misplaced.finish()
        cut = self.cut
        if cut is not None and cut.kind == PARTIAL:
            self.findings.note(
                f"partial line from an interrupted write at {cut.where}; the log is intact up "
                f"to seq {self.prev.seq:,}"
            )
        elif cut is not None:
            self.findings.problem(
                "truncated",
                cut,
                None,
                f"{cut.file.path.name}: {cut.defect}; the records after line {cut.line - 1} "
                "cannot be read",
            )
        self.checks.finish(self.first, self.prev, from_genesis=self.first_from_genesis)
