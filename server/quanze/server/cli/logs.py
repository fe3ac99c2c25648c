"""`quanze logs …`: query, count and verify decision logs."""

from __future__ import annotations

from quanze.server.cli import Subcommands
from quanze.server.decisionlog import commands


def register(commands_: Subcommands) -> None:
    commands.register(commands_)
