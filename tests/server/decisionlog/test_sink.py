"""DecisionLog's modes, group commit and backpressure, isolated from the disk by a writer double.

The same behaviour on a real disk is proven in tests/integration/test_decision_log.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from quanze.server.decisionlog.sink import DecisionLog


class WriterDouble:
    """Records what it is asked to write; fails or blocks when told to."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {"stream": "w0"}
        self.batches: list[list[Any]] = []
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()
        self.closed = False
        self.bytes_written = 0
        self.last_checkpoint_at: float | None = None
        self.stream = "w0"

    def open(self) -> None:
        pass

    def append(self, batch: Sequence[Mapping[str, Any]]) -> None:
        self.gate.wait(5)
        if self.fail:
            raise OSError(28, "No space left on device")
        self.batches.append(list(batch))
        self.bytes_written += 100 * len(batch)

    def tick(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def decision_log(writer: WriterDouble, **options: Any) -> DecisionLog:
    return DecisionLog(writer, **options)  # type: ignore[arg-type]


async def test_required_waits_for_the_write_and_reports_failure() -> None:
    writer = WriterDouble()
    log = decision_log(writer, mode="required")
    await log.start()
    assert await log.record([{"decision_id": "a"}]) is True
    writer.fail = True
    assert await log.record([{"decision_id": "b"}, {"decision_id": "c"}]) is False
    await log.close()
    assert writer.batches == [[{"decision_id": "a"}]]
    assert log.counters.decisions_logged == 1
    assert log.counters.records_refused == 2
    assert log.counters.records_lost == 0
    assert writer.closed


async def test_concurrent_calls_share_one_write() -> None:
    writer = WriterDouble()
    log = decision_log(writer, mode="required")
    await log.start()
    writer.gate.clear()
    first = asyncio.create_task(log.record([{"decision_id": "first"}]))
    await asyncio.sleep(0.05)  # the first batch is now blocked in the writer
    rest = [asyncio.create_task(log.record([{"decision_id": str(i)}])) for i in range(20)]
    await asyncio.sleep(0.05)
    writer.gate.set()
    assert all(await asyncio.gather(first, *rest))
    await log.close()
    assert len(writer.batches) == 2  # the 20 waiting calls were written together
    assert len(writer.batches[1]) == 20


async def test_best_effort_answers_at_once_and_counts_every_loss() -> None:
    writer = WriterDouble()
    writer.fail = True
    log = decision_log(writer, mode="best_effort")
    await log.start()
    assert await log.record([{"decision_id": "a"}, {"decision_id": "b"}]) is True
    await asyncio.sleep(0.1)
    assert log.counters.records_lost == 2
    writer.fail = False
    writer.gate.clear()
    log_small = decision_log(WriterDouble(), mode="best_effort", buffer_records=3)
    await log_small.start()
    inner: Any = log_small.writer
    inner.gate.clear()
    for i in range(5):  # the first is taken by the writer, three fit, the fifth is lost
        assert await log_small.record([{"decision_id": str(i)}]) is True
        await asyncio.sleep(0.01)
    assert log_small.counters.records_lost == 1
    inner.gate.set()
    writer.gate.set()
    await log_small.close()
    await log.close()
    assert sum(len(b) for b in inner.batches) == 4


async def test_required_callers_wait_for_room_instead_of_growing_the_buffer() -> None:
    writer = WriterDouble()
    log = decision_log(writer, mode="required", buffer_records=2)
    await log.start()
    writer.gate.clear()
    calls = [asyncio.create_task(log.record([{"decision_id": str(i)}])) for i in range(6)]
    await asyncio.sleep(0.1)
    assert log._pending_records <= 2
    assert not any(c.done() for c in calls)
    writer.gate.set()
    assert all(await asyncio.gather(*calls))
    await log.close()
    assert sorted(r["decision_id"] for b in writer.batches for r in b) == [str(i) for i in range(6)]


async def test_records_pending_at_close_are_written_before_the_seal() -> None:
    writer = WriterDouble()
    log = decision_log(writer, mode="best_effort")
    await log.start()
    await log.record([{"decision_id": "late"}])
    await log.close()
    assert writer.batches == [[{"decision_id": "late"}]]
    assert writer.closed
