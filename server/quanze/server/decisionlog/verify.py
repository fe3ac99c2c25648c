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
- checkpoint signatures hold (given `--key`; without it a signed log is only `unverified`);
- a writer that found its file or directory deleted or replaced while serving says so in its
  next `start` record (`previous: reopened`): reported as such, not as tampering, when the chain
  bears out what it says (`verify_report` explains the verdicts);
- `--anchor STREAM:SEQ:HASH` records noted down earlier are still there, unchanged.

The work is split by job: `verify_lines` reads and parses a stream's lines, `verify_chain`
follows the chain through them (how each kind of change is told apart is explained there),
`verify_checks` holds the rules each record keeps where the chain puts it, `verify_misplaced`
remembers what was missing, moved or inserted, and `verify_report` the findings and their text
and JSON.

What the chain cannot show: the hash chain is unkeyed, so records cut off the end of a stream,
or a tail rewritten with fresh hashes, still chain. Signed checkpoints (with `--key`) catch a
rewrite up to the last checkpoint; anchors kept from an earlier run catch a cut-off tail.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from quanze.server.decisionlog import records
from quanze.server.decisionlog.reader import log_directory, progress_for
from quanze.server.decisionlog.records import SignatureChecker
from quanze.server.decisionlog.verify_chain import StreamCheck
from quanze.server.decisionlog.verify_report import VerifyReport, parse_anchor
from quanze.server.errors import QuanzeError


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
    try:
        for stream, files in streams.items():
            wanted = {a.seq: a.hash for a in parsed if a.stream == stream}
            report.add(StreamCheck.of_files(stream, files, checker, wanted, shown).run())
    finally:
        shown.finish()
    report.missing_streams(parsed, f"files in {directory}")
    return report
