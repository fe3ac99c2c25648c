"""The `quanze` command: serve, check, version, status; `policy`, `directory` and `logs`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import json_format

from quanze.server import __version__, app, applog, config
from quanze.server.decisionlog import commands as decisionlog_commands
from quanze.server.errors import ConfigError, InvalidRequestError, QuanzeError
from quanze.server.policy import commands as policy_commands
from quanze.server.policy.directory import BUNDLED_FILE
from quanze.server.policy.source import DIRECTORY_SEPARATOR
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `quanze` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (e.g. `quanze check ... | head`): stop quietly, like Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ConfigError as exc:
        print(f"quanze: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except QuanzeError as exc:
        print(f"quanze: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quanze",
        description="Quanze (权责): policy-as-code authorization sidecar "
        "for the people's procuratorates.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    policy_commands.register(commands)
    policy_commands.register_directory(commands)

    serve = commands.add_parser(
        "serve", help="run the gRPC decision sidecar", description=_serve_help()
    )
    serve.formatter_class = argparse.RawDescriptionHelpFormatter
    _config_options(serve)
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

    check = commands.add_parser(
        "check",
        help="answer requests in-process, without a server",
        description="Read one JSON request, a JSON array of requests, or JSON Lines, and print one "
        "contract answer per request as JSON Lines, in order. Invalid requests are denied and "
        "explained on stderr (exit status 2).",
    )
    check.add_argument(
        "file", nargs="?", default="-", help="request file, or - for standard input (default)"
    )
    _config_options(check)
    check.set_defaults(run=_check)

    show_version = commands.add_parser(
        "version", help="print the versions of Quanze, its engine and policies"
    )
    _config_options(show_version)
    show_version.set_defaults(run=_version)
    status = commands.add_parser(
        "status",
        help="show which policy revision a running sidecar serves, and what it refused",
        description="Ask a running sidecar (GetStatus) for its active policy revision, when it "
        "was activated, the last revision it refused and why, and its decision-log counters. "
        "Exit status 0 while a revision serves, 1 otherwise.",
    )
    status.add_argument(
        "--address", default="127.0.0.1:8600", help="HOST:PORT or unix:PATH of the sidecar"
    )
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    status.set_defaults(run=_status)
    decisionlog_commands.register(commands)
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
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


def _serve_help() -> str:
    rows = "\n".join(
        f"  {key:<32} {env:<36} default {default!r}" for key, env, default, _ in config.reference()
    )
    return (
        f"Run the decision sidecar.\n\nsettings (YAML key, environment variable, default):\n{rows}"
    )


def _load_config(args: argparse.Namespace) -> config.Config:
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


def _serve(args: argparse.Namespace) -> int:
    return app.serve(_load_config(args))


def _version(args: argparse.Namespace) -> int:
    settings = _load_config(args)
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


def _status(args: argparse.Namespace) -> int:
    try:
        with grpc.insecure_channel(args.address) as channel:
            reply = pb_grpc.DecisionServiceStub(channel).GetStatus(
                pb.GetStatusRequest(), timeout=args.timeout
            )
    except grpc.RpcError as exc:
        raise QuanzeError(
            f"cannot get the status of {args.address}: {exc.code().name}: {exc.details()}; "
            "is `quanze serve` running there? (--address HOST:PORT or unix:PATH)"
        ) from exc
    status = json_format.MessageToDict(
        reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    if args.format == "json":
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        print(_status_text(status))
    return 0 if status["serving"] else 1


def _status_text(status: dict[str, Any]) -> str:
    source, _, directory = status["policy_source"].partition(DIRECTORY_SEPARATOR)
    lines = [f"source            {source or '-'}"]
    if directory:
        lines.append(f"directory source  {directory}")
    lines += [
        f"active revision   {status['active_revision'] or 'none (not serving)'}",
        f"activated at      {status['activated_at'] or '-'}",
        f"last checked at   {status['last_checked_at'] or '-'}",
    ]
    if status["last_failed_revision"] or status["last_error"]:
        lines.append(f"last refused      {status['last_failed_revision'] or '-'}")
        lines.append(f"refused at        {status['last_failed_at'] or '-'}")
        error = status["last_error"].splitlines() or [""]
        lines.append(f"error             {error[0]}")
        lines.extend(f"                  {line}" for line in error[1:])
    if status["source_error"]:
        lines.append(f"source error      {status['source_error'].splitlines()[0]}")
    decision_log = status.get("decision_log") or {}
    if decision_log.get("enabled"):
        lines.append(
            f"decision log      {decision_log['mode']}, stream {decision_log['stream']}: "
            f"{int(decision_log['decisions_logged']):,} logged, "
            f"{int(decision_log['records_lost']):,} lost, "
            f"{int(decision_log['records_refused']):,} refused, "
            f"last checkpoint {decision_log['last_checkpoint_at'] or '-'}"
        )
    else:
        lines.append("decision log      off")
    lines.append(f"version           {status['version']}")
    return "\n".join(lines)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _check(args: argparse.Namespace) -> int:
    decider = app.build_decider(_load_config(args))
    text = sys.stdin.read() if args.file == "-" else _read_file(args.file)
    status = 0
    for where, request in _requests(text):
        try:
            if isinstance(request, InvalidRequestError):
                raise request
            answer = decider.check(request)
        except InvalidRequestError as exc:
            print(f"quanze check: {where}: {exc}", file=sys.stderr)
            answer = decider.deny("invalid_request")
            status = EXIT_BAD_INPUT
        _write(sys.stdout, answer)
    return status


def _read_file(name: str) -> str:
    try:
        return Path(name).read_text()
    except OSError as exc:
        raise QuanzeError(f"cannot read {name}: {exc.strerror}") from exc


def _requests(text: str) -> Iterator[tuple[str, Any]]:
    """(location, request or the error that replaces it) for an object, an array or JSON Lines."""
    if not text.strip():
        raise QuanzeError("no input: give one JSON request, a JSON array, or JSON Lines")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise QuanzeError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        yield from _json_lines(text)
        return
    if isinstance(document, list):
        for index, item in enumerate(document):
            yield f"item {index}", _object_or_error(item)
    else:
        yield "request", _object_or_error(document)


def _json_lines(text: str) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", _object_or_error(json.loads(line))
        except json.JSONDecodeError as exc:
            yield (
                f"line {number}",
                InvalidRequestError("", f"invalid JSON at column {exc.colno}: {exc.msg}"),
            )


def _object_or_error(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    return InvalidRequestError(
        "", "a request must be a JSON object with subject, action and resource"
    )


def _write(stream: TextIO, answer: dict[str, Any]) -> None:
    stream.write(json.dumps(answer, ensure_ascii=False) + "\n")
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
