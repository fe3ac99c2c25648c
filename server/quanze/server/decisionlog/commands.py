"""`quanze logs …`: commands that read decision logs."""

from __future__ import annotations

import argparse

from quanze.server.decisionlog import query, verify


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `logs` and its subcommands to the `quanze` commands."""
    logs = commands.add_parser(
        "logs",
        help="query, count and verify decision logs",
        description="Read a decision-log directory: query records, count them, check integrity.",
    )
    sub = logs.add_subparsers(title="commands", metavar="COMMAND")
    query.register(sub)
    verify.register(sub)

    def usage(_args: argparse.Namespace) -> int:
        logs.print_help()
        return 2  # like `quanze` alone: a subcommand is needed

    logs.set_defaults(run=usage)
