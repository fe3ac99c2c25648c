"""`quanze directory check`: check an organisation directory against the policies."""

from __future__ import annotations

from quanze.server.cli import Subcommands
from quanze.server.policy import commands


def register(commands_: Subcommands) -> None:
    commands.register_directory(commands_)
