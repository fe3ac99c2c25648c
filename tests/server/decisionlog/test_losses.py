"""Records lost or refused, in the log itself: every checkpoint counts them since its writer
started, and `losses` sums each writer run's last checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanze.server.decisionlog import records
from quanze.server.decisionlog.central import append, connect, row_of
from quanze.server.decisionlog.central_schema import migrate
from quanze.server.decisionlog.losses import Losses, losses_in_database, losses_in_files, tally
from quanze.server.decisionlog.reader import read_lines
from quanze.server.decisionlog.sink import DecisionLog
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from tests.server.decisionlog.support import decision_record, records_in
from tests.server.decisionlog.test_writer import file_size_limit


def counts(directory: Path) -> list[tuple[str, int, int]]:
    return [
        (c["reason"], c["records_lost"], c["records_refused"])
        for c in records_in(directory, "checkpoint")
    ]


async def test_checkpoints_count_what_each_writer_run_could_not_log(tmp_path: Path) -> None:
    await two_runs(tmp_path)


async def test_the_central_store_counts_the_same(tmp_path: Path, database_url: str) -> None:
    log_dir = await two_runs(tmp_path)
    with connect(database_url) as conn:
        migrate(conn, applied_by="test")
        for stream, files in records.list_streams(log_dir).items():
            lines = [line for f in files for line in read_lines(f) if line.complete]
            rows = [row_of(line.raw, f"{stream}:{n}") for n, line in enumerate(lines, 1)]
            for source in ("pod-a", "pod-b"):  # two sidecars shipped a log like it
                append(conn, source, stream, rows)
        assert losses_in_database(conn) == Losses(2, 6, 4)
        assert losses_in_database(conn, ["pod-b"]) == Losses(1, 3, 2)
        assert losses_in_database(conn, ["pod-c"]) == Losses()


async def two_runs(tmp_path: Path) -> Path:
    """A log of two writer runs: one refused 3 records, the other lost 1; checked."""
    key = tmp_path / "hmac.key"
    key.write_bytes(b"a-secret-of-at-least-16-bytes")
    log_dir = tmp_path / "log"
    settings = WriterSettings(compress=False, checkpoint_records=1)

    def writer() -> StreamWriter:
        return StreamWriter(log_dir, settings=settings, signer=records.load_signer(key))

    # Run 1, required: a real disk-full refuses a call's three records (its answers deny).
    first = DecisionLog(writer(), mode="required")
    await first.start()
    assert await first.record([decision_record(0)])
    size = next(log_dir.glob("*.jsonl")).stat().st_size
    with file_size_limit(size + 600):
        assert not await first.record([decision_record(i) for i in range(1, 4)])
    assert await first.record([decision_record(4)])
    await first.close()
    # Run 2, best_effort: a record that could not be built is lost.
    second = DecisionLog(writer(), mode="best_effort")
    await second.start()
    assert await second.record_failed()
    assert await second.record([decision_record(5)])
    await second.close()

    # (A checkpoint after every record: after each start record and each write.)
    assert counts(log_dir) == [
        ("interval", 0, 0),
        ("interval", 0, 0),
        ("interval", 0, 3),
        ("shutdown", 0, 3),
        ("interval", 0, 0),  # counts start again with each writer
        ("interval", 1, 0),
        ("shutdown", 1, 0),
    ]
    assert (first.counters.records_refused, second.counters.records_lost) == (3, 1)
    # The signed message is unchanged and the chain covers the counts: still intact.
    report = verify_directory(log_dir, key_file=key)
    assert report.verdict == "intact", report.render()
    assert losses_in_files(records.list_streams(log_dir)) == Losses(1, 3, 2)
    return log_dir


def checkpoint(stamp: str, lost: int, refused: int = 0) -> dict[str, Any]:
    return {
        "type": "checkpoint",
        "timestamp": f"2026-11-{stamp}Z",
        "records_lost": lost,
        "records_refused": refused,
    }


START = {"type": "start", "timestamp": "2026-11-01T00:00:00.000000Z"}


def test_each_run_counts_its_last_checkpoint_and_a_period_what_it_added() -> None:
    run_one = [
        START,
        checkpoint("01T01:00:00.000000", 2, 1),
        checkpoint("02T01:00:00.000000", 5, 1),
        checkpoint("03T01:00:00.000000", 9, 4),
    ]
    run_two = [START, checkpoint("04T01:00:00.000000", 1, 0), checkpoint("05T01:00:00.000000", 3)]
    other_stream = [START, checkpoint("02T12:00:00.000000", 0, 7)]
    streams = [run_one + run_two, other_stream]
    assert tally(streams) == Losses(9 + 3, 4 + 0 + 7, 3)
    # Nov 2 to Nov 4 (exclusive): run one adds 9 - 2 and 4 - 1 after its Nov 1 checkpoint;
    # run two has no checkpoint there; the other stream's run 7 refusals.
    period = tally(streams, datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC))
    assert period == Losses(7, 3 + 7, 2)


def test_checkpoints_without_counts_count_nothing() -> None:
    older = {"type": "checkpoint", "timestamp": "2026-11-01T00:00:00.000000Z"}
    assert tally([[START, older, {**older, "records_lost": "many"}]]) == Losses(0, 0, 1)
