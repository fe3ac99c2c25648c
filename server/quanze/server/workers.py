"""A worker: one process's gRPC server, its engine, its decision log, its shutdown.

Concurrency: regorus holds the GIL and its objects belong to the thread that built them, so
each worker is one process with one asyncio event loop that takes calls and one thread that
builds, owns and evaluates its engines (`DeciderThread`). More cores come from more worker
processes sharing the TCP port (SO_REUSEPORT), run by `supervisor`, which polls the policy
source and hands each new revision to every worker over a pipe (`follow_supervisor`). What a
worker serves is built by `app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

import grpc
import structlog

from quanze.server import authzen, metrics, service, tracing, transport
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
    listen_when_serving: bool = False,
    exporter: metrics.Exporter | None = None,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT), then drain in-flight calls.

    Policies come from the configured source through a `Reloader` in this process, or — for a
    worker of several — from the supervisor over `control`. `on_listening` is called with the
    bound address as soon as the port is bound (health still NOT_SERVING); `on_serving` once the
    first revision serves and health is SERVING. With `listen_when_serving` (a restarted worker)
    the port is bound only then: until it serves, the kernel gives its share of connections to
    the other workers (TCP), or its socket refuses them (Unix). With an `exporter` (the one
    worker of a sidecar with metrics), this worker's metrics and policy state are its.
    """
    if exporter is not None:
        metrics.record_to(exporter.directory)
    hurry = asyncio.Event()
    stop = stop or _signal_events(hurry, supervised=control is not None)
    decision_log = build_decision_log(config)
    decisions = service.DecisionServicer(
        decision_log, max_concurrent_calls=config.server.max_concurrent_calls
    )
    health = service.Health(decisions, restrict_details=config.server.restrict_status)
    listener = _Listener(config, decisions, health, reuse_port=reuse_port)
    if not listen_when_serving:
        await listener.open(on_listening)
    fatal: list[QuanzeError] = []

    async def now_serving() -> None:
        try:
            await listener.open(on_listening)
        except QuanzeError as exc:
            # The commit fails (the supervisor hears why), and the worker stops with it.
            fatal.append(exc)
            stop.set()
            raise
        await health.set_serving(True)
        if on_serving:
            on_serving(listener.bound)

    worker = LocalWorker(
        config, decisions, engine_factory=engine_factory, on_first_commit=now_serving
    )
    log_started = False
    background: asyncio.Task[None] | None = None
    try:
        if decision_log is not None:
            await _open_decision_log(decision_log, config)
            log_started = True
        background = await _follow_policies(config, worker, stop, control, exporter)
        await stop.wait()
        # Clients and load balancers that watch health move away while calls are still
        # answered (unless it never listened); a second signal cuts this short.
        await health.set_serving(False)
        if listener.bound and not fatal:
            log.info("shutting_down", delay_seconds=config.server.shutdown_delay_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), config.server.shutdown_delay_seconds)
                log.info("shutdown_hurried", hint="a second signal skipped the rest of the delay")
    finally:
        await _cancel(background)
        await health.set_serving(False)
        await listener.drain(config.server.shutdown_grace_seconds)
        if decision_log is not None and log_started:
            # After the drain: every answered call's record is written before the seal.
            await decision_log.close()
        await decisions.deciders.close()
        listener.remove_socket()
        metrics.flush()
        log.info("stopped")
    if fatal:
        raise fatal[0]


class _Listener:
    """The gRPC server of a worker (and its tracing): bound when asked, drained at shutdown."""

    def __init__(
        self,
        config: Config,
        decisions: service.DecisionServicer,
        health: service.Health,
        *,
        reuse_port: bool,
    ) -> None:
        self._config = config
        self._decisions = decisions
        self._health = health
        self._reuse_port = reuse_port
        # Here, in the worker's own process: no exporter thread or channel crosses a fork.
        self._traces = tracing.start(config.tracing)
        self._server: grpc.aio.Server | None = None
        self._http: authzen.HttpListener | None = None
        self._socket_inode: int | None = None
        self.bound = ""

    async def open(self, on_listening: Callable[[str], None] | None) -> None:
        """Bind the configured address and start answering (health NOT_SERVING); once only."""
        if self._server is not None:
            return
        config = self._config
        address = config.server.address
        transport.clear_stale_socket(address)
        server = _grpc_server(config, reuse_port=self._reuse_port)
        service.register(
            tracing.traced(server, self._traces),
            self._decisions,
            self._health,
            max_request_bytes=config.server.max_request_bytes,
        )
        port = _listen(server, config)
        self._server = server
        self._socket_inode = transport.prepare_socket(config.server)
        self.bound = (
            address if address.startswith("unix:") else f"{address.rsplit(':', 1)[0]}:{port}"
        )
        await server.start()
        await self._health.set_serving(False)
        if config.http.address:
            self._http = authzen.HttpListener(
                config, self._decisions, self._traces, reuse_port=self._reuse_port
            )
            http_bound = await self._http.open()
            log.info("http_listening", address=http_bound, pid=os.getpid())
        log.info("listening", address=self.bound, pid=os.getpid())
        if on_listening:
            on_listening(self.bound)

    async def drain(self, grace_s: float) -> None:
        """Stop the server (`_stop`), then export the spans of the calls it answered."""
        try:
            await self._stop(grace_s)
        finally:
            if self._traces is not None:
                self._traces.stop()

    async def _stop(self, grace_s: float) -> None:
        """Stop taking calls and let those in flight finish, within `grace_s`.

        New decision calls are held unevaluated from now on. Once no call is in flight and
        none has come or finished for a moment, or the grace is over, the server stops: it
        stops listening, tells every connection to go away (GOAWAY), and only then are the
        held calls answered UNAVAILABLE, so no caller's next call races the stop. (gRPC
        cancels a call that reaches a stopping server before it is handed over; those and
        calls still running when the grace is over are the only ones it cancels.)
        """
        decisions = self._decisions
        decisions.stop_accepting()
        server = self._server
        if server is None:
            return
        log.info("draining", grace_seconds=grace_s, calls_in_flight=decisions.calls_in_flight)
        deadline = time.monotonic() + grace_s
        left = await decisions.settled(deadline, _QUIET_SECONDS)
        if left:
            log.warning("drain_grace_over", calls_in_flight=left, consequence="cancelled")
        # The held calls need a moment after the stop began to get their answer out.
        stopping = asyncio.ensure_future(
            server.stop(max(deadline - time.monotonic(), _REFUSAL_SECONDS))
        )
        await asyncio.sleep(0)  # the stop's first step: listeners closed, GOAWAY sent
        decisions.refuse_held()
        if self._http is not None:
            await self._http.close()  # stops listening; the held calls are answered 503
        await stopping

    def remove_socket(self) -> None:
        transport.remove_socket(self._config.server.address, self._socket_inode)


# Shutdown: the server stops once no call came or finished for this long (a caller answered
# just before calls its next at once: held, not racing the stop) ...
_QUIET_SECONDS = 0.25
# ... and the calls held meanwhile get at least this long to receive their UNAVAILABLE.
_REFUSAL_SECONDS = 1.0


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


async def _follow_policies(
    config: Config,
    worker: LocalWorker,
    stop: asyncio.Event,
    control: Connection | None,
    exporter: metrics.Exporter | None,
) -> asyncio.Task[None] | None:
    """Take revisions from the supervisor, or poll the source here: the task that does it."""
    if control is not None:
        return asyncio.create_task(follow_supervisor(control, worker, stop))
    reloader = build_reloader(config, [worker])
    if exporter is not None:
        exporter.watch(reloader)
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


def run_one(
    config: Config,
    *,
    reuse_port: bool = False,
    control: Connection | None = None,
    listen_when_serving: bool = False,
    exporter: metrics.Exporter | None = None,
) -> int:
    """Run one worker in this process until it stops; its exit code (1: a fatal error)."""
    try:
        asyncio.run(
            run_worker(
                config,
                reuse_port=reuse_port,
                control=control,
                listen_when_serving=listen_when_serving,
                exporter=exporter,
            )
        )
    except QuanzeError as exc:
        log.exception("fatal", error=str(exc))
        return 1
    return 0


def _signal_events(hurry: asyncio.Event, *, supervised: bool) -> asyncio.Event:
    """The event the first stop signal sets; a second one sets `hurry`.

    A supervised worker listens to SIGTERM only, which its supervisor sends: a terminal's
    Ctrl-C (SIGINT) reaches every process of the group, and the supervisor forwards it once.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM,) if supervised else (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled)
    return stop
