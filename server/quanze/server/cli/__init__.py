"""The `quanze` command: the parser, the dispatch and the one table of exit codes.

Each command family has its own module here (`serve`, `check`, `status`, `version`, `policy`,
`directory`, `logs`) with a `register(commands)` that adds its parsers. A command module only
parses arguments, calls library functions and renders their results; the work is done below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, TypeAlias

from quanze.server.errors import ConfigError, QuanzeError

# What `add_subparsers` returns, and each family's `register` fills.
if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = argparse._SubParsersAction


class ExitCode(IntEnum):
    """What every `quanze` command's exit status means."""

    OK = 0
    # The command ran and the answer is no: problems found, tests failed, a log tampered
    # with, a sidecar not serving, a deny in `check`'s place... and every QuanzeError.
    FAILED = 1
    # The command could not start from what it was given: usage, configuration or input
    # (argparse's own usage errors exit with 2 as well).
    BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `quanze` command."""
    # gRPC's core logs in plain text on stderr (a line per failed TLS handshake: a flood
    # anyone can cause), where the sidecar writes JSON lines only. Set before grpc loads.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return ExitCode.BAD_INPUT
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (e.g. `quanze check ... | head`): stop quietly, like Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.FAILED
    except ConfigError as exc:
        print(f"quanze: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except QuanzeError as exc:
        print(f"quanze: {exc}", file=sys.stderr)
        return ExitCode.FAILED


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every family registered in the order `--help` lists them."""
    # Imported here: the families import this module for ExitCode and command_group.
    from quanze.server.cli import (  # noqa: PLC0415
        check,
        directory,
        logs,
        policy,
        serve,
        status,
        version,
    )

    parser = argparse.ArgumentParser(
        prog="quanze",
        description="Quanze (权责): policy-as-code authorization sidecar "
        "for the people's procuratorates.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for family in (policy, directory, serve, check, version, status, logs):
        family.register(commands)
    return parser


def command_group(
    commands: Subcommands, name: str, *, help: str, description: str, title: str
) -> Subcommands:
    """A command made of subcommands (`quanze policy …`); alone, it prints its usage."""
    group = commands.add_parser(name, help=help, description=description)
    subcommands = group.add_subparsers(title=title, metavar="COMMAND")

    def usage(_args: argparse.Namespace) -> int:
        group.print_help()
        return ExitCode.BAD_INPUT  # like `quanze` alone: a subcommand is needed

    group.set_defaults(run=usage)
    return subcommands
