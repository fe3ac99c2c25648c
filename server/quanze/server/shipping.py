"""The shipper `serve` runs beside the workers (`decision_log.ship.*`): a child process.

It is `quanze logs ship DIR --follow` on `decision_log.directory`, in a process of its own so
that shipping never competes with decisions for a worker's event loop. The supervisor (or the
one worker's process) starts it with the workers and restarts it whenever it dies, after a
back-off (0.5 s doubling to 30 s): the files hold every record meanwhile, and the new shipper
continues from the database's tips. At shutdown, once the workers have written their last
records and sealed their streams, it is asked to ship what remains and exit; after
`decision_log.ship.drain_seconds` it is told to stop (the batch in hand is finished), and what
it did not ship waits in the files for the next start. It takes no signals: only the sidecar
tells it when to stop.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import structlog

from quanze.server import applog
from quanze.server.config import Config

log = structlog.get_logger("quanze.shipping")

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
# A shipper that ran this long before it died starts its back-off afresh.
_STEADY_SECONDS = 60.0
# After the drain time: "stop", then this long to finish the batch in hand, then SIGKILL.
_STOP_SECONDS = 5.0


@contextlib.contextmanager
def beside_workers(config: Config) -> Iterator[None]:
    """Run the shipper while the sidecar serves, when `decision_log.ship.database_url` is set;
    on leaving (the workers have stopped), let it ship what remains."""
    if not config.decision_log.ship.database_url:
        yield
        return
    child = ShipperChild(config)
    child.start()
    try:
        yield
    finally:
        child.stop()


class ShipperChild:
    """The shipper process, restarted whenever it dies until `stop`."""

    def __init__(self, config: Config) -> None:
        settings = config.decision_log
        self._arguments = (
            settings.directory,
            settings.ship.database_url,
            settings.ship.source or socket.gethostname(),
            settings.ship.batch_records,
            config.log.level,
        )
        self._drain_seconds = settings.ship.drain_seconds
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._watcher = threading.Thread(target=self._watch, name="shipper-watch", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            parent, child = self._context.Pipe()
            process = self._context.Process(
                target=_ship_process, args=(*self._arguments, child), name="quanze-shipper"
            )
            process.start()
            child.close()
            self._process, self._pipe = process, parent
        log.info(
            "decision_log_shipper_started",
            pid=process.pid,
            directory=self._arguments[0],
            source=self._arguments[2],
        )

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            process = self._process
            assert process is not None  # noqa: S101 - spawned before the watch starts
            started = time.monotonic()
            process.join()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= _STEADY_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            log.error(
                "decision_log_shipper_exited",
                pid=process.pid,
                exitcode=process.exitcode,
                restart_in_seconds=backoff,
                consequence="records wait in the files until the restarted shipper ships them",
            )
            if self._stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)
            self._spawn()

    def stop(self) -> None:
        """Ask the shipper to ship what remains and exit; stop it after the drain time."""
        with self._lock:
            self._stopping.set()
            process, pipe = self._process, self._pipe
        if process is None:
            return
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.send("drain")
        process.join(self._drain_seconds)
        if process.is_alive():
            log.warning(
                "decision_log_shipper_drain_timeout",
                drain_seconds=self._drain_seconds,
                consequence="what is not shipped waits in the files for the next start",
            )
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.send("stop")
            process.join(_STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        if pipe is not None:
            pipe.close()
        self._watcher.join()
        log.info("decision_log_shipper_stopped", exitcode=process.exitcode)


def _ship_process(  # noqa: PLR0917 - the spawned process's arguments, passed positionally
    directory: str, url: str, source: str, batch_records: int, level: str, control: Connection
) -> None:
    """The shipper's process: ship with --follow until the sidecar asks it to drain or stop,
    or is gone (its pipe closes)."""
    # Signals to the whole process group (a terminal's Ctrl-C, `timeout`, `kill -- -PGID`)
    # are the sidecar's to handle: it asks the shipper to drain once the workers have stopped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    applog.configure(level)
    ship_log = structlog.get_logger("quanze.ship")

    def report(level: str, event: str, message: str) -> None:
        getattr(ship_log, level)(event, message=message)

    # Imported in the child only: the sidecar itself never loads psycopg.
    from quanze.server.decisionlog.ship import Shipper  # noqa: PLC0415

    shipper = Shipper(Path(directory), url, source, report=report, batch_records=batch_records)

    def listen() -> None:
        try:
            while True:
                (shipper.drain if control.recv() == "drain" else shipper.stop).set()
        except (EOFError, OSError):
            shipper.stop.set()  # the sidecar is gone

    threading.Thread(target=listen, name="shipper-control", daemon=True).start()
    outcome = shipper.run(follow=True)
    ship_log.info(
        "decision_log_shipped",
        streams={r.name: r.held.last_seq if r.held else 0 for r in outcome.streams.values()},
        refused=[r.name for r in outcome.streams.values() if r.refused],
    )
