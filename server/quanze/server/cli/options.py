"""Options the commands that load settings share (--config, --policies, --directory, --set),
and what the policy and directory commands share: their policy directory and quiet logs."""

from __future__ import annotations

import argparse
from pathlib import Path

from quanze.server import applog, config
from quanze.server.errors import PolicyError
from quanze.server.policy.bundle import bundled_policy_dir


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML configuration file")
    parser.add_argument(
        "--policies",
        metavar="DIR|GIT-URL",
        help="policy directory or git repository (default: the bundled policies)",
    )
    parser.add_argument(
        "--directory",
        metavar="PATH|GIT-URL",
        help="organisation directory: a JSON file, a folder of them or a git repository "
        "(default: the example bundled with the policies)",
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override one setting, e.g. --set server.max_batch_items=50 (repeatable)",
    )


def load_config(args: argparse.Namespace) -> config.Config:
    """The settings: the file, then the environment, then --set and the command's options."""
    overrides = list(args.overrides)
    if args.policies:
        overrides.append(f"policies.path={args.policies}")
    if args.directory:
        overrides.append(f"directory.path={args.directory}")
    for key in ("address", "workers"):
        value = getattr(args, key, None)
        if value is not None:
            overrides.append(f"server.{key}={value}")
    if getattr(args, "decision_log", None):
        overrides.append(f"decision_log.directory={args.decision_log}")
    if getattr(args, "branch", None):
        overrides.append(f"policies.branch={args.branch}")
    if getattr(args, "poll_interval", None) is not None:
        overrides.append(f"policies.poll_interval_seconds={args.poll_interval}")
        overrides.append(f"directory.poll_interval_seconds={args.poll_interval}")
    loaded = config.load(args.config, overrides=overrides)
    applog.configure(loaded.log.level)
    return loaded


def policy_dir(value: str | None) -> Path:
    """The policy directory a command was given (DIR or --policies), the bundled one without."""
    root = Path(value) if value else bundled_policy_dir()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist; give an existing DIR")
    return root.resolve()


def shown(given: str | None, root: Path) -> str:
    """The policy directory as the user wrote it; the bundled one in full."""
    return given or str(root)


def quiet_logs() -> None:
    """For the commands that print a result (`policy …`, `directory check`): the decision
    service logs through structlog; keep it on stderr and to real problems, so stdout carries
    only the command's own output."""
    applog.configure("warning")
