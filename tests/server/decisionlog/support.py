"""Decision logs for tests: records shaped as the sidecar writes them, by the real writer."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from quanze.server.clock import timestamp
from quanze.server.decisionlog import central, records
from quanze.server.decisionlog.central_schema import migrate
from quanze.server.decisionlog.reader import all_files, read_lines
from quanze.server.decisionlog.records import Signer
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings

ACTIONS = ("case.interrogate_suspect", "case.view", "decision.prosecute", "document.draft")
ROLES = ("procurator", "procurator_assistant", "clerk", "chief_procurator")
REVISIONS = ("a" * 40, "b" * 40)


def decision_record(
    index: int, *, rng: random.Random | None = None, **overrides: Any
) -> dict[str, Any]:
    """A decision record like the sidecar's (the writer adds type, seq and prev_hash)."""
    rng = rng or random.Random(index)
    allowed = rng.random() < 0.6
    action = rng.choice(ACTIONS)
    role = rng.choice(ROLES)
    moment = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=7 * index)
    reason = (
        {
            "code": "within_power_list",
            "article": "十四",
            "item": 0,
            "message_zh": "…",
            "message_en": "…",
        }
        if allowed
        else {
            "code": "not_handling_procurator",
            "article": "十七",
            "item": 1,
            "message_zh": "…",
            "message_en": "…",
        }
    )
    record: dict[str, Any] = {
        "timestamp": timestamp(moment),
        "decision_id": f"00000000-0000-4000-8000-{index:012d}",
        "rpc": "Check",
        "path": "quanze/authz/decision",
        "input": {
            "subject": {"type": "user", "id": f"u-{index % 17}", "properties": {"role": role}},
            "action": {"name": action},
            "resource": {"type": "case", "id": f"C-{index % 29}", "properties": {}},
            "context": {},
        },
        "result": allowed,
        "reasons": [reason],
        "obligations": [],
        "escalate_to": "" if allowed or index % 5 else "chief",
        "accountable": [],
        "bundles": {"quanze": {"revision": REVISIONS[index % 2]}},
        "metrics": {"timer_rego_query_eval_ns": 1_000_000, "timer_server_handler_ns": 1_200_000},
        "labels": {"id": "test-instance", "version": "0.1.0"},
        "caller": {
            "peer": "ipv4:127.0.0.1:50000",
            "certificate_subject": "",
            "certificate_sans": [],
        },
        "trace": {},
        "erased": [],
        "masked": [],
    }
    record.update(overrides)
    return record


def write_log(
    directory: Path,
    count: int,
    *,
    settings: WriterSettings | None = None,
    signer: Signer = records.UNSIGNED,
    batch: int = 10,
    close: bool = True,
    seed: int = 0,
) -> StreamWriter:
    """Write `count` decision records to a stream of `directory` with the real writer."""
    rng = random.Random(seed)
    writer = StreamWriter(directory, settings=settings, signer=signer, labels={"id": "test"})
    writer.open()
    pending: list[dict[str, Any]] = []
    for index in range(count):
        pending.append(decision_record(index, rng=rng))
        if len(pending) == batch:
            writer.append(pending)
            pending = []
    if pending:
        writer.append(pending)
    if close:
        writer.close()
    return writer


def records_in(directory: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Every complete record of `directory` (all streams, rotated and gzip files), of `kind`."""
    found = []
    for log_file in all_files(directory):
        for line in read_lines(log_file):
            if line.complete:
                record = json.loads(line.raw)
                if kind is None or record["type"] == kind:
                    found.append(record)
    return found


def write_streams(
    directory: Path,
    streams: Sequence[Sequence[dict[str, Any]]],
    *,
    settings: WriterSettings | None = None,
    batch: int = 10,
) -> list[StreamWriter]:
    """Write each list of decision records to its own stream of `directory`, interleaved.

    The writers are open at the same time, so each claims a different stream, as the writers
    of several worker processes do.
    """
    writers = [
        StreamWriter(directory, settings=settings, labels={"id": f"test-{n}"})
        for n in range(len(streams))
    ]
    for writer in writers:
        writer.open()
    for start in range(0, max((len(s) for s in streams), default=0), batch):
        for writer, stream in zip(writers, streams, strict=True):
            if stream[start : start + batch]:
                writer.append(stream[start : start + batch])
    for writer in writers:
        writer.close()
    return writers


def abandon(writer: StreamWriter) -> None:
    """Leave `writer` as a SIGKILL would: no shutdown checkpoint, its file and lock let go.

    Waits for rotated files to finish compressing first, so readers see a settled directory.
    """
    for thread in writer._compressions:
        thread.join()
    if writer._file is not None:
        writer._file.close()
        writer._file = None
    if writer._lock_file is not None:
        writer._lock_file.close()
        writer._lock_file = None


def stream_lines(directory: Path) -> dict[str, list[bytes]]:
    """Every complete line of every stream of `directory`, each stream's in order."""
    return {
        stream: [line.raw for f in files for line in read_lines(f) if line.complete]
        for stream, files in records.list_streams(directory).items()
    }


def load_directory(conn: psycopg.Connection, directory: Path, source: str) -> dict[str, int]:
    """Put every complete record of `directory` into the central store as shipped by `source`
    (each stream's rows in order, origin `FILE:LINE`); returns the rows per stream.

    A stand-in for `quanze logs ship` in the tests of reading the store. Records a failed
    write left behind (a seq the stream already passed) are left out, as a shipper must."""
    migrate(conn, applied_by="tests")
    loaded = {}
    for stream, files in records.list_streams(directory).items():
        rows: list[central.Row] = []
        for log_file in files:
            for line in read_lines(log_file):
                if not line.complete:
                    continue  # a write a crash cut short
                row = central.row_of(line.raw, f"{log_file.path.name}:{line.number}")
                if not rows or row.seq > rows[-1].seq:
                    rows.append(row)
        central.append(conn, source, stream, rows)
        loaded[stream] = len(rows)
    return loaded
