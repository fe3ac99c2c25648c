"""`quanze version`: the versions of Quanze, its engine and the policies it would serve."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

from quanze.server import __version__, app
from quanze.server.cli import Subcommands
from quanze.server.cli.options import add_config_options, load_config
from quanze.server.policy.directory import BUNDLED_FILE


def register(commands: Subcommands) -> None:
    show_version = commands.add_parser(
        "version", help="print the versions of Quanze, its engine and policies"
    )
    add_config_options(show_version)
    show_version.set_defaults(run=_version)


def _version(args: argparse.Namespace) -> int:
    settings = load_config(args)
    bundle = app.load_policies(settings)
    print(f"quanze {__version__}")
    print(f"engine regorus {_package_version('gordon-to-regorus')}")
    print(f"policies {bundle.policy_revision} ({bundle.root})")
    if not bundle.directory_revision:
        print(f"directory bundled with the policies ({BUNDLED_FILE})")
        return 0
    print(f"directory {bundle.directory_revision} ({settings.directory.path})")
    print(f"answers name {bundle.revision}")
    return 0


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
