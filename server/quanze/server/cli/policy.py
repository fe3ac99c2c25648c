"""`quanze policy test|check|eval|bundle`: the security team's commands for a policy directory.

- `test` runs the Rego `test_*` rules (through `RegoTestRunner`) and the decision table (through
  the serving path: `Decider` on `RegorusEngine`), with coverage and JUnit XML for CI; it has
  its own module, `cli.testrun`.
- `check` compiles the policies and validates the data files, listing every problem it can
  find as `path:line:col: message`, paths relative to the policy directory.
- `eval` answers one request as the sidecar would, and can say which rules fired.
- `bundle` writes an OPA-compatible bundle (gzipped tarball with a `/.manifest`), byte for byte
  the same for the same policies.

`eval` and `bundle` take a deployment's directory too (`--directory`). Every command returns
its exit status; failures the user must fix raise `QuanzeError`s.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quanze.server.cli import ExitCode, Subcommands, command_group, testrun
from quanze.server.cli.options import policy_dir, quiet_logs, shown
from quanze.server.decisions import Decider
from quanze.server.engine.base import DecisionEngine
from quanze.server.engine.explain import Trace, trace
from quanze.server.engine.regorus_engine import UNDEFINED
from quanze.server.engine.treewalk import serving_engine
from quanze.server.errors import InvalidRequestError, PolicyError, QuanzeError
from quanze.server.policy.bundle import DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT, load_bundle
from quanze.server.policy.directory import BUNDLED_FILE, Directory, read_directory
from quanze.server.policy.lint import check_policies
from quanze.server.policy.packing import (
    bundle_files,
    bundle_roots,
    packed_revision,
    save_bundle,
    with_directory,
    write_bundle,
)
from quanze.server.policy.routing import plan_routes
from quanze.server.validation import RequestValidator


def register(commands: Subcommands) -> None:
    """Add `policy` and its four subcommands to the `quanze` command line."""
    subcommands = command_group(
        commands,
        "policy",
        help="test, check, evaluate and bundle a policy directory",
        description="The security team's commands. DIR defaults to the bundled policies.",
        title="policy commands",
    )

    test = subcommands.add_parser(
        "test",
        help="run the Rego tests and the decision table",
        description="Run every `test_*` rule of the `*_test.rego` files and every case of the "
        "decision table (quanze/authz/cases). The last line is `N passed, M failed`; the exit "
        "status is 0 only when everything passed (and coverage met --threshold).",
    )
    _dir_argument(test)
    test.add_argument(
        "--run",
        metavar="REGEX",
        dest="pattern",  # `run` is taken: cli.main dispatches on args.run
        help="only tests whose `file::name` matches REGEX (both kinds)",
    )
    test.add_argument(
        "--coverage", action="store_true", help="report the Rego tests' line coverage per file"
    )
    test.add_argument(
        "--threshold",
        metavar="PCT",
        type=float,
        help=f"fail when total coverage is below PCT (default {testrun.DEFAULT_THRESHOLD:g}; "
        "implies --coverage)",
    )
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    test.add_argument(
        "-v", "--verbose", action="store_true", help="list every test with its outcome and time"
    )
    test.set_defaults(run=testrun.run)

    check = subcommands.add_parser(
        "check",
        help="compile the policies and validate the data files",
        description="Compile every module and validate every JSON/YAML file, the power lists "
        "against their schema and the input schema against the catalog. Lists every problem "
        "as `path:line:col: message` (paths relative to DIR); exit status 1 if there are any.",
    )
    _dir_argument(check)
    check.set_defaults(run=_check)

    evaluate = subcommands.add_parser(
        "eval",
        help="answer one request, optionally explaining which rules fired",
        description="Print the contract answer the sidecar would give for one request "
        "(after validating it; an invalid request exits with status 2). print() output of the "
        "policies goes to standard error.",
    )
    _dir_argument(evaluate)
    evaluate.add_argument(
        "--input",
        metavar="REQ.json",
        required=True,
        help="the request (a JSON object); - reads stdin",
    )
    # How DIR was given before eval took it like test, check and bundle: still accepted.
    evaluate.add_argument("--policies", metavar="DIR", help=argparse.SUPPRESS)
    _directory_option(evaluate)
    evaluate.add_argument(
        "--entrypoint",
        default=DECISION_ENTRYPOINT,
        help=f"rule to evaluate (default {DECISION_ENTRYPOINT}; {DECISIONS_ENTRYPOINT} answers "
        "every catalog action; any other rule prints its raw value)",
    )
    evaluate.add_argument(
        "--explain",
        action="store_true",
        help="also list, on standard error, the rules that fired (from line coverage)",
    )
    evaluate.set_defaults(run=lambda args: _eval(args, evaluate))

    build = subcommands.add_parser(
        "bundle",
        help="write an OPA-compatible bundle (.tar.gz)",
        description="Write the policies, data files and schemas as a gzipped tarball with a "
        "/.manifest (revision, roots). The same policies always give the same bytes.",
    )
    _dir_argument(build)
    build.add_argument("-o", "--output", metavar="FILE", required=True, help="bundle to write")
    build.add_argument(
        "--revision", help="manifest revision (default: the content revision of what is packed)"
    )
    build.add_argument(
        "--include-tests",
        action="store_true",
        help="also pack the *_test.rego files and the decision table",
    )
    _directory_option(build)
    build.set_defaults(run=_bundle)


def _directory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--directory",
        metavar="PATH",
        help="organisation directory to use instead of the policies' example: a JSON file or a "
        "folder of JSON files",
    )


def _read_directory(value: str | None) -> Directory | None:
    return read_directory(Path(value)) if value else None


def _dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", nargs="?", metavar="DIR", help="policy directory (default: the bundled policies)"
    )


# ====================================================================== check


def _check(args: argparse.Namespace) -> int:
    quiet_logs()
    root = policy_dir(args.dir)
    report = check_policies(root)
    for problem in report.problems:
        print(problem)
    if report.incomplete:
        print(
            "note: some modules were set aside after their errors; errors in the modules that "
            "depend on them show once these are fixed: run check again"
        )
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {shown(args.dir, root)}")
        return ExitCode.FAILED
    print(
        f"ok: {report.modules} modules, {report.data_files} data files, revision {report.revision}"
    )
    # How the sidecar will evaluate each action (per-action evaluation).
    bundle = load_bundle(root)
    for line in plan_routes(bundle.modules, bundle.data).summary():
        print(line)
    return ExitCode.OK


# ====================================================================== eval


class _Recording:
    """A `DecisionEngine` that keeps the raw document the serving engine produced."""

    def __init__(self, inner: DecisionEngine) -> None:
        self._inner = inner
        self.raw: Any = None

    def decide(self, request: Mapping[str, Any]) -> Any:
        self.raw = self._inner.decide(request)
        return self.raw

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        self.raw = self._inner.decide_all(request)
        return self.raw


def _eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    quiet_logs()
    given = _eval_dir(args, parser)
    entrypoint: str = args.entrypoint
    if not re.fullmatch(r"data(\.[A-Za-z_][\w]*)+", entrypoint):
        raise QuanzeError(
            f"--entrypoint {entrypoint!r} is not a rule path; write it like {DECISION_ENTRYPOINT}"
        )
    try:
        request = _read_request(args.input)
    except InvalidRequestError as exc:
        print(f"quanze policy eval: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    policies = load_bundle(policy_dir(given), directory=_read_directory(args.directory))
    validator = RequestValidator(policies.schema, policies.actions)
    try:
        if entrypoint == DECISIONS_ENTRYPOINT:
            validator.list_request(request)
        else:
            validator.check_request(request)
    except InvalidRequestError as exc:
        print(f"quanze policy eval: {args.input}: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    traced = trace(policies, request, entrypoint, explain=args.explain)
    engine, warning = serving_engine(policies)
    if warning:
        print(warning, file=sys.stderr)
    serving = _Recording(engine)
    decider = Decider(policies, serving)
    answer: Any = None
    if entrypoint == DECISION_ENTRYPOINT:
        answer = decider.check(request)
    elif entrypoint == DECISIONS_ENTRYPOINT:
        answer = dict(decider.allowed_actions(request))
    status = ExitCode.OK
    if answer is None:
        answer = traced.value
        if answer == UNDEFINED:
            print(
                f"quanze policy eval: {entrypoint} is undefined for this input "
                "(is the rule path spelt right?)",
                file=sys.stderr,
            )
            status = ExitCode.FAILED
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    sys.stdout.flush()
    if serving.raw is not None and traced.value != serving.raw:
        print(
            "warning: the tree-walking Engine and the compiled RVM disagree on this input; "
            "the answer above is the RVM's (what the sidecar serves). Please report it.",
            file=sys.stderr,
        )
    _print_trace(traced, entrypoint, explain=args.explain)
    return status


def _eval_dir(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str | None:
    """DIR, or the deprecated `--policies DIR` with a note on stderr; both is a usage error."""
    given: str | None = args.dir
    deprecated: str | None = args.policies
    if deprecated is None:
        return given
    if given is not None:
        parser.error(
            f"give the policy directory once: DIR ({given}) or --policies DIR ({deprecated}), "
            "not both"
        )
    print(
        "quanze policy eval: --policies DIR is deprecated; give DIR as an argument: "
        "quanze policy eval DIR --input …",
        file=sys.stderr,
    )
    return deprecated


def _read_request(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError("", f"cannot read {name}: {exc}") from exc
    try:
        request = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            "", f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
        ) from exc
    if not isinstance(request, dict):
        raise InvalidRequestError(
            "", f"{name}: a request must be a JSON object with subject, action and resource"
        )
    return request


def _print_trace(traced: Trace, entrypoint: str, *, explain: bool) -> None:
    out = sys.stderr
    if traced.prints:
        print("print output:", file=out)
        for line in traced.prints:
            print(f"  {line}", file=out)
    if not explain:
        return
    print(f"rules that fired for {entrypoint} (tree-walking Engine, line coverage):", file=out)
    for rule in sorted(traced.fired, key=lambda r: (r.file, r.line)):
        print(f"  {rule.file}:{rule.line} {rule.name}", file=out)
    if traced.reached:
        print("rules reached whose outcome line coverage cannot show:", file=out)
        for rule in sorted(traced.reached, key=lambda r: (r.file, r.line)):
            print(f"  {rule.file}:{rule.line} {rule.name}", file=out)
    print(f"({traced.definitions} unconditional definitions were evaluated too)", file=out)


# ====================================================================== bundle


def _bundle(args: argparse.Namespace) -> int:
    quiet_logs()
    root = policy_dir(args.dir)
    report = check_policies(root)
    if report.problems:
        listing = "\n".join(f"  {p}" for p in report.problems)
        raise PolicyError(
            f"{shown(args.dir, root)} has {len(report.problems)} problem(s); "
            f"fix them before bundling:\n{listing}"
        )
    files = bundle_files(root, include_tests=args.include_tests)
    directory = _read_directory(args.directory)
    if directory is not None:
        load_bundle(root, directory=directory)  # the schema and consistency, file and field named
        files = with_directory(files, directory)
    revision = args.revision or packed_revision(files)
    manifest = {"revision": revision, "roots": bundle_roots(files)}
    payload = write_bundle(files, manifest)
    output = Path(args.output)
    save_bundle(payload, output)
    for f in files:
        print(f"  /{f.path} ({len(f.content)} bytes)")
    tests = "with tests" if args.include_tests else "without tests"
    print(f"wrote {output}: {len(files)} files {tests}, {len(payload)} bytes")
    print(f"manifest: revision {revision}, roots {json.dumps(manifest['roots'])}")
    if directory is not None:
        print(
            f"organisation directory {args.directory} (revision {directory.revision}) packed as "
            f"/{BUNDLED_FILE}"
        )
    elif revision != report.revision and not args.revision:
        print(
            f"(the directory's own revision, counting every file, is {report.revision}; the "
            "bundle's revision counts only what it packs)"
        )
    return ExitCode.OK
