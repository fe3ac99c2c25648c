"""`quanze directory check`: check an organisation directory against the policies.

For whoever keeps the organisation directory: its schema and consistency against the policies,
every problem as `file:line:col: field: message`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quanze.server.cli import ExitCode, Subcommands, command_group
from quanze.server.cli.options import policy_dir, quiet_logs
from quanze.server.directory_check import check_directory


def register(commands: Subcommands) -> None:
    """Add `directory check` to the `quanze` command line."""
    subcommands = command_group(
        commands,
        "directory",
        help="check an organisation directory against the policies",
        description="Commands for whoever keeps the organisation directory.",
        title="directory commands",
    )
    check = subcommands.add_parser(
        "check",
        help="validate a directory: schema, consistency, and the policies evaluating it",
        description="Validate an organisation directory (one JSON file, or a folder of JSON "
        "files merged) against the policies' schema (quanze/schema/directory.schema.json) and "
        "consistency rules, then compile the policies with it and evaluate one request. Lists "
        "every problem as `file:line:col: field: message` (files relative to PATH); exit status "
        "1 if there are any.",
    )
    check.add_argument("path", metavar="PATH", help="a JSON file or a folder of JSON files")
    check.add_argument(
        "--policies", metavar="DIR", help="policy directory (default: the bundled policies)"
    )
    check.set_defaults(run=_directory_check)


def _directory_check(args: argparse.Namespace) -> int:
    quiet_logs()
    root = policy_dir(args.policies)
    report = check_directory(Path(args.path), root)
    for problem in report.problems:
        print(problem)
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {args.path}")
        return ExitCode.FAILED
    print(
        f"ok: {report.procuratorates} procuratorates, {report.people} people, "
        f"{report.grants} grants, revision {report.revision}"
    )
    return ExitCode.OK
