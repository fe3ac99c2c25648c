"""Records the chain does not find in their place: missing, moved far, or inserted.

A jump in `seq` is reported as a deletion at once (`gap`), and remembered: a record found later
that fills it turns the deletion into a reordering (`fill_gap`). A record the chain passed over
and did not come back to is remembered while its seq is still to come (`displace`): taken there
it was moved far (`take_displaced`), never taken it was inserted. Records taken out of file
order form a region, reported when it ends as the fewest records that moved (`flush_region`).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass

from quanze.server.decisionlog.verify_lines import WINDOW, Accepted, Entry
from quanze.server.decisionlog.verify_report import Findings, Problem, file_numbers, seq_span

_RECENT = 64
"""Accepted records remembered to name the original of a copied line."""
_MAX_REGION = 4 * WINDOW
_MAX_DISPLACED = 1024
"""Passed-over records and deletions remembered to pair records moved far from their place."""


@dataclass(frozen=True)
class _Gap:
    """A reported deletion that a record found later in the wrong place may explain."""

    problem: int
    prev_hash: str
    """The hash the first missing record must name."""
    last: int
    after: Entry
    place: str
    between: str


class Misplaced:
    """What one stream's chain passed over or found missing, until it is known which it was."""

    def __init__(self, findings: Findings, numbers: Container[int]) -> None:
        self.findings = findings
        self.stream = findings.stream
        self.numbers = numbers
        """The stream's file numbers."""
        self.recent: OrderedDict[str, Accepted] = OrderedDict()
        self.displaced: OrderedDict[int, Entry] = OrderedDict()
        """Records the chain passed over whose seq is still to come: maybe moved backwards."""
        self.gaps: OrderedDict[int, _Gap] = OrderedDict()
        """Recent deletions by first missing seq: a record found later may fill them (moved)."""
        self.region: list[Accepted] | None = None
        self.region_base = 0

    def taken(self, current: Accepted, prev: Accepted, *, skipped: int, in_region: bool) -> None:
        """`current` is taken after `prev`: tracked when out of file order (`in_region`); a
        record passed over with its seq was inserted; it is remembered to name copies of it."""
        if in_region:
            self.track_region(current, prev, skipped=skipped)
        stray = self.displaced.pop(current.seq, None)
        if stray is not None:
            self.report_inserted(stray)
        self.recent[current.hash] = current
        if len(self.recent) > _RECENT:
            self.recent.popitem(last=False)

    def displace(self, entry: Entry) -> None:
        """A record passed over whose place may be ahead: decided when the chain gets there."""
        self.displaced[entry.seq] = entry
        if len(self.displaced) > _MAX_DISPLACED:
            self.report_inserted(self.displaced.popitem(last=False)[1])

    def finish(self) -> None:
        """At the stream's end: records still displaced were inserted; the last region ends."""
        while self.displaced:
            self.report_inserted(self.displaced.popitem(last=False)[1])
        if self.region is not None:
            self.flush_region()

    def gap(self, prev: Accepted, after: Entry, *, cut: Entry | None, absorb: int) -> None:
        """Records prev.seq+1 .. after.seq-1 are missing before `after`: say where and how.

        `cut` is an incomplete or damaged end of file before `after`; `absorb` counts the
        unreadable lines that stand where records should be (reported already).
        """
        first, last = prev.seq + 1, after.seq - 1
        if prev.entry is None:
            return  # the stream begins after seq 1: judged at the end against retention
        missing = last - first + 1 - absorb
        if missing <= 0:
            return
        span = seq_span(first, last)
        between = f"between {_at(prev.where, prev.seq)} and {_at(after.where, after.seq)}"
        before, later = prev.entry.file, after.file
        holes = [n for n in range(before.number + 1, later.number) if n not in self.numbers]
        if cut is not None:
            index = self.findings.problem(
                "truncated",
                cut,
                first,
                f"{cut.file.path.name} was cut at line {cut.line} ({cut.defect}): records "
                f"{span} are missing; {later.path.name if later != cut.file else 'it'} "
                f"continues at seq {after.seq:,}",
            )
        elif holes:
            index = self.findings.problem(
                "deleted",
                after,
                first,
                f"file number {file_numbers(holes)} of stream {self.stream} is missing: records "
                f"{span} missing {between}",
            )
        elif before != later and not (
            prev.is_checkpoint("rotation") or prev.is_checkpoint("shutdown")
        ):
            index = self.findings.problem(
                "truncated",
                prev.entry,
                first,
                f"{before.path.name} ends early after seq {prev.seq:,} (line {prev.entry.line}): "
                f"records {span} are missing; {later.path.name} continues at seq {after.seq:,}",
                line=prev.entry.line + 1,
            )
        elif before != later:
            index = self.findings.problem(
                "deleted",
                after,
                first,
                f"records {span} missing at the beginning of {later.path.name}, {between}",
            )
        else:
            index = self.findings.problem(
                "deleted", after, first, f"records {span} missing {between}"
            )
        if index is not None:
            place = f"between seq {prev.seq:,} ({prev.where}) and seq {after.seq:,} ({after.where})"
            self.gaps[first] = _Gap(index, prev.hash, last, after, place, between)
            if len(self.gaps) > _MAX_DISPLACED:
                self.gaps.popitem(last=False)

    def fill_gap(self, entry: Entry) -> bool:
        """`entry` belongs in a gap reported earlier: turn that deletion into a reordering."""
        gap = self.gaps.pop(entry.seq, None)
        if gap is None or gap.prev_hash != entry.prev_hash:
            return False
        self.findings.problems[gap.problem] = Problem(
            "reordered",
            self.stream,
            entry.file.path.name,
            entry.line,
            entry.seq,
            f"seq {entry.seq:,} is out of place: by the chain it belongs {gap.place}",
        )
        if gap.last > entry.seq:
            index = self.findings.problem(
                "deleted",
                gap.after,
                entry.seq + 1,
                f"records {seq_span(entry.seq + 1, gap.last)} missing {gap.between}",
            )
            if index is not None:
                self.gaps[entry.seq + 1] = _Gap(
                    index, entry.hash, gap.last, gap.after, gap.place, gap.between
                )
        return True

    def report_inserted(self, entry: Entry) -> None:
        original = self.recent.get(entry.hash)
        if original is not None and original.entry is not None:
            what = f"a copy of seq {original.seq:,} ({original.where})"
        else:
            what = f"a record with seq {entry.seq:,} that does not fit the chain"
        self.findings.problem(
            "inserted", entry, entry.seq, f"{what}; the records around it chain without it"
        )

    def track_region(self, current: Accepted, prev: Accepted, *, skipped: int) -> None:
        """Records taken out of file order: at the end, report the fewest that moved."""
        if self.region is None:
            self.region = []
            self.region_base = prev.entry.phys if prev.entry is not None else 0
        self.region.append(current)
        if not skipped or len(self.region) >= _MAX_REGION:
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
            self.findings.problem(
                "reordered",
                accepted.entry,
                accepted.seq,
                f"seq {accepted.seq:,} is out of order: by the chain it belongs {after_text}",
            )

    def take_displaced(self, prev: Accepted) -> Entry | None:
        """The record passed over earlier that fits the chain after `prev`, if there is one."""
        stray = self.displaced.pop(prev.seq + 1, None)
        if stray is None:
            return None
        if stray.prev_hash != prev.hash:
            self.report_inserted(stray)
            return None
        self.findings.problem(
            "reordered",
            stray,
            stray.seq,
            f"seq {stray.seq:,} is out of place: by the chain it belongs after seq "
            f"{prev.seq:,} ({prev.where})",
        )
        return stray


def _at(where: str, seq: int) -> str:
    """A record's place and seq, once: a row of the central store is named by its seq."""
    return where if where.endswith(f" seq {seq:,}") else f"{where} (seq {seq:,})"


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
