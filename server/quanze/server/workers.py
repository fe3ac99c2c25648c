"""Runs the sidecar: one worker in this process, or worker processes under a supervisor.

Concurrency: regorus holds the GIL and its objects belong to the thread that built them, so
each worker is one process with one asyncio event loop that takes calls and one thread that
builds, owns and evaluates its engines (`DeciderThread`). More cores come from more worker
processes sharing the TCP port (SO_REUSEPORT); the supervisor polls the policy source and hands
each new revision to every worker over a pipe. What a worker serves is built by `app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import grpc
import structlog

from quanze.server import applog, service, transport
from quanze.server.app import (
    build_decision_log,
    build_reloader,
    load_candidate,
    prepare_decider,
)
from quanze.server.config import Config
from quanze.server.decisionlog.sink import DecisionLog
from quanze.server.engine.base import EngineFactory
from quanze.server.errors import QuanzeError
from quanze.server.listening import uses_tls
from quanze.server.policy.candidate import Candidate
from quanze.server.policy.reloader import PolicyStatus, Worker

log = structlog.get_logger("quanze.workers")


class LocalWorker:
    """This process's serving side of a reload: prepares Deciders, swaps them in on commit."""

    def __init__(
        self,
        config: Config,
        decisions: service.DecisionServicer,
        *,
        engine_factory: EngineFactory | None = None,
        on_first_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._config = config
        self._decisions = decisions
        self._engine_factory = engine_factory
        self._on_first_commit = on_first_commit

    async def prepare(self, candidate: Candidate) -> str:
        try:
            # Reading files happens off the loop; the Decider is built on the decider thread,
            # which will use it, without holding up the calls it decides meanwhile.
            bundle = await asyncio.to_thread(load_candidate, candidate)
            await prepare_decider(
                self._config,
                self._engine_factory,
                bundle,
                self._decisions.deciders,
                candidate.revision,
            )
        except QuanzeError as exc:
            return str(exc)
        except Exception as exc:  # e.g. too many open files: still a refusal, not a crash
            log.exception("policy_prepare_failed", revision=candidate.revision)
            return f"{type(exc).__name__}: {exc}"
        return ""

    async def commit(self, revision: str) -> None:
        deciders = self._decisions.deciders
        first = not deciders.serving
        path = await deciders.commit(revision)
        log.info("policies_loaded", revision=revision, path=path)
        if first and self._on_first_commit is not None:
            await self._on_first_commit()

    async def abort(self, revision: str) -> None:
        await self._decisions.deciders.abort(revision)

    async def publish(self, status: PolicyStatus) -> None:
        self._decisions.status = status


async def run_worker(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str], None] | None = None,
    on_serving: Callable[[str], None] | None = None,
    engine_factory: EngineFactory | None = None,
    reuse_port: bool = False,
    control: Connection | None = None,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT), then drain in-flight calls.

    Policies come from the configured source through a `Reloader` in this process, or — for a
    worker of several — from the supervisor over `control`. `on_listening` is called with the
    bound address as soon as the port is bound (health still NOT_SERVING); `on_serving` once the
    first revision serves and health is SERVING.
    """
    stop = stop or _signal_event()
    address = config.server.address
    transport.clear_stale_socket(address)
    server = _grpc_server(config, reuse_port=reuse_port)
    decision_log = build_decision_log(config)
    decisions = service.DecisionServicer(
        decision_log, max_concurrent_calls=config.server.max_concurrent_calls
    )
    health = service.Health(decisions, restrict_details=config.server.restrict_status)
    service.register(server, decisions, health, max_request_bytes=config.server.max_request_bytes)
    port = _listen(server, config)
    socket_inode = transport.prepare_socket(config.server)
    bound = address if address.startswith("unix:") else f"{address.rsplit(':', 1)[0]}:{port}"
    await server.start()
    await health.set_serving(False)
    log.info("listening", address=bound, pid=os.getpid())
    if on_listening:
        on_listening(bound)

    worker = LocalWorker(
        config,
        decisions,
        engine_factory=engine_factory,
        on_first_commit=lambda: _now_serving(health, bound, on_serving),
    )
    log_started = False
    background: asyncio.Task[None] | None = None
    try:
        if decision_log is not None:
            await _open_decision_log(decision_log, config)
            log_started = True
        background = await _follow_policies(config, worker, stop, control)
        await stop.wait()
        # Calls that reached the socket but were not yet dispatched would be cancelled by
        # stop(): keep answering for a moment while health tells clients to go elsewhere.
        await health.set_serving(False)
        log.info("shutting_down", delay_seconds=config.server.shutdown_delay_seconds)
        await asyncio.sleep(config.server.shutdown_delay_seconds)
    finally:
        await _cancel(background)
        await health.set_serving(False)
        log.info("draining", grace_seconds=config.server.shutdown_grace_seconds)
        await server.stop(config.server.shutdown_grace_seconds)
        if decision_log is not None and log_started:
            # After the drain: every answered call's record is written before the seal.
            await decision_log.close()
        await decisions.deciders.close()
        transport.remove_socket(address, socket_inode)
        log.info("stopped")


def receive_limit(max_request_bytes: int) -> int:
    """gRPC's own limit on a received message: 4 times `server.max_request_bytes`."""
    return 4 * max_request_bytes


def _grpc_server(config: Config, *, reuse_port: bool) -> grpc.aio.Server:
    tls = config.server.tls
    interceptors = (
        [
            transport.AccessControl(
                tls.allowed_callers, restrict_status=config.server.restrict_status
            )
        ]
        if tls.allowed_callers or config.server.restrict_status
        else []
    )
    return grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            # gRPC refuses what is far over the limit while reading it; the decision service's
            # own check answers what is just over it, naming the setting.
            ("grpc.max_receive_message_length", receive_limit(config.server.max_request_bytes)),
        ],
    )


def _listen(server: grpc.aio.Server, config: Config) -> int:
    """Bind the configured address, with TLS when a certificate is configured; the port."""
    address = config.server.address
    try:
        if uses_tls(config.server):
            certificates = transport.CertificateFiles(config.server.tls)
            port: int = server.add_secure_port(address, certificates.credentials())
        else:
            port = server.add_insecure_port(address)
    except OSError as exc:
        raise QuanzeError(f"cannot listen on {address}: cannot read a TLS file: {exc}") from exc
    except RuntimeError as exc:
        raise QuanzeError(
            f"cannot listen on {address}: {exc}; is another process using it? "
            "Choose another with --address HOST:PORT or --address unix:PATH"
        ) from exc
    return port


async def _cancel(task: asyncio.Task[None] | None) -> None:
    """Stop a background task; its failure is logged, never raised into the shutdown."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        log.exception("policy_follower_failed")


async def _now_serving(
    health: service.Health, bound: str, on_serving: Callable[[str], None] | None
) -> None:
    await health.set_serving(True)
    if on_serving:
        on_serving(bound)


async def _follow_policies(
    config: Config, worker: LocalWorker, stop: asyncio.Event, control: Connection | None
) -> asyncio.Task[None] | None:
    """Take revisions from the supervisor, or poll the source here: the task that does it."""
    if control is not None:
        return asyncio.create_task(follow_supervisor(control, worker, stop))
    reloader = build_reloader(config, [worker])
    # In the background, so a stop signal is heard even while the first revision is gated.
    return asyncio.create_task(reloader.follow(stop))


async def _open_decision_log(decision_log: DecisionLog, config: Config) -> None:
    await decision_log.start()
    log.info(
        "decision_log_open",
        directory=config.decision_log.directory,
        stream=decision_log.writer.stream,
        mode=decision_log.mode,
        fsync=config.decision_log.fsync,
    )
    if not config.decision_log.signing_key_file:
        log.warning(
            "decision_log_unsigned",
            hint="set decision_log.signing_key_file so checkpoints are signed",
        )


async def follow_supervisor(control: Connection, worker: Worker, stop: asyncio.Event) -> None:
    """Carry out the supervisor's prepare/commit/abort/status messages until `stop`.

    Every prepare and commit is answered, whatever happens, so the supervisor never waits
    forever on this worker.
    """
    loop = asyncio.get_running_loop()
    messages: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        try:
            messages.put_nowait(control.recv())
        except (EOFError, OSError):
            loop.remove_reader(control.fileno())
            stop.set()  # the supervisor is gone

    loop.add_reader(control.fileno(), readable)
    try:
        while True:
            kind, *body = await messages.get()
            try:
                if kind == "prepare":
                    control.send(("prepared", await worker.prepare(body[0])))
                elif kind == "commit":
                    await worker.commit(body[0])
                    control.send(("committed", body[0]))
                elif kind == "abort":
                    await worker.abort(body[0])
                elif kind == "status":
                    await worker.publish(body[0])
            except Exception as exc:
                log.exception("supervisor_message_failed", message=kind)
                if kind in ("prepare", "commit"):
                    with contextlib.suppress(OSError):
                        control.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        with contextlib.suppress(OSError, ValueError):
            loop.remove_reader(control.fileno())


def serve(config: Config) -> int:
    """Run the sidecar as one in-process worker or N worker processes; return the exit code."""
    workers = config.resolved_workers()
    if workers == 1:
        return _run_one(config, reuse_port=False)
    reservation = None
    host, _, port = config.server.address.rpartition(":")
    if not config.server.address.startswith("unix:") and int(port) == 0:
        # Pick the port once so every worker binds the same one.
        reservation = _reserve_port(host.strip("[]"))
        config = dataclasses.replace(
            config,
            server=dataclasses.replace(
                config.server, address=f"{host}:{reservation.getsockname()[1]}"
            ),
        )
    addresses = config.worker_addresses()
    log.info(
        "starting_workers",
        workers=workers,
        address=config.server.address,
        **({"client_target": config.client_target()} if len(set(addresses)) > 1 else {}),
    )
    context = multiprocessing.get_context("spawn")
    pipes = [context.Pipe() for _ in range(workers)]
    processes = [
        context.Process(
            target=_worker_process, args=(_listening_on(config, address), child), daemon=False
        )
        for (_, child), address in zip(pipes, addresses, strict=True)
    ]
    for process in processes:
        process.start()
    for _, child in pipes:
        child.close()
    try:
        asyncio.run(_supervise(config, [PipeWorker(parent) for parent, _ in pipes], processes))
    finally:
        if reservation is not None:
            reservation.close()
    # A worker killed by signal N exits -N: report it the shell's way, 128 + N.
    return max(128 - code if code < 0 else code for code in (p.exitcode or 0 for p in processes))


def _listening_on(config: Config, address: str) -> Config:
    return dataclasses.replace(config, server=dataclasses.replace(config.server, address=address))


async def _supervise(
    config: Config, handles: list[PipeWorker], processes: Sequence[BaseProcess]
) -> None:
    """Run the reloader for the workers, forward stop signals, wait for the workers to end.

    A worker that dies takes the others down too (exit status non-zero), so whatever runs the
    sidecar restarts it whole rather than serving on with fewer workers than it should.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def forward(signum: int) -> None:
        stop.set()
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, forward, sig)
    reloader = build_reloader(config, handles)
    polling = asyncio.create_task(reloader.follow(stop))
    exits = [asyncio.create_task(_readable(p.sentinel)) for p in processes]
    await asyncio.wait(exits, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():
        log.error("worker_exited", hint="stopping the other workers; restart the sidecar")
        forward(signal.SIGTERM)
    await asyncio.gather(*exits)
    for process in processes:
        process.join()
    polling.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await polling


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


class PipeWorker:
    """A worker process as the supervisor's reloader sees it: messages over a pipe."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()

    async def prepare(self, candidate: Candidate) -> str:
        reply = await self._ask(("prepare", candidate))
        if reply is None:
            return "a worker process is gone"
        return str(reply[1])

    async def commit(self, revision: str) -> None:
        await self._ask(("commit", revision))

    async def abort(self, revision: str) -> None:
        await self._tell(("abort", revision))

    async def publish(self, status: PolicyStatus) -> None:
        await self._tell(("status", status))

    async def _ask(self, message: tuple[Any, ...]) -> tuple[Any, ...] | None:
        async with self._lock:
            try:
                self._connection.send(message)
                # Waiting on the pipe in the loop, not in a thread: threads are a limited pool.
                await _readable(self._connection.fileno())
                reply: tuple[Any, ...] = self._connection.recv()
            except (EOFError, OSError):
                return None
            return reply

    async def _tell(self, message: tuple[Any, ...]) -> None:
        async with self._lock:
            with contextlib.suppress(OSError):
                self._connection.send(message)


def _worker_process(config: Config, control: Connection) -> None:
    applog.configure(config.log.level)
    raise SystemExit(_run_one(config, reuse_port=True, control=control))


def _run_one(config: Config, *, reuse_port: bool, control: Connection | None = None) -> int:
    try:
        asyncio.run(run_worker(config, reuse_port=reuse_port, control=control))
    except QuanzeError as exc:
        log.exception("fatal", error=str(exc))
        return 1
    return 0


def _signal_event() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, event.set)
    return event


def _reserve_port(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock
