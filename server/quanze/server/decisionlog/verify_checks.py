"""The rules a record must keep where the chain puts it, and a stream's at its end.

Between two consecutive records (`check_link`): file numbers without holes, a rotation
checkpoint ending its file, only a start record after a shutdown, and a start record that says
truthfully how the previous run ended. On each record (`check_record`): its fields, and a
checkpoint's stream, reason, retention and signature; an anchor noted down for it
(`check_anchor`). At the end (`finish`): where the stream begins (retention, or a directory the
writer lost and said so), the anchors never reached, the signatures as a whole, and what only
the chain protects.
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import Any

from quanze.server.decisionlog import records
from quanze.server.decisionlog.records import SignatureChecker
from quanze.server.decisionlog.render import printable
from quanze.server.decisionlog.verify_lines import Accepted, Entry
from quanze.server.decisionlog.verify_report import (
    MAX_PROBLEMS,
    Findings,
    file_numbers,
    plural,
    seq_span,
)

CHECKPOINT_REASONS = ("interval", "rotation", "shutdown")
START_PREVIOUS = ("new", "closed", "unclosed", "write_failed", "reopened")
_FAULTS = {
    "file_deleted": "its file {file} deleted",
    "file_moved": "its file {file} moved away",
    "file_replaced": "another file in place of its file {file}",
    "directory_deleted": "its directory deleted",
    "directory_moved": "its directory moved away",
    "directory_replaced": "another directory in place of its own",
}
"""What a `reopened` start record's `fault` says the writer found, as a verify report says it."""
SIGNATURE_ALGORITHMS = ("hmac-sha256", "ed25519", "none")


class RecordChecks:
    """The rules of one stream's records, and what they need to remember: checkpoints, keys."""

    def __init__(
        self,
        findings: Findings,
        checker: SignatureChecker | None,
        anchors: dict[int, str],
        numbers: Container[int],
    ) -> None:
        self.findings = findings
        self.stream = findings.stream
        self.writer_stream = self.stream.rpartition("/")[2]
        """The stream's name as its writer knew it (checkpoints name and sign it): the same
        in a directory; in the central store, without the `<source>/` prefix."""
        self.checker = checker
        self.anchors = anchors
        self.anchors_seen: set[int] = set()
        self.numbers = numbers
        """The stream's file numbers."""
        self.last_checkpoint: Accepted | None = None
        self.retained_from: int | None = None
        self.unsigned: list[Entry] = []
        self.unsigned_count = 0
        self.signed_ok = 0
        self.key_mismatches: list[tuple[Entry, str]] = []
        self.lost_claims: list[tuple[Entry, int, int, str]] = []
        """(start record, first, last seq, fault) of records a writer said it lost with its
        directory."""

    def check_link(
        self,
        prev: Accepted,
        entry: Entry,
        seq: int,
        *,
        reported: bool,
        partial: Entry | None,
        lines_between: int,
    ) -> None:
        """File-boundary, start and shutdown rules between two consecutive records.

        `partial` is a crash's incomplete line just before `entry`; `lines_between` counts the
        lines that are not records between the two.
        """
        before = prev.entry
        if before is None:
            previous = entry.record.get("previous") if entry.record is not None else None
            if entry.type == records.START and previous not in START_PREVIOUS:
                self.findings.problem(
                    "malformed", entry, seq, f"start record with previous={previous!r}"
                )
            return
        missing = [
            n for n in range(before.file.number + 1, entry.file.number) if n not in self.numbers
        ]
        if missing and not reported:
            self.findings.problem(
                "deleted",
                entry,
                seq,
                f"file number {file_numbers(missing)} of stream {self.stream} is missing between "
                f"{before.file.path.name} and {entry.file.path.name} (the chain continues, so "
                "it held no records)",
            )
        if entry.type == records.START:
            self.check_start(prev, entry, seq, reported=reported, partial=partial)
        elif not reported and entry.phys == before.phys + 1 + lines_between:
            # Only for neighbours in the files: a reordering is reported as one already.
            self.check_order(prev, before, entry, seq)

    def check_order(self, prev: Accepted, before: Entry, entry: Entry, seq: int) -> None:
        """Where a run or a file may end: shutdown, then start; rotation, then a new file."""
        same_file = before.file == entry.file
        if prev.is_checkpoint("shutdown"):
            self.findings.problem(
                "inserted",
                entry,
                seq,
                f"seq {seq:,} follows the shutdown checkpoint seq {prev.seq:,} ({prev.where}); "
                "only a start record may follow one",
            )
        elif same_file and prev.is_checkpoint("rotation"):
            self.findings.problem(
                "inserted",
                entry,
                seq,
                f"seq {seq:,} follows the rotation checkpoint seq {prev.seq:,} in the same file; "
                "a rotation checkpoint is the last record of its file",
            )
        elif not same_file and not prev.is_checkpoint("rotation"):
            self.findings.problem(
                "truncated",
                before,
                prev.seq + 1,
                f"{before.file.path.name} ends at seq {prev.seq:,} without its rotation "
                f"checkpoint, and {entry.file.path.name} does not begin with a start record",
                line=before.line + 1,
            )

    def check_start(
        self, prev: Accepted, entry: Entry, seq: int, *, reported: bool, partial: Entry | None
    ) -> None:
        """A start record must say truthfully how the previous run ended."""
        record = entry.record or {}
        previous = record.get("previous")
        if entry.line != 1:
            self.findings.problem(
                "malformed",
                entry,
                seq,
                "a start record that is not the first line of its file (a writer always "
                "starts a new file)",
            )
        if previous not in START_PREVIOUS:
            self.findings.problem(
                "malformed", entry, seq, f"start record with previous={previous!r}"
            )
            return
        if previous == "reopened":
            self.check_reopen(prev, entry, seq, record, reported=reported)
            return
        if previous == "unclosed":
            self.findings.note(
                f"the writer restarted after a crash at {entry.where} (seq {seq:,}; "
                f"the run before ended at seq {prev.seq:,}, {prev.where})"
            )
        elif previous == "write_failed":
            self.findings.note(
                f"the writer started a new file at {entry.where} after a write failed (seq {seq:,})"
            )
        if reported:
            return
        shut = prev.is_checkpoint("shutdown")
        if previous == "new":
            self.findings.problem(
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
            self.findings.problem(
                kind,
                where,
                seq,
                f"the start record at {entry.where} says the previous run closed cleanly, "
                f"but {why}",
            )
        elif previous == "unclosed" and shut and partial is None:
            self.findings.problem(
                "malformed",
                entry,
                seq,
                "the start record says the previous run crashed, but that run ended with a "
                f"shutdown checkpoint (seq {prev.seq:,}, {prev.where})",
            )
        named = record.get("partial_line")
        if partial is not None and previous == "unclosed" and not isinstance(named, dict):
            self.findings.problem(
                "inserted",
                partial,
                None,
                f"an incomplete line the start record at {entry.where} does not mention: it "
                "was added after the writer restarted",
            )
        elif isinstance(named, dict) and partial is None:
            self.findings.note(
                f"the start record at {entry.where} mentions a partial line at "
                # What a record says is shown escaped: it could carry terminal controls.
                f"{printable(str(named.get('file')))}:{printable(str(named.get('line')))}, "
                "which is no longer there"
            )

    def check_reopen(
        self, prev: Accepted, entry: Entry, seq: int, record: dict[str, Any], *, reported: bool
    ) -> None:
        """A writer that found its file or directory gone and put back what it had written: an
        event to report (not tampering), and a claim the chain must bear out."""
        fault = record.get("fault")
        restored = record.get("restored")
        seqs = restored.get("seqs") if isinstance(restored, dict) else None
        name = restored.get("file") if isinstance(restored, dict) else None
        lost = record.get("lost_seqs")
        foreign = record.get("foreign_file")
        # Names are checked before they are shown: a record must not write to the terminal.
        if (
            fault not in _FAULTS
            or not isinstance(name, str)
            or records.parse_file_name(Path(name)) is None
            or not isinstance(seqs, list)
            or not _is_span(seqs, allow_empty=True)
            or (lost is not None and not _is_span(lost))
            or (foreign is not None and not _is_foreign_name(foreign, name))
        ):
            self.findings.problem(
                "malformed",
                entry,
                seq,
                f"a reopened start record with fault {fault!r}, restored {restored!r} and "
                f"foreign_file {foreign!r} does not say what the writer found and put back",
            )
            return
        first, last = seqs
        found = _FAULTS[fault].format(file=name)
        held = (
            f"{plural(last - first + 1, 'record')}, {seq_span(first, last)}"
            if last >= first
            else "no record yet"
        )
        did = (
            f"put that file back ({held})"
            if fault.startswith("file")
            else f"put back {name}, the file it had open ({held}),"
        )
        message = f"the writer found {found} while serving; it {did} and went on here"
        if foreign is not None:
            message += f"; the file found in its place is now {foreign}"
        if lost is not None:
            message += (
                f"; records {seq_span(*lost)} were in the stream's other files there, which it "
                "could not put back"
            )
            self.lost_claims.append((entry, lost[0], lost[1], str(fault)))
        self.findings.reopened(entry, seq, message)
        before = prev.entry
        if reported or before is None or (before.file.path.name == name and prev.seq == last):
            return
        self.findings.problem(
            "malformed",
            entry,
            seq,
            f"the start record says the writer put back {name} up to seq {last:,}, but the "
            f"record before it is seq {prev.seq:,} ({prev.where})",
        )

    def check_record(self, current: Accepted, entry: Entry) -> None:
        """Rules for one record on its own: fields, checkpoints and their signatures."""
        if entry.defect:
            self.findings.problem("malformed", entry, current.seq, entry.defect)
            return
        record = entry.record
        if entry.type != records.CHECKPOINT or record is None:
            return
        seq = current.seq
        self.findings.summary.checkpoints += 1
        self.last_checkpoint = current
        self.findings.summary.last_checkpoint_seq = seq
        self.findings.summary.last_checkpoint_time = str(record.get("timestamp"))
        reason = record.get("reason")
        self.findings.summary.last_checkpoint_reason = str(reason)
        if reason not in CHECKPOINT_REASONS:
            self.findings.problem("malformed", entry, seq, f"checkpoint with reason {reason!r}")
        if record.get("stream") != self.writer_stream:
            self.findings.problem(
                "modified",
                entry,
                seq,
                f"the checkpoint names stream {record.get('stream')!r}, but its file belongs to "
                f"stream {self.stream}",
            )
        retained = record.get("retained_from_seq", 1)
        if type(retained) is not int or retained < 1:
            self.findings.problem(
                "malformed", entry, seq, f"retained_from_seq {retained!r} is not a seq"
            )
        else:
            self.retained_from = retained
        self.check_signature(entry, seq, record)

    def check_signature(self, entry: Entry, seq: int, record: dict[str, Any]) -> None:
        signature = record.get("signature")
        if not isinstance(signature, dict) or signature.get("alg") not in SIGNATURE_ALGORITHMS:
            self.findings.problem(
                "malformed", entry, seq, "the checkpoint has no valid signature field"
            )
            return
        checker = self.checker
        if signature.get("alg") == "none":
            self.unsigned_count += 1
            if not self.unsigned:
                self.unsigned.append(entry)
            return
        if checker is None:
            self.findings.unchecked_signatures += 1
            return
        why = checker.problem(signature, records.checkpoint_message(record, self.writer_stream))
        if not why:
            self.signed_ok += 1
        elif signature.get("key_id") != checker.key_id and len(self.key_mismatches) < MAX_PROBLEMS:
            # Held back: if no checkpoint fits the key, the key is wrong (one problem, not many).
            self.key_mismatches.append((entry, str(signature.get("key_id"))))
        else:
            self.findings.problem(
                "signature",
                entry,
                seq,
                f"checkpoint seq {seq:,}: {why} (forged, or its signed fields — seq, prev_hash, "
                "timestamp, retained_from_seq — were changed)",
            )

    def check_anchor(self, current: Accepted, entry: Entry) -> None:
        """A record an anchor was noted down for must still have the anchored hash."""
        expected_hash = self.anchors.get(current.seq)
        if expected_hash is not None:
            self.anchors_seen.add(current.seq)
            if expected_hash != entry.hash:
                self.findings.problem(
                    "modified",
                    entry,
                    current.seq,
                    f"seq {current.seq:,} differs from the anchor {self.stream}:{current.seq}:"
                    f"{expected_hash[:16]}… recorded earlier (its hash is now {entry.hash[:16]}…)",
                )

    def finish(self, first: Accepted | None, last: Accepted, *, from_genesis: bool) -> None:
        """The stream's rules at its end, and notes on what protects its last records."""
        self.check_beginning(first, from_genesis=from_genesis)
        self.check_anchors(last)
        self.report_signatures()
        summary = self.findings.summary
        summary.closed = last.is_checkpoint("shutdown")
        if last.entry is None:
            return
        checkpoint = self.last_checkpoint
        if checkpoint is None:
            self.findings.note(
                f"no checkpoint: all {plural(summary.records, 'record')} are protected by "
                "the chain only"
            )
        elif last.seq > checkpoint.seq:
            self.findings.note(
                f"{plural(last.seq - checkpoint.seq, 'record')} after the last checkpoint (seq "
                f"{checkpoint.seq:,}) are protected by the chain only"
            )
        if not summary.closed:
            self.findings.note(
                "the writer did not close the stream cleanly (crash or truncation after seq "
                f"{last.seq:,}), or it is still writing"
            )
        if self.unsigned_count:
            self.findings.note(
                f"{plural(self.unsigned_count, 'checkpoint')} unsigned (alg none; first at "
                f"{self.unsigned[0].where}): they do not protect against someone who can "
                "rewrite the files"
            )

    def check_beginning(self, first: Accepted | None, *, from_genesis: bool) -> None:
        """A stream that does not begin at seq 1: only retention may have removed records, or
        the loss of a directory that the writer reported."""
        if first is None or first.entry is None or from_genesis or first.seq == 1:
            return
        retained = self.retained_from
        # Kept from `kept`: what a writer said it lost with its directory explains the rest.
        kept = 1 if retained is None else retained
        claim = next((c for c in self.lost_claims if c[2] == first.seq - 1), None)
        if first.seq > kept and claim is not None and claim[1] <= kept:
            start, _, _, fault = claim
            self.findings.lose(
                first.entry,
                kept,
                first.seq - kept,
                f"records {seq_span(kept, first.seq - 1)} of stream {self.stream} are not "
                f"here: the writer lost them with its directory ({fault}), as its start record "
                f"at {start.where} says",
            )
        elif retained is None:
            self.findings.problem(
                "deleted",
                first.entry,
                1,
                f"stream {self.stream} begins at seq {first.seq:,} ({first.where}): records "
                f"{seq_span(1, first.seq - 1)} are missing and no checkpoint says retention "
                "removed them",
            )
        elif first.seq > retained:
            self.findings.problem(
                "deleted",
                first.entry,
                retained,
                f"stream {self.stream} begins at seq {first.seq:,} ({first.where}), but its "
                f"last checkpoint keeps records from seq {retained:,}: records "
                f"{seq_span(retained, first.seq - 1)} were deleted",
            )
        else:
            self.findings.note(
                f"retention removed the records before seq {first.seq:,} (the last checkpoint "
                f"keeps them from seq {retained:,})"
            )

    def check_anchors(self, last: Accepted) -> None:
        """Anchors the chain never reached: records cut off the end, or deleted."""
        first_seq = self.findings.summary.first_seq
        for seq, hash_ in sorted(self.anchors.items()):
            if seq in self.anchors_seen:
                continue
            anchor = f"{self.stream}:{seq}:{hash_[:16]}…"
            if last.entry is None or seq > last.seq:
                end = f"seq {last.seq:,} ({last.where})" if last.entry is not None else "nothing"
                self.findings.problem(
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
                self.findings.note(
                    f"the anchor {anchor} predates the records retention kept; not checked"
                )
            else:
                self.findings.problem(
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
            self.findings.problem(
                "signature",
                entry,
                entry.seq,
                f"all {len(mismatches):,} signed checkpoints were signed with key {key_id!r}, "
                f"not {expected!r}: give --key the key that signs this log (the "
                "Ed25519 public key or the HMAC secret), or the checkpoints were forged",
            )
            return
        for entry, key_id in mismatches:
            self.findings.problem(
                "signature",
                entry,
                entry.seq,
                f"checkpoint seq {entry.seq:,} is signed with key {key_id!r}, not "
                f"{expected!r} like the others: forged",
            )


def _is_span(value: Any, *, allow_empty: bool = False) -> bool:
    """`[first, last]`: seqs, first no later than last (or just past it, `allow_empty`)."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(type(seq) is int and seq >= 1 for seq in value)
        and value[0] <= value[1] + (1 if allow_empty else 0)
    )


def _is_foreign_name(value: Any, name: str) -> bool:
    """The name the writer gives a file it found in place of `name`: `<name>.foreign-…`."""
    return (
        isinstance(value, str)
        and value.startswith(f"{name}.foreign-")
        and value.isprintable()
        and "/" not in value
    )
