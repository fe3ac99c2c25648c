"""The `quanze` command: serve, check, version."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

from quanze.server import __version__, app, applog, config
from quanze.server.decisionlog import commands as decisionlog_commands
from quanze.server.errors import ConfigError, InvalidRequestError, QuanzeError
from quanze.server.policy import commands as policy_commands
from quanze.server.policy.bundle import load_bundle

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
    decisionlog_commands.register(commands)
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML configuration file")
    parser.add_argument(
        "--policies", metavar="DIR", help="policy directory (default: the bundled policies)"
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
    for key in ("address", "workers"):
        value = getattr(args, key, None)
        if value is not None:
            overrides.append(f"server.{key}={value}")
    if getattr(args, "decision_log", None):
        overrides.append(f"decision_log.directory={args.decision_log}")
    loaded = config.load(args.config, overrides=overrides)
    applog.configure(loaded.log.level)
    return loaded


def _serve(args: argparse.Namespace) -> int:
    return app.serve(_load_config(args))


def _version(args: argparse.Namespace) -> int:
    loaded = _load_config(args)
    bundle = load_bundle(Path(loaded.policies.path) if loaded.policies.path else None)
    print(f"quanze {__version__}")
    print(f"engine regorus {_package_version('gordon-to-regorus')}")
    print(f"policies {bundle.revision} ({bundle.root})")
    return 0


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
