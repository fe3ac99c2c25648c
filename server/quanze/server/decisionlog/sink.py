"""`DecisionLog`: the event loop's face of the writer — group commit, backpressure, modes.

Records from concurrent calls are collected and written together by one writer thread (one
write and one fsync for many records). In `required` mode a call waits until its record is on
disk and learns whether that worked, so the answer can become a deny; in `best_effort` mode the
answer does not wait and every record that could not be written is counted and reported.
The buffer is bounded: `required` callers wait for room (backpressure); `best_effort` callers
over the bound lose their record, counted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from quanze.server import metrics
from quanze.server.decisionlog.writer import StreamWriter

log = structlog.get_logger("quanze.decisionlog")

_MAX_BATCH = 512


@dataclass
class Counters:
    """What the decision log has done, for metrics and status."""

    decisions_logged: int = 0
    bytes_written: int = 0
    records_lost: int = 0
    """best_effort: records that never reached the log."""
    records_refused: int = 0
    """required: records that could not be written, whose answers became denies."""
    write_failures: int = 0
    last_checkpoint_time: float | None = None

    # Each change goes to the metrics as it happens: a worker killed later loses none of it.

    def wrote(self, records: int, size: int) -> None:
        self.decisions_logged += records
        self.bytes_written += size
        metrics.log_written(records, size)

    def refused(self, records: int) -> None:
        self.records_refused += records
        metrics.log_refused(records)

    def lost(self, records: int) -> None:
        self.records_lost += records
        metrics.log_lost(records)

    def write_failed(self) -> None:
        self.write_failures += 1
        metrics.log_write_failed()

    def losses(self) -> dict[str, int]:
        """What every checkpoint of the writer records (`StreamWriter.losses`)."""
        return {"records_lost": self.records_lost, "records_refused": self.records_refused}

    def checkpointed(self, writer: StreamWriter) -> None:
        """The time of `writer`'s last checkpoint (None: none yet)."""
        self.last_checkpoint_time = writer.last_checkpoint_at
        metrics.log_checkpoint(writer.stream, writer.last_checkpoint_at)


class DecisionLog:
    """Owns a `StreamWriter` on a dedicated thread; one per worker process."""

    def __init__(
        self,
        writer: StreamWriter,
        *,
        mode: str = "required",
        buffer_records: int = 4096,
        tick_seconds: float = 0.25,
    ) -> None:
        self.writer = writer
        self.mode = mode
        self.counters = Counters()
        writer.losses = self.counters.losses
        self._buffer_records = buffer_records
        self._tick_seconds = tick_seconds
        # Whole calls, so a call's records are written (or fail) in one batch.
        self._pending: deque[_Call] = deque()
        self._pending_records = 0
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._thread = concurrent.futures.ThreadPoolExecutor(1, "decision-log")
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def labels(self) -> dict[str, str]:
        """The labels every record carries (instance id, version, stream)."""
        return self.writer.labels

    async def start(self) -> None:
        """Open the stream (claiming it, recovering the chain) and start flushing."""
        await self._run(self.writer.open)
        self.counters.checkpointed(self.writer)
        self._flusher = asyncio.create_task(self._flush_forever(), name="decision-log-flusher")

    async def record(self, records: Sequence[dict[str, Any]]) -> bool:
        """Log `records`; in `required` mode True only once they are written (per fsync policy).

        In `best_effort` mode this returns True at once; losses are counted, not returned.
        """
        if not records:
            return True
        if self.mode == "best_effort":
            if self._closing or self._pending_records + len(records) > self._buffer_records:
                self._lose(len(records), "closing" if self._closing else "the buffer is full")
                return True
            self._enqueue(_Call(list(records), None))
            return True
        while self._pending_records >= self._buffer_records and not self._closing:
            self._room.clear()
            await self._room.wait()
        if self._closing:
            self.counters.refused(len(records))
            return False
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._enqueue(_Call(list(records), done))
        return await done

    async def record_failed(self) -> bool:
        """A call's records could not even be built: as `record` would answer for a failed write."""
        if self.mode == "best_effort":
            self._lose(1, "the record could not be built")
            return True
        self.counters.refused(1)
        return False

    def _enqueue(self, call: _Call) -> None:
        self._pending.append(call)
        self._pending_records += len(call.records)
        self._wakeup.set()

    async def close(self) -> None:
        """Write what is pending, seal the stream with a shutdown checkpoint, stop the thread."""
        self._closing = True
        self._wakeup.set()
        self._room.set()
        if self._flusher is not None:
            await self._flusher
        try:
            problem = await self._attempt(self.writer.close)
        finally:
            self._thread.shutdown(wait=True)
        if problem:
            log.error("decision_log_close_failed", error=problem)
        log.info(
            "decision_log_closed", stream=self.writer.stream, **dataclasses.asdict(self.counters)
        )

    # ------------------------------------------------------------------ flushing

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._tick_seconds)
            self._wakeup.clear()
            while self._pending:
                batch = self._take_batch()
                self._room.set()
                await self._write(batch)
            if self._closing:
                return
            problem = await self._attempt(self.writer.tick)
            if problem:
                self.counters.write_failed()
                log.error("decision_log_write_failed", error=problem, during="upkeep")
            self.counters.checkpointed(self.writer)

    def _take_batch(self) -> list[_Call]:
        """Whole calls from the front of the queue, about `_MAX_BATCH` records in all."""
        batch: list[_Call] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].records) <= _MAX_BATCH):
            call = self._pending.popleft()
            batch.append(call)
            size += len(call.records)
        self._pending_records -= size
        return batch

    async def _write(self, batch: list[_Call]) -> None:
        records = [r for call in batch for r in call.records]
        before = self.writer.bytes_written
        problem = await self._attempt(self.writer.append, records)
        ok = not problem
        if problem:
            self.counters.write_failed()
            log.error(
                "decision_log_write_failed",
                error=problem,
                records=len(records),
                mode=self.mode,
                consequence="answers denied (audit_unavailable)"
                if self.mode == "required"
                else "records lost",
            )
        if ok:
            self.counters.wrote(len(records), self.writer.bytes_written - before)
            self.counters.checkpointed(self.writer)
        elif self.mode == "required":
            self.counters.refused(len(records))
        else:
            self._lose(len(records), "the write failed")
        for call in batch:
            if call.done is not None and not call.done.done():
                call.done.set_result(ok)

    def _lose(self, count: int, why: str) -> None:
        self.counters.lost(count)
        log.error(
            "decision_records_lost",
            count=count,
            total_lost=self.counters.records_lost,
            reason=why,
        )

    async def _run(self, function: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, function, *args)

    async def _attempt(self, function: Any, *args: Any) -> str:
        """Run `function` on the writer thread: "" when it worked, else what went wrong."""
        try:
            await self._run(function, *args)
        except Exception as exc:  # any failure is a failed write, never a dead flusher
            return f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError) else str(exc)
        return ""


@dataclass
class _Call:
    """The records of one call and, in `required` mode, the future its answer waits on."""

    records: list[dict[str, Any]]
    done: asyncio.Future[bool] | None
