"""The supervisor of several worker processes: hands them revisions, restarts the dead ones.

`serve` runs one worker in this process, or N worker processes (`workers.run_worker`) under a
`Supervisor`, all on the TCP port (SO_REUSEPORT) or each on a Unix socket of its own. The
supervisor polls the policy source (the reloader) and hands each new revision to every worker
over a pipe. To the reloader each worker is a `WorkerSlot`, which outlives the process in it.

A worker that dies is restarted after a backoff (0.5 s, doubling, at most 30 s). The new process
prepares and commits the revision its slot serves before it binds its port: until then the
kernel gives its share of connections to the other workers (TCP), or its socket refuses them
(Unix). A worker that crashes more than `server.worker_restart_limit` times within
`server.worker_restart_window_seconds` stops the sidecar, with a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import socket
import time
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import structlog

from quanze.server import applog, metrics, shipping
from quanze.server.app import build_reloader
from quanze.server.config import Config
from quanze.server.policy.candidate import Candidate
from quanze.server.policy.reloader import PolicyStatus
from quanze.server.workers import run_one

log = structlog.get_logger("quanze.supervisor")

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
_GONE = "the worker process exited before it served"


def serve(config: Config) -> int:
    """Run the sidecar as one in-process worker or N worker processes; return the exit code.

    With `metrics.address`, this process serves `/metrics` for every worker (`metrics`); with
    `decision_log.ship.database_url`, a shipper process runs beside the workers (`shipping`).
    """
    with (
        metrics.exporting(config.metrics.address) as exporter,
        shipping.beside_workers(config),
    ):
        if config.resolved_workers() == 1:
            return run_one(config, exporter=exporter)
        return _supervise(config, exporter)


def _supervise(config: Config, exporter: metrics.Exporter | None) -> int:
    workers = config.resolved_workers()
    reservations = []
    host, _, port = config.server.address.rpartition(":")
    if not config.server.address.startswith("unix:") and int(port) == 0:
        # Pick the port once so every worker, restarted ones too, binds the same one.
        reservations.append(_reserve_port(host.strip("[]")))
        config = _listening_on(config, f"{host}:{reservations[-1].getsockname()[1]}")
    http_host, _, http_port = config.http.address.rpartition(":")
    if http_port == "0":  # the same for the AuthZEN HTTP port
        reservations.append(_reserve_port(http_host.strip("[]")))
        http = f"{http_host}:{reservations[-1].getsockname()[1]}"
        config = dataclasses.replace(config, http=dataclasses.replace(config.http, address=http))
    addresses = config.worker_addresses()
    log.info(
        "starting_workers",
        workers=workers,
        address=config.server.address,
        **({"client_target": config.client_target()} if len(set(addresses)) > 1 else {}),
    )
    try:
        return asyncio.run(Supervisor(config, exporter).run())
    finally:
        for reservation in reservations:
            reservation.close()


class WorkerSlot:
    """One worker as the reloader sees it: whichever process holds the slot now.

    The reloader's prepare/commit/abort/publish go over the current process's pipe. While no
    live process holds the slot they are only remembered: a dead worker serves nothing, so it
    holds no revision up, and `attach` brings the next process to what the slot serves.
    """

    def __init__(self, index: int, address: str) -> None:
        self.index = index
        self.address = address
        self.process: BaseProcess | None = None
        self.restarts = 0
        self.crashes: deque[float] = deque()  # time.monotonic() of recent crashes
        self._pipe: Connection | None = None
        self._lock = asyncio.Lock()  # one conversation with the process at a time
        self._committed: Candidate | None = None
        self._prepared: dict[str, Candidate] = {}
        self._status: PolicyStatus | None = None

    @property
    def revision(self) -> str:
        """The revision this slot serves ("" before the first one)."""
        return self._committed.revision if self._committed else ""

    # What the slot serves changes only under the lock, so `attach` sees one consistent state.

    async def prepare(self, candidate: Candidate) -> str:
        async with self._lock:
            self._prepared[candidate.revision] = candidate
            reply = await self._ask(("prepare", candidate))
        return "" if reply is None else str(reply[1])

    async def commit(self, revision: str) -> None:
        async with self._lock:
            self._committed = self._prepared.pop(revision)
            await self._ask(("commit", revision))

    async def abort(self, revision: str) -> None:
        async with self._lock:
            self._prepared.pop(revision, None)
            self._tell(("abort", revision))

    async def publish(self, status: PolicyStatus) -> None:
        async with self._lock:
            self._status = status
            self._tell(("status", status))

    async def attach(self, pipe: Connection) -> str:
        """Talk to a new process over `pipe`: it prepares and commits the revision this slot
        serves, then prepares those being prepared. "" once done, else why not."""
        async with self._lock:
            self._pipe = pipe
            if self._status is not None:
                self._tell(("status", self._status))
            if self._committed is not None:
                problem = await self._catch_up(self._committed, commit=True)
                if problem:
                    return problem
            for candidate in list(self._prepared.values()):
                problem = await self._catch_up(candidate, commit=False)
                if problem:
                    return problem
        return ""

    async def _catch_up(self, candidate: Candidate, *, commit: bool) -> str:
        revision = candidate.revision
        reply = await self._ask(("prepare", candidate))
        if reply is None:
            return _GONE
        if reply[0] != "prepared" or reply[1]:
            return f"cannot prepare revision {revision}: {reply[1]}"
        if not commit:
            return ""
        reply = await self._ask(("commit", revision))
        if reply is None:
            return _GONE
        return "" if reply[0] == "committed" else f"cannot serve revision {revision}: {reply[1]}"

    async def detach(self) -> None:
        """The process is gone: remember what the reloader says until the next one attaches."""
        async with self._lock:
            if self._pipe is not None:
                self._pipe.close()
            self._pipe = None

    async def _ask(self, message: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """Send `message` and wait for the reply; None when no live process holds the slot."""
        if self._pipe is None:
            return None
        try:
            self._pipe.send(message)
            # Waiting on the pipe in the loop, not in a thread: threads are a limited pool.
            await _readable(self._pipe.fileno())
            reply: tuple[Any, ...] = self._pipe.recv()
        except (EOFError, OSError):
            return None
        return reply

    def _tell(self, message: tuple[Any, ...]) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send(message)


class Supervisor:
    """Starts a process per `WorkerSlot`, restarts each one that dies, forwards stop signals."""

    def __init__(self, config: Config, exporter: metrics.Exporter | None = None) -> None:
        self._config = config
        self._exporter = exporter
        self._context = multiprocessing.get_context("spawn")
        self._slots = [WorkerSlot(i, a) for i, a in enumerate(config.worker_addresses())]
        self._stop = asyncio.Event()
        self._failure = 0

    async def run(self) -> int:
        """Serve until a stop signal or a crash loop; the sidecar's exit status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._signalled, sig)
        for slot in self._slots:
            await slot.attach(self._spawn(slot, restarted=False))
        reloader = build_reloader(self._config, self._slots)
        if self._exporter is not None:
            self._exporter.watch(reloader, lambda: sum(slot.restarts for slot in self._slots))
        polling = asyncio.create_task(reloader.follow(self._stop))
        try:
            statuses = await asyncio.gather(*(self._watch(slot) for slot in self._slots))
        finally:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await polling
        return self._failure or max(statuses)

    def _signalled(self, signum: int) -> None:
        """The first signal stops the workers gracefully; a second hurries them (no delay)."""
        name = signal.Signals(signum).name
        if self._stop.is_set():
            log.info("hurrying_workers", signal=name)
        else:
            log.info("stopping_workers", signal=name)
            self._stop.set()
        self._terminate_all()

    def _terminate_all(self) -> None:
        for slot in self._slots:
            process = slot.process
            if process is not None and process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def _spawn(self, slot: WorkerSlot, *, restarted: bool) -> Connection:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_process,
            args=(
                _listening_on(self._config, slot.address),
                child,
                slot.index,
                restarted,
                self._exporter.directory if self._exporter is not None else "",
            ),
            daemon=False,
        )
        process.start()
        child.close()
        slot.process = process
        return parent

    async def _watch(self, slot: WorkerSlot) -> int:
        """Restart the slot's process each time it dies, until the sidecar stops; the slot's
        exit status for the sidecar's."""
        while True:
            process = slot.process
            assert process is not None  # noqa: S101 - every slot is spawned before it is watched
            await _readable(process.sentinel)
            process.join()
            await slot.detach()
            if self._exporter is not None and process.pid is not None:
                self._exporter.process_gone(process.pid)
            status = _exit_status(process.exitcode)
            if self._stop.is_set():
                # Our SIGTERM reached a process too young to handle it: it served nothing.
                return 0 if process.exitcode == -signal.SIGTERM else status
            delay = self._crashed(slot, process, status)
            if delay is None:
                return self._failure
            log.info("worker_restarting", worker=slot.index, delay_seconds=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
                return 0  # stopped while waiting: nothing left to stop here
            await self._restart(slot)

    def _crashed(self, slot: WorkerSlot, process: BaseProcess, status: int) -> float | None:
        """Log a crash; the backoff before the restart, or None when it stops the sidecar."""
        settings = self._config.server
        window = settings.worker_restart_window_seconds
        now = time.monotonic()
        slot.crashes.append(now)
        while slot.crashes[0] <= now - window:
            slot.crashes.popleft()
        crashes = len(slot.crashes)
        how = _describe_exit(process.exitcode)
        log.error(
            "worker_crashed",
            worker=slot.index,
            pid=process.pid,
            exit=how,
            crashes_in_window=crashes,
            window_seconds=window,
        )
        if crashes <= settings.worker_restart_limit:
            return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** (crashes - 1))
        log.error(
            "worker_crash_loop",
            worker=slot.index,
            crashes=crashes,
            window_seconds=window,
            last_exit=how,
            restart_limit=settings.worker_restart_limit,
            consequence="stopping the sidecar",
            hint="the worker's own log lines above say why it failed",
        )
        self._failure = status or 1
        self._stop.set()
        self._terminate_all()
        return None

    async def _restart(self, slot: WorkerSlot) -> None:
        process_pipe = self._spawn(slot, restarted=True)
        problem = await slot.attach(process_pipe)
        process = slot.process
        assert process is not None  # noqa: S101 - just spawned
        if not problem:
            slot.restarts += 1
            log.info(
                "worker_restarted",
                worker=slot.index,
                pid=process.pid,
                revision=slot.revision,
                restarts=slot.restarts,
            )
        elif problem != _GONE:
            # It cannot serve what the others serve. Without its pipe it stops, as it does when
            # its supervisor is gone, and its exit is a crash like any other.
            log.error("worker_activation_failed", worker=slot.index, pid=process.pid, error=problem)
            await slot.detach()


def _worker_process(
    config: Config, control: Connection, index: int, restarted: bool, metrics_dir: str
) -> None:
    # Stop signals come from the supervisor (see workers._signal_events).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    applog.configure(config.log.level)
    structlog.contextvars.bind_contextvars(worker=index)  # on each of its log lines
    if metrics_dir:
        metrics.record_to(metrics_dir)
    raise SystemExit(
        run_one(config, reuse_port=True, control=control, listen_when_serving=restarted)
    )


def _exit_status(exitcode: int | None) -> int:
    """A process's exit code the shell's way: killed by signal N is 128 + N."""
    code = exitcode or 0
    return 128 - code if code < 0 else code


def _describe_exit(exitcode: int | None) -> str:
    code = exitcode or 0
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _listening_on(config: Config, address: str) -> Config:
    return dataclasses.replace(config, server=dataclasses.replace(config.server, address=address))


async def _readable(fd: int) -> None:
    """Wait until `fd` is readable (a pipe has data, a process sentinel has fired)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def fire() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, fire)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _reserve_port(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock
