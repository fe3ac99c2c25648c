"""`quanze logs ship`: a decision-log directory into the central store (PostgreSQL)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from quanze.server.cli import ExitCode, Subcommands
from quanze.server.cli.logs_db import DATABASE_ENV
from quanze.server.config import ShipConfig
from quanze.server.decisionlog.reader import all_files, log_directory, progress_for
from quanze.server.errors import QuanzeError

_HELP = f"""\
Ship every record of a decision-log directory (every stream; live, rotated and gzip files) into
a PostgreSQL database, once and in order, as stream <source>/<stream> (e.g. pod-7f9c/w0).

The database says what it holds of each stream; shipping continues from there, so a run cut
short (or a database that went away) loses and repeats nothing. The schema is created or
migrated first. A line still being written is shipped once complete; a line a crash cut short
is no record and is never shipped. A stream whose files do not continue what the database holds
under its name is another log: it is refused (exit status 1); ship it with its own --source.

Without --follow: ship what is there, print a line per stream, exit. With --follow: keep
shipping new records, files and streams until SIGTERM or SIGINT (the batch in hand is finished).
While the database is away the shipper retries with back-off (0.5 s doubling to 30 s); without
--follow it gives up after --retry-for seconds (exit status 1).

After each commit DIR/.shipped-<stream>.json records how far the stream is shipped: a writer
with decision_log.retention_waits_for_shipping (or decision_log.ship.*) removes no file above it.

examples:
  quanze logs ship /var/log/quanze/decisions --db postgresql://quanze@db:5432/audit
  {DATABASE_ENV}=postgresql://quanze@db/audit quanze logs ship /var/log/quanze/decisions \\
      --source pod-7f9c --follow
"""


def register(logs: Subcommands) -> None:
    parser = logs.add_parser(
        "ship",
        help="ship a decision-log directory into PostgreSQL, once and in order",
        description=_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="the decision-log directory")
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"the database: postgresql://USER@HOST:PORT/DB (default: ${DATABASE_ENV})",
    )
    parser.add_argument(
        "--source",
        metavar="NAME",
        help="the name this directory's streams get in the database (default: the host name; "
        "the pod name in Kubernetes)",
    )
    parser.add_argument(
        "--follow", action="store_true", help="keep shipping until SIGTERM or SIGINT"
    )
    parser.add_argument(
        "--retry-for",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="without --follow: give up after the database stayed away this long (default 60)",
    )
    parser.add_argument(
        "--batch-records",
        type=int,
        default=ShipConfig.batch_records,
        metavar="N",
        help="records per transaction (at most; also about 1 MB; default %(default)s)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal; not with --follow)",
    )
    parser.set_defaults(run=_ship)


def database_url(given: str | None) -> str:
    """--db, else the environment's default; raises `QuanzeError` naming both when neither."""
    url = given or os.environ.get(DATABASE_ENV, "")
    if not url:
        raise QuanzeError(
            f"no database given: pass --db postgresql://USER@HOST:PORT/DB or set {DATABASE_ENV}"
        )
    return url


def _ship(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if not (args.follow and not directory.exists()):
        log_directory(args.directory)  # says what is wrong with it
    elif not directory.parent.is_dir():
        raise QuanzeError(f"{directory.parent} does not exist: give the decision-log directory")
    if args.batch_records < 1:
        raise QuanzeError(f"--batch-records {args.batch_records}: must be at least 1")
    if args.retry_for < 0:
        raise QuanzeError(f"--retry-for {args.retry_for}: must not be negative")
    files = all_files(directory) if directory.is_dir() else []
    if not files:
        _say("warning", "", f"{directory} holds no decision-log files yet")
    show = False if args.follow and args.progress is None else args.progress
    progress = progress_for(files, "quanze logs ship", show)
    # Imported here: psycopg takes ~0.1 s to load, which other commands should not pay.
    from quanze.server.decisionlog.ship import Shipper  # noqa: PLC0415

    shipper = Shipper(
        directory,
        database_url(args.db),
        args.source or socket.gethostname(),
        report=_say,
        batch_records=args.batch_records,
        progress=progress,
    )
    stopped = _stop_on_signals(shipper.stop)
    try:
        outcome = shipper.run(follow=args.follow, retry_for=None if args.follow else args.retry_for)
    finally:
        progress.finish()
        stopped()
    for report in outcome.streams.values():
        print(report.summary())
    if outcome.gave_up:
        if not any(r.shipped for r in outcome.streams.values()):
            _say("error", "", "nothing was shipped")
        _say("error", "", outcome.gave_up)
    return ExitCode.OK if outcome.ok else ExitCode.FAILED


def _say(_level: str, _event: str, message: str) -> None:
    print(f"quanze logs ship: {message}", file=sys.stderr, flush=True)


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set `stop` (the batch in hand is finished); returns the undo."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def undo() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return undo
