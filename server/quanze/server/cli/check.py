"""`quanze check`: answer requests in-process, without a server."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from quanze.server import app
from quanze.server.cli import ExitCode, Subcommands
from quanze.server.cli.options import add_config_options, load_config
from quanze.server.errors import InvalidRequestError, QuanzeError


def register(commands: Subcommands) -> None:
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
    add_config_options(check)
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace) -> int:
    decider = app.build_decider(load_config(args))
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
            status = ExitCode.BAD_INPUT
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
    # JSON Lines ends a line at "\n" only: str.splitlines would also cut at U+2028, U+0085 and
    # other characters a JSON string may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
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
