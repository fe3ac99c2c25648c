"""`quanze logs … --db`: the options and connection of the commands that read the central store
(PostgreSQL) instead of a log directory."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg
from quanze.server.errors import QuanzeError

DATABASE_ENV = "QUANZE_LOG_DATABASE_URL"
"""The central store's URL when a command is given neither DIR nor --db."""


def source_options(parser: argparse.ArgumentParser) -> None:
    """DIR or --db: a log directory, or the central store (with --source to pick sidecars)."""
    parser.add_argument(
        "directory", metavar="DIR", nargs="?", help="the decision-log directory (or give --db)"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="read the central store instead of a directory: postgresql://USER@HOST:PORT/DB "
        f"(default: ${DATABASE_ENV} when no DIR is given)",
    )
    parser.add_argument(
        "--source",
        metavar="NAME",
        action="append",
        default=[],
        dest="sources",
        help="with --db: only the streams this sidecar shipped (its --source name; repeatable)",
    )


def database_url(args: argparse.Namespace) -> str | None:
    """The store's URL when the command reads it, None for a directory; exactly one of them."""
    if args.directory is not None and args.db is not None:
        raise QuanzeError(
            f"give either DIR ({args.directory}) or --db, not both: DIR reads a decision-log "
            "directory, --db the central store"
        )
    database = args.db if args.directory is None else None
    if args.directory is None and database is None:
        database = os.environ.get(DATABASE_ENV) or None
        if database is None:
            raise QuanzeError(
                "give the decision-log directory (DIR) or the central store (--db URL, or "
                f"${DATABASE_ENV})"
            )
    if database is None and args.sources:
        raise QuanzeError("--source picks sidecars in the central store: use it with --db")
    return database


@contextlib.contextmanager
def connected(url: str) -> Iterator[psycopg.Connection]:
    """A connection to the store; a connection lost on the way is said plainly."""
    # Imported here: psycopg takes ~0.1 s to load, which the commands on files should not pay.
    import psycopg  # noqa: PLC0415

    from quanze.server.decisionlog import central  # noqa: PLC0415

    conn = central.connect(url)
    try:
        with conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise QuanzeError(
            f"lost the decision-log database while reading it: {central.one_line(exc)}; "
            "run the command again when it is back"
        ) from None


@contextlib.contextmanager
def store(args: argparse.Namespace) -> Iterator[psycopg.Connection | None]:
    """A connection to the central store the command reads, or None when it reads DIR."""
    url = database_url(args)
    if url is None:
        yield None
        return
    with connected(url) as conn:
        yield conn
