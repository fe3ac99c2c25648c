"""The decision-log writer: one stream of chained records in rotating files.

`StreamWriter` is synchronous and must be used from one thread; `DecisionLog` (sink.py) runs it on
its own thread. Records are rendered to JSON Lines through structlog, with a processor that
links each record to the one before (`seq`, `prev_hash`) and signs checkpoints.

A failed write rolls the file and the chain back to the last complete record, so what is on disk
is always a valid chain; the caller learns of the failure from the `OSError`.

After every write the writer checks that its file is still where it was (`disk.Placement`): a
file or directory deleted or replaced meanwhile would hold records nobody can read. It then puts
everything it wrote back under the file's name (read back through the open handle), so the
write stands, and goes on in a new file whose `start` record says what happened
(`previous: reopened`). If it cannot, the write fails like any other.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog

from quanze.server.clock import timestamp
from quanze.server.decisionlog import disk, records, ship_marker
from quanze.server.decisionlog.records import LogFile, Signer
from quanze.server.decisionlog.tail import first_seq, scan_tail
from quanze.server.errors import QuanzeError

log = structlog.get_logger("quanze.decisionlog")


@dataclass(frozen=True)
class WriterSettings:
    """How a stream is written, rotated, kept and sealed."""

    fsync: str = "record"
    fsync_interval_s: float = 1.0
    max_file_bytes: int = 64 * 1024 * 1024
    max_file_age_s: float = 86_400.0
    retention_files: int = 0
    retention_days: float = 0.0
    compress: bool = True
    checkpoint_records: int = 10_000
    checkpoint_interval_s: float = 60.0
    file_mode: int = 0o600
    """Permissions of the files created; a directory created gets them searchable (0700)."""
    wait_for_shipping: bool = False
    """Retention removes no file holding a record above the stream's shipped marker."""


@dataclass
class _Tail:
    """Where the chain stands: the last complete record on disk."""

    seq: int = 0
    hash: str = records.GENESIS_HASH


class StreamWriter:
    """Writes one stream of a log directory; the stream is locked against other writers."""

    def __init__(
        self,
        directory: Path,
        *,
        settings: WriterSettings | None = None,
        signer: Signer = records.UNSIGNED,
        labels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.settings = settings or WriterSettings()
        self._signer = signer
        self._clock = clock
        self.labels: dict[str, str] = dict(labels or {})
        self.stream = ""
        self.last_checkpoint_at: float | None = None
        self.bytes_written = 0
        # Records that never reached the log since this writer started, counted by its owner
        # (`DecisionLog`): every checkpoint carries them, so the log says what it is missing.
        self.losses: Callable[[], Mapping[str, int]] = _no_losses
        self._lock_file: IO[bytes] | None = None
        # Unbuffered: a failed write must not leave bytes in a buffer that a later call flushes.
        self._file: io.FileIO | None = None
        self._file_number = 0
        self._file_opened_at = 0.0
        self._path = Path()
        self._placement: disk.Placement | None = None
        self._file_first_seq: int | None = None
        self._next_start: dict[str, Any] | None = None
        """The start record of the next file, when it must say more than `write_failed`."""
        self.reopens = 0
        self._durable = _Tail()
        self._rendered = _Tail()
        self._buffer: list[bytes] = []
        self._since_checkpoint = 0
        self._retained_from_seq = 1
        self._last_fsync = 0.0
        self._compressions: list[threading.Thread] = []
        self._log = structlog.wrap_logger(
            self,
            processors=[self._chain, structlog.processors.JSONRenderer(serializer=_serialize)],
            wrapper_class=structlog.BoundLogger,
        )

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Claim a stream, find where its chain ended, start a new file with a `start` record."""
        try:
            self._make_directory()
        except OSError as exc:
            raise QuanzeError(
                f"cannot create the decision-log directory {self.directory}: {exc.strerror}"
            ) from exc
        self.stream = self._claim_stream()
        self.labels["stream"] = self.stream
        files = records.list_streams(self.directory).get(self.stream, [])
        previous = "new"
        tail = scan_tail(files)
        if files:
            self._file_number = files[-1].number
        if tail.last is not None:
            line, record = tail.last
            self._durable = _Tail(int(record["seq"]), records.line_hash(line))
            shut = record.get("type") == records.CHECKPOINT and record.get("reason") == "shutdown"
            previous = "closed" if shut and tail.partial is None else "unclosed"
        # Only a signed checkpoint says where the log may start; what is on disk is not trusted.
        self._retained_from_seq = tail.retained_from_seq
        partial = tail.partial
        self._rendered = _Tail(self._durable.seq, self._durable.hash)
        start: dict[str, Any] = {"format": records.FORMAT_VERSION, "previous": previous}
        if partial is not None:
            start["partial_line"] = partial
        self._open_file()
        self.append([], start=start)

    def close(self) -> None:
        """Seal the stream with a shutdown checkpoint, wait for compressions, release the lock."""
        try:
            # A file lost since the last write is put back, and the start record saying so
            # written, before the seal.
            self._keep_in_place()
            if self._file is None and self._next_start is not None:
                self.append([])
            if self._file is not None:
                self._emit(records.CHECKPOINT, {"reason": "shutdown"})
                self._write_buffer(sync=True)
        finally:
            handle, self._file = self._file, None
            if handle is not None:
                handle.close()
            if self._placement is not None:
                self._placement.close()
                self._placement = None
            for thread in self._compressions:
                thread.join()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    # ------------------------------------------------------------------ writing

    def append(
        self, batch: Sequence[Mapping[str, Any]], *, start: Mapping[str, Any] | None = None
    ) -> None:
        """Write `batch` (decision records) durably per the fsync policy, or raise `OSError`.

        On failure nothing of the batch stays on disk and the chain is where it was.
        """
        if self._file is not None and start is None:
            self._rotate_if_due()
        if self._file is None:
            # The previous write failed and the file could not be repaired, or the file was
            # put back after a fault: start afresh, saying which.
            self._open_file()
            start = self._next_start or {
                "format": records.FORMAT_VERSION,
                "previous": "write_failed",
            }
        assert self._file is not None  # noqa: S101 - opened above; for the type checker
        offset = self._file.tell()
        try:
            if start is not None:
                self._emit(records.START, {**start, "labels": self.labels})
            for record in batch:
                self._emit(records.DECISION, record)
            if self._checkpoint_due():
                self._emit(records.CHECKPOINT, {"reason": "interval"})
            self._write_buffer(sync=self._sync_due())
        except Exception:
            # Whatever went wrong, nothing half-rendered may reach the next write.
            self._rollback(offset)
            raise
        if start is self._next_start:
            self._next_start = None
        elif start is None and self._file is None and self._next_start is not None:
            # This write found its file lost and put it back: begin the next file now, so
            # there is always a file to watch. If that fails, the next write tries again.
            try:
                self.append([])
            except (OSError, QuanzeError) as exc:
                # The message is the whole story; a traceback would only bury it.
                log.error("decision_log_write_failed", error=str(exc), during="reopening")  # noqa: TRY400

    def tick(self) -> None:
        """Periodic upkeep from the owner: a lost file put back (and the start record saying so
        written) without waiting for a decision, an interval fsync or checkpoint that is due."""
        self._keep_in_place()
        if self._file is None:
            if self._next_start is not None:
                self.append([])
            return
        if self._since_checkpoint and self._checkpoint_due():
            self.append([])
        elif self.settings.fsync == "interval" and self._sync_due():
            self._fsync()

    # ------------------------------------------------------------------ chain

    def msg(self, line: str) -> None:
        """structlog's logger method: takes the rendered line into the buffer and the chain."""
        data = line.encode()
        self._buffer.append(data + b"\n")
        self._rendered = _Tail(self._rendered.seq + 1, records.line_hash(data))

    def _chain(self, _logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
        """structlog processor: type, seq and timestamp first, prev_hash last; signs checkpoints."""
        kind = event.pop("event")
        body = event.pop("body")
        record: dict[str, Any] = {
            "type": kind,
            "seq": self._rendered.seq + 1,
            "timestamp": body.get("timestamp") or timestamp(),
        }
        record.update((k, v) for k, v in body.items() if k != "timestamp")
        record["prev_hash"] = self._rendered.hash
        if kind == records.CHECKPOINT:
            record["stream"] = self.stream
            record["retained_from_seq"] = self._retained_from_seq
            record.update(self.losses())  # not signed on their own: the chain covers them
            message = records.checkpoint_message(record, self.stream)
            record["signature"] = self._signer.sign(message)
            # prev_hash stays last for readers scanning lines by eye.
            record["prev_hash"] = record.pop("prev_hash")
        return record

    def _emit(self, kind: str, body: Mapping[str, Any]) -> None:
        self._log.msg(kind, body=body)
        if kind == records.CHECKPOINT:
            self._since_checkpoint = 0
            self.last_checkpoint_at = self._clock()
        else:
            self._since_checkpoint += 1

    def _write_buffer(self, *, sync: bool) -> None:
        """Write the buffer; once it is written, it is durable where it can be read again."""
        assert self._file is not None  # noqa: S101 - opened above; for the type checker
        data = b"".join(self._buffer)
        if self._file_first_seq is None and self._buffer:
            self._file_first_seq = self._rendered.seq - len(self._buffer) + 1
        remaining = memoryview(data)
        while remaining:
            # A raw write may be partial (e.g. the disk fills mid-way); the next one then fails.
            remaining = remaining[self._file.write(remaining) or 0 :]
        if sync:
            self._fsync()
        self._buffer.clear()
        # Written to a file that was deleted or replaced meanwhile, it would be lost: put back
        # first (or fail, and the caller undoes the write).
        self._keep_in_place()
        self.bytes_written += len(data)
        self._durable = _Tail(self._rendered.seq, self._rendered.hash)

    def _fsync(self) -> None:
        if self._file is not None and self.settings.fsync != "none":
            os.fsync(self._file.fileno())
        self._last_fsync = self._clock()

    def _sync_due(self) -> bool:
        if self.settings.fsync == "record":
            return True
        if self.settings.fsync == "interval":
            return self._clock() - self._last_fsync >= self.settings.fsync_interval_s
        return False

    def _checkpoint_due(self) -> bool:
        if self.last_checkpoint_at is None:
            self.last_checkpoint_at = self._clock()
        return self._since_checkpoint >= self.settings.checkpoint_records or (
            self._since_checkpoint > 0
            and self._clock() - self.last_checkpoint_at >= self.settings.checkpoint_interval_s
        )

    def _rollback(self, offset: int) -> None:
        self._buffer.clear()
        self._rendered = _Tail(self._durable.seq, self._durable.hash)
        self._since_checkpoint = 0
        if self._file is None:
            return
        if offset == 0:
            self._file_first_seq = None
        try:
            self._file.truncate(offset)
            self._file.seek(offset)
        except OSError:
            # The file's tail may hold part of a line; the next write opens a new file whose
            # `start` record tells readers that the previous one ended in a failed write.
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    # ------------------------------------------------------------------ files

    def _claim_stream(self) -> str:
        """The lowest-numbered stream no other live writer holds (an flock per stream)."""
        for index in range(1024):
            name = f"w{index}"
            handle = disk.lock_stream(self.directory, name, self.settings.file_mode)
            if handle is not None:
                self._lock_file = handle
                return name
        raise QuanzeError(f"{self.directory}: 1024 writers already hold streams")

    def _reclaim_stream(self) -> None:
        """Lock the stream again if its lock file went with a lost directory; raises `OSError`."""
        held = self._lock_file
        if held is not None and disk.holds_lock(held, self.directory, self.stream):
            return
        handle = disk.lock_stream(self.directory, self.stream, self.settings.file_mode)
        if handle is None:
            raise OSError(f"another writer holds stream {self.stream} in {self.directory}")
        self._lock_file = handle
        if held is not None:
            held.close()

    def _make_directory(self) -> None:
        disk.make_directory(
            self.directory, disk.directory_mode(self.settings.file_mode), sync=self._syncs
        )

    @property
    def _syncs(self) -> bool:
        return self.settings.fsync != "none"

    def _open_file(self) -> None:
        # A directory lost while no file was open (between rotation steps) is made again.
        self._make_directory()
        self._reclaim_stream()
        # Past every file of the stream there is: a directory put in place of the writer's
        # may hold files it did not write, and an existing file is never appended to.
        listed = records.list_streams(self.directory).get(self.stream, [])
        number = max([self._file_number, *(f.number for f in listed)]) + 1
        opened_at = self._clock()
        started = datetime.fromtimestamp(opened_at, UTC)
        path = self.directory / records.file_name(self.stream, number, started)
        handle = disk.new_file(path, self.settings.file_mode)
        try:
            if self._syncs:
                disk.sync_directory(self.directory)
            placement = disk.Placement(self.directory, path, handle)
        except OSError:
            handle.close()
            raise
        if self._placement is not None:
            self._placement.close()
        self._file, self._placement = handle, placement
        # Counted only once the file exists: a failed open must not leave a gap in the numbers.
        self._file_number, self._file_opened_at = number, opened_at
        self._path = path
        self._file_first_seq = None

    def _keep_in_place(self) -> None:
        """If the file or its directory was deleted or replaced since it was opened, put back
        all that was written to it and leave the start record that says so for the next file.

        Raises `OSError` if it cannot; whatever was written last then counts as not written.
        """
        if self._file is None or self._placement is None:
            return
        fault = self._placement.fault()
        if not fault:
            return
        lost, name = self._file, self._path.name
        self._make_directory()
        self._reclaim_stream()
        stamp = f"{datetime.fromtimestamp(self._clock(), UTC):%Y%m%dT%H%M%SZ}"
        aside = disk.restore(
            lost, self.directory / name, self.settings.file_mode, stamp=stamp, sync=self._syncs
        )
        # Everything written is on disk again: from here on nothing may fail the write.
        first = self._file_first_seq or self._rendered.seq + 1
        start: dict[str, Any] = {
            "format": records.FORMAT_VERSION,
            "previous": "reopened",
            "fault": fault,
            "restored": {"file": name, "seqs": [first, self._rendered.seq]},
        }
        if aside:
            start["foreign_file"] = aside
        if fault.startswith("directory") and first > self._retained_from_seq:
            # The stream's earlier files were in the directory that went away.
            start["lost_seqs"] = [self._retained_from_seq, first - 1]
        self._file = None
        with contextlib.suppress(OSError):
            lost.close()
        self._next_start = start
        self.reopens += 1
        log.error(
            "decision_log_reopened",
            stream=self.stream,
            directory=str(self.directory),
            **{k: v for k, v in start.items() if k not in ("format", "previous")},
        )

    def _rotate_if_due(self) -> None:
        assert self._file is not None  # noqa: S101 - opened above; for the type checker
        too_big = self._file.tell() >= self.settings.max_file_bytes
        too_old = self._clock() - self._file_opened_at >= self.settings.max_file_age_s
        if not (too_big or too_old):
            return
        expired, retained_from_seq = self._retention_plan()
        offset = self._file.tell()
        kept_from = self._retained_from_seq
        try:
            # The rotation checkpoint signs where the log will start before anything is deleted.
            self._retained_from_seq = retained_from_seq
            self._emit(records.CHECKPOINT, {"reason": "rotation"})
            self._write_buffer(sync=True)
        except OSError:
            self._retained_from_seq = kept_from
            self._rollback(offset)
            raise
        if self._file is None:
            return  # the file was lost and put back as it is; the next one starts anew
        finished = self._path
        # Detached first: if close fails, the next append opens a new file rather than
        # writing to a closed one.
        handle, self._file = self._file, None
        handle.close()
        self._remove(expired)
        if self.settings.compress:
            thread = threading.Thread(
                target=disk.compress,
                args=(finished, self.settings.file_mode),
                kwargs={"sync": self._syncs},
                name="decision-log-gzip",
            )
            thread.start()
            self._compressions = [t for t in self._compressions if t.is_alive()] + [thread]
        self._open_file()

    def _retention_plan(self) -> tuple[list[LogFile], int]:
        """The closed files retention removes at this rotation, and the seq the log then keeps.

        The file being closed is always kept, so at least two files remain.
        """
        settings = self.settings
        if not settings.retention_files and not settings.retention_days:
            return [], self._retained_from_seq
        # Files still being compressed change name under us (and would reappear as .gz after
        # deletion): let earlier compressions finish first; by now they usually have.
        for thread in self._compressions:
            thread.join()
        self._compressions = []
        files = records.list_streams(self.directory).get(self.stream, [])
        candidates = files[:-1]  # the last is the file being closed
        remove = 0
        if settings.retention_files:
            # The count includes the file about to be opened.
            remove = max(0, len(files) + 1 - settings.retention_files)
        if settings.retention_days:
            cutoff = self._clock() - settings.retention_days * 86_400
            for index, log_file in enumerate(candidates):
                if log_file.path.stat().st_mtime < cutoff:
                    remove = max(remove, index + 1)
        remove = min(remove, len(candidates))
        if remove and settings.wait_for_shipping:
            remove = self._shipped_files(files, remove)
        if remove == 0:
            return [], self._retained_from_seq
        # The first record kept; an empty file (a start that failed) does not say, so look on.
        first_kept = next((seq for seq in map(first_seq, files[remove:]) if seq is not None), None)
        if first_kept is None:
            return [], self._retained_from_seq  # unknown: delete nothing rather than misstate
        return files[:remove], max(self._retained_from_seq, first_kept)

    def _shipped_files(self, files: list[LogFile], remove: int) -> int:
        """How many of the first `remove` files hold only shipped records (a file's records
        end where the next file's begin); says what it keeps back."""
        shipped = ship_marker.shipped_seq(self.directory, self.stream)
        # Where each file's successor begins (the next file that holds a record), from the end.
        next_first: list[int | None] = []
        following = None
        for log_file in reversed(files[1 : remove + 1]):
            following = first_seq(log_file) or following
            next_first.append(following)
        next_first.reverse()
        shipped_files = 0
        for after in next_first:
            if after is None or after - 1 > shipped:
                break
            shipped_files += 1
        if shipped_files < remove:
            log.info(
                "decision_log_retention_waits_for_shipping",
                stream=self.stream,
                shipped_seq=shipped,
                files_kept=[f.path.name for f in files[shipped_files:remove]],
                hint="these files are removed once `quanze logs ship` has shipped them",
            )
        return shipped_files

    def _remove(self, expired: list[LogFile]) -> None:
        for log_file in expired:
            plain = log_file.path.with_suffix("") if log_file.compressed else log_file.path
            for path in (plain, plain.with_name(plain.name + ".gz")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            log.info("decision_log_file_removed", file=log_file.path.name, reason="retention")
        if expired and self._syncs:
            disk.sync_directory(self.directory)


def _no_losses() -> Mapping[str, int]:
    return {"records_lost": 0, "records_refused": 0}


def _serialize(record: Any, **_kwargs: Any) -> str:
    return records.dumps(record)
