"""`quanze policy …`: test, check, evaluate and bundle a policy directory."""

from __future__ import annotations

from quanze.server.cli import Subcommands
from quanze.server.policy import commands


def register(commands_: Subcommands) -> None:
    commands.register(commands_)
