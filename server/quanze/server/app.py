"""Composition root: builds the sidecar from its configuration and runs it.

Concurrency: regorus holds the GIL and its objects belong to the thread that built them, so
each worker is one process with one asyncio event loop that builds and owns its engine. More
cores come from more worker processes sharing the TCP port (SO_REUSEPORT).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import multiprocessing
import os
import signal
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import structlog

from quanze.server import __version__, applog, service
from quanze.server.config import Config
from quanze.server.decisionlog import records
from quanze.server.decisionlog.mask import Masker
from quanze.server.decisionlog.sink import DecisionLog
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from quanze.server.decisions import Decider
from quanze.server.engine.base import EngineFactory
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.errors import QuanzeError
from quanze.server.policy.bundle import PolicyBundle, load_bundle

log = structlog.get_logger("quanze.app")


def default_engine_factory(config: Config) -> EngineFactory:
    """The engine the configuration asks for."""
    engine = config.engine
    if engine.kind == "opa":
        # Imported only when asked for: it brings an HTTP client stack (~0.2 s to import).
        from quanze.server.engine.opa_engine import OpaEngine  # noqa: PLC0415

        return lambda bundle: OpaEngine(
            engine.opa_url, path=engine.opa_path, timeout_s=engine.timeout_ms / 1000
        )
    return lambda bundle: RegorusEngine(bundle, fast_path=engine.fast_path)


def load_policies(config: Config) -> PolicyBundle:
    """Read the configured policy directory (plain data: any thread may do this)."""
    return load_bundle(Path(config.policies.path) if config.policies.path else None)


def build_decider(
    config: Config,
    engine_factory: EngineFactory | None = None,
    bundle: PolicyBundle | None = None,
) -> Decider:
    """Build a `Decider` whose engine belongs to the calling thread."""
    bundle = bundle or load_policies(config)
    engine = (engine_factory or default_engine_factory(config))(bundle)
    return Decider(
        bundle,
        engine,
        timeout_ms=config.engine.timeout_ms,
        max_batch_items=config.server.max_batch_items,
        masker=Masker(bundle) if config.decision_log.directory else None,
    )


def build_decision_log(config: Config) -> DecisionLog | None:
    """The configured decision log (not yet started), or None when logging is off."""
    settings = config.decision_log
    if not settings.directory:
        return None
    writer = StreamWriter(
        Path(settings.directory),
        settings=WriterSettings(
            fsync=settings.fsync,
            fsync_interval_s=settings.fsync_interval_ms / 1000.0,
            max_file_bytes=settings.max_file_bytes,
            max_file_age_s=settings.max_file_age_seconds,
            retention_files=settings.retention_files,
            retention_days=settings.retention_days,
            compress=settings.compress,
            checkpoint_records=settings.checkpoint_records,
            checkpoint_interval_s=settings.checkpoint_interval_seconds,
        ),
        signer=records.load_signer(
            Path(settings.signing_key_file) if settings.signing_key_file else None
        ),
        labels={"id": str(uuid.uuid4()), "version": __version__},
    )
    return DecisionLog(writer, mode=settings.mode, buffer_records=settings.buffer_records)


async def run_worker(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str], None] | None = None,
    on_serving: Callable[[str], None] | None = None,
    engine_factory: EngineFactory | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT), then drain in-flight calls.

    `on_listening` is called with the bound address as soon as the port is bound (health still
    NOT_SERVING); `on_serving` once policies are loaded and health is SERVING.
    """
    stop = stop or _signal_event()
    address = config.server.address
    _clear_stale_socket(address)
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            ("grpc.max_receive_message_length", config.server.max_request_bytes),
        ]
    )
    decision_log = build_decision_log(config)
    decisions = service.DecisionServicer(decision_log)
    health = service.Health()
    service.register(server, decisions, health)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise QuanzeError(
            f"cannot listen on {address}: {exc}; is another process using it? "
            "Choose another with --address HOST:PORT or --address unix:PATH"
        ) from exc
    bound = address if address.startswith("unix:") else f"{address.rsplit(':', 1)[0]}:{port}"
    await server.start()
    await health.set_serving(False)
    log.info("listening", address=bound, pid=os.getpid())
    if on_listening:
        on_listening(bound)
    log_started = False
    try:
        if decision_log is not None:
            await decision_log.start()
            log_started = True
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
        # Reading files happens off the loop so health keeps answering NOT_SERVING meanwhile;
        # the engine itself must be built on this thread, which will use it.
        bundle = await asyncio.to_thread(load_policies, config)
        decisions.decider = build_decider(config, engine_factory, bundle)
        await health.set_serving(True)
        log.info(
            "policies_loaded",
            revision=decisions.decider.revision,
            path=str(decisions.decider.bundle.root),
        )
        if on_serving:
            on_serving(bound)
        await stop.wait()
        # Calls that reached the socket but were not yet dispatched would be cancelled by
        # stop(): keep answering for a moment while health tells clients to go elsewhere.
        await health.set_serving(False)
        log.info("shutting_down", delay_seconds=config.server.shutdown_delay_seconds)
        await asyncio.sleep(config.server.shutdown_delay_seconds)
    finally:
        await health.set_serving(False)
        log.info("draining", grace_seconds=config.server.shutdown_grace_seconds)
        await server.stop(config.server.shutdown_grace_seconds)
        if decision_log is not None and log_started:
            # After the drain: every answered call's record is written before the seal.
            await decision_log.close()
        # regorus objects must also be dropped on the thread that built them, including any
        # left in reference cycles, so collect here rather than on some later thread.
        decisions.decider = None
        gc.collect()
        if address.startswith("unix:"):
            with contextlib.suppress(FileNotFoundError):
                Path(address[len("unix:") :]).unlink()
        log.info("stopped")


def serve(config: Config) -> int:
    """Run the sidecar as one in-process worker or N worker processes; return the exit code."""
    workers = config.resolved_workers()
    if workers == 1:
        return _run_one(config, reuse_port=False)
    host, port = config.server.address.rsplit(":", 1)
    reservation = None
    if int(port) == 0:
        # Pick the port once so every worker binds the same one.
        reservation = _reserve_port(host.strip("[]"))
        config = dataclasses.replace(
            config,
            server=dataclasses.replace(
                config.server, address=f"{host}:{reservation.getsockname()[1]}"
            ),
        )
    log.info("starting_workers", workers=workers, address=config.server.address)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker_process, args=(config,), daemon=False)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def forward(signum: int, _frame: object) -> None:
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if reservation is not None:
            reservation.close()
    return max((p.exitcode or 0) for p in processes)


def _worker_process(config: Config) -> None:
    applog.configure(config.log.level)
    raise SystemExit(_run_one(config, reuse_port=True))


def _run_one(config: Config, *, reuse_port: bool) -> int:
    try:
        asyncio.run(run_worker(config, reuse_port=reuse_port))
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


def _clear_stale_socket(address: str) -> None:
    """Remove a Unix socket file left by a crashed server; refuse if one is still listening."""
    if not address.startswith("unix:"):
        return
    path = Path(address[len("unix:") :])
    if not path.is_socket():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
    else:
        raise QuanzeError(f"another process is already listening on {address}")
    finally:
        probe.close()
