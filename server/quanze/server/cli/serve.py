"""`quanze serve`: run the gRPC decision sidecar."""

from __future__ import annotations

import argparse

from quanze.server import config, supervisor
from quanze.server.cli import Subcommands
from quanze.server.cli.options import add_config_options, load_config


def register(commands: Subcommands) -> None:
    serve = commands.add_parser(
        "serve", help="run the gRPC decision sidecar", description=_serve_help()
    )
    serve.formatter_class = argparse.RawDescriptionHelpFormatter
    add_config_options(serve)
    serve.add_argument(
        "--address", help="HOST:PORT or unix:PATH to listen on (default 127.0.0.1:8600)"
    )
    serve.add_argument(
        "--workers", type=int, help="worker processes sharing the port (default: one per CPU)"
    )
    serve.add_argument("--branch", help="git: the branch whose tip serves (default main)")
    serve.add_argument(
        "--poll-interval",
        type=float,
        dest="poll_interval",
        metavar="SECONDS",
        help="how often the policies' and the directory's sources are checked for a new "
        "revision (default 30; set them apart with --set)",
    )
    serve.add_argument(
        "--decision-log",
        metavar="DIR",
        dest="decision_log",
        help="write a decision log to DIR (see docs/decision-log.md)",
    )
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    return supervisor.serve(load_config(args))


def _serve_help() -> str:
    rows = "\n".join(
        f"  {key:<32} {env:<36} default {default!r}" for key, env, default, _ in config.reference()
    )
    return (
        f"Run the decision sidecar.\n\nsettings (YAML key, environment variable, default):\n{rows}"
    )
