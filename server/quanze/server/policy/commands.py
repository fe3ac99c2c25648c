"""`quanze policy test|check|eval|bundle`: the security team's commands for a policy directory.

- `test` runs the Rego `test_*` rules (through `RegoTestRunner`) and the decision table (through
  the serving path: `Decider` on `RegorusEngine`), with coverage and JUnit XML for CI.
- `check` compiles the policies and validates the data files, listing every problem it can
  find as `path:line:col: message`, paths relative to the policy directory.
- `eval` answers one request as the sidecar would, and can say which rules fired.
- `bundle` writes an OPA-compatible bundle (gzipped tarball with a `/.manifest`), byte for byte
  the same for the same policies.

And `quanze directory check`, for whoever keeps the organisation directory: its schema and
consistency against the policies, every problem as `file:line:col: field: message`.
`eval` and `bundle` take a deployment's directory too (`--directory`).

Every command returns its exit status; failures the user must fix raise `QuanzeError`s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO

from quanze.server import applog
from quanze.server.decisions import Decider
from quanze.server.directory_check import check_directory
from quanze.server.engine.base import DecisionEngine
from quanze.server.engine.explain import Trace, trace
from quanze.server.engine.regorus_engine import UNDEFINED
from quanze.server.engine.treewalk import TreeWalkingEngine, serving_engine
from quanze.server.errors import (
    InvalidRequestError,
    PolicyError,
    QuanzeError,
)
from quanze.server.policy.bundle import (
    DECISION_ENTRYPOINT,
    DECISIONS_ENTRYPOINT,
    PolicyBundle,
    bundled_policy_dir,
    load_bundle,
)
from quanze.server.policy.directory import (
    BUNDLED_FILE,
    Directory,
    read_directory,
)
from quanze.server.policy.lint import (
    check_policies,
)
from quanze.server.policy.packing import (
    bundle_files,
    bundle_roots,
    packed_revision,
    save_bundle,
    with_directory,
    write_bundle,
)
from quanze.server.policy.testing import (
    DecisionCase,
    FileCoverage,
    RegoTest,
    RegoTestRunner,
    TestOutcome,
    decision_cases,
    file_coverage,
    rego_outcome,
    run_decision_case,
    write_junit,
)
from quanze.server.validation import RequestValidator

EXIT_BAD_INPUT = 2
DEFAULT_THRESHOLD = 95.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `policy` and its four subcommands to the `quanze` command line."""
    policy = commands.add_parser(
        "policy",
        help="test, check, evaluate and bundle a policy directory",
        description="The security team's commands. DIR defaults to the bundled policies.",
    )
    subcommands = policy.add_subparsers(title="policy commands", metavar="COMMAND")
    policy.set_defaults(run=lambda _args: _usage(policy))

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
        help=f"fail when total coverage is below PCT (default {DEFAULT_THRESHOLD:g}; "
        "implies --coverage)",
    )
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    test.add_argument(
        "-v", "--verbose", action="store_true", help="list every test with its outcome and time"
    )
    test.set_defaults(run=_test)

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
    evaluate.add_argument(
        "--input",
        metavar="REQ.json",
        required=True,
        help="the request (a JSON object); - reads stdin",
    )
    evaluate.add_argument(
        "--policies", metavar="DIR", help="policy directory (default: the bundled policies)"
    )
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
    evaluate.set_defaults(run=_eval)

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


def register_directory(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `directory check` to the `quanze` command line."""
    directory = commands.add_parser(
        "directory",
        help="check an organisation directory against the policies",
        description="Commands for whoever keeps the organisation directory.",
    )
    subcommands = directory.add_subparsers(title="directory commands", metavar="COMMAND")
    directory.set_defaults(run=lambda _args: _usage(directory))
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


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_BAD_INPUT


def _policy_dir(value: str | None) -> Path:
    root = Path(value) if value else bundled_policy_dir()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist; give an existing DIR")
    return root.resolve()


def _shown(given: str | None, root: Path) -> str:
    """The policy directory as the user wrote it; the bundled one in full."""
    return given or str(root)


def _quiet_logs() -> None:
    # The decision service logs through structlog; keep it on stderr and to real problems, so
    # stdout carries only the command's own output.
    applog.configure("warning")


# ====================================================================== test


class _Progress:
    """A dot per test on a terminal; elsewhere (CI logs) a counter every tenth of the run."""

    _MARKS: ClassVar[dict[str, str]] = {"pass": ".", "fail": "F", "error": "E"}

    def __init__(self, total: int, stream: TextIO, *, enabled: bool) -> None:
        self._total = total
        self._stream = stream
        self._enabled = enabled and total > 0
        self._tty = stream.isatty()
        self._done = 0
        self._step = max(1, total // 10)

    def advance(self, status: str) -> None:
        if not self._enabled:
            return
        self._done += 1
        if self._tty:
            self._stream.write(self._MARKS.get(status, "?"))
            if self._done % 80 == 0:
                self._stream.write("\n")
        elif self._done % self._step == 0 or self._done == self._total:
            self._stream.write(f"  {self._done}/{self._total} tests run\n")
        self._stream.flush()

    def close(self) -> None:
        if self._enabled and self._tty and self._done % 80:
            self._stream.write("\n")
            self._stream.flush()


def _test(args: argparse.Namespace) -> int:
    _quiet_logs()
    root = _policy_dir(args.dir)
    wanted = _regex(args.pattern)
    with_coverage = bool(args.coverage) or args.threshold is not None
    threshold = DEFAULT_THRESHOLD if args.threshold is None else float(args.threshold)
    policies = load_bundle(root)
    try:
        runner = RegoTestRunner(policies, coverage=with_coverage)
    except PolicyError as exc:
        raise PolicyError(
            f"{exc}\nRun `quanze policy check {_shown(args.dir, root)}` to list every problem."
        ) from exc
    rego_tests = runner.discover(args.pattern or "")
    cases = [c for c in decision_cases(root) if wanted is None or wanted.search(c.id)]
    total = len(rego_tests) + len(cases)
    print(
        f"running {len(rego_tests)} Rego tests and {len(cases)} decision cases "
        f"from {_shown(args.dir, root)}"
    )
    sys.stdout.flush()

    started = time.perf_counter()
    outcomes = _run_tests(policies, runner, rego_tests, cases, verbose=args.verbose)
    seconds = time.perf_counter() - started

    failed = [o for o in outcomes if o.status != "pass"]
    if failed:
        print(f"\n{len(failed)} failure(s):")
        for outcome in failed:
            print(outcome.report())
    coverage_ok = True
    if with_coverage:
        coverage_ok = _print_coverage(file_coverage(runner), threshold)
    if args.junit:
        write_junit(outcomes, Path(args.junit), seconds)
        print(f"JUnit XML written to {args.junit}")
    if total == 0:
        print(f"no test matches --run {args.pattern!r}")
    print(f"ran {total} tests in {seconds:.1f} s")
    print(f"{total - len(failed)} passed, {len(failed)} failed")
    return 0 if total and not failed and coverage_ok else 1


def _run_tests(
    policies: PolicyBundle,
    runner: RegoTestRunner,
    rego_tests: Sequence[RegoTest],
    cases: Sequence[DecisionCase],
    *,
    verbose: bool,
) -> list[TestOutcome]:
    """Run the Rego tests, then the decision cases, reporting each as it finishes."""
    progress = _Progress(len(rego_tests) + len(cases), sys.stderr, enabled=not verbose)
    outcomes: list[TestOutcome] = []

    def record(outcome: TestOutcome) -> None:
        outcomes.append(outcome)
        progress.advance(outcome.status)
        if verbose:
            print(f"{outcome.headline()} ({outcome.seconds * 1000:.1f} ms)")
            for line in outcome.prints:
                print(f"  print: {line}")
            sys.stdout.flush()

    for rego_test in rego_tests:
        record(rego_outcome(runner.run(rego_test)))
    if cases:
        engine, warning = serving_engine(policies)
        if warning:
            print(warning, file=sys.stderr)
        decider = Decider(policies, engine)
        for case in cases:
            outcome = run_decision_case(decider.check, case)
            if isinstance(engine, TreeWalkingEngine):
                outcome = dataclasses.replace(outcome, prints=engine.take_prints())
            record(outcome)
    progress.close()
    return outcomes


def _regex(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise QuanzeError(f"--run {pattern!r} is not a valid regular expression: {exc}") from exc


def _print_coverage(files: Sequence[FileCoverage], threshold: float) -> bool:
    covered = sum(len(f.covered) for f in files)
    lines = covered + sum(len(f.not_covered) for f in files)
    # Rounded down, so a total shown as meeting the threshold does meet it.
    percent = math.floor(1000.0 * covered / lines) / 10 if lines else 0.0
    width = max((len(f.path) for f in files), default=0)
    print("\nline coverage of the policies by the Rego tests:")
    for f in files:
        missed = f"  not covered: {_ranges(f.not_covered)}" if f.not_covered else ""
        if f.not_covered and not f.covered:
            missed = "  no test reaches this module"
        print(f"  {f.path:<{width}}  {f.percent:5.1f}%{missed}")
    print(f"coverage {percent:.1f}% ({covered}/{lines} lines), threshold {threshold:g}%")
    if percent < threshold:
        print(
            f"coverage {percent:.1f}% is below the threshold {threshold:g}%: add tests for the "
            "lines listed as not covered"
        )
        return False
    return True


def _ranges(lines: Iterable[int], limit: int = 12) -> str:
    """`1-3, 7` for [1, 2, 3, 7]; past `limit` ranges, how many lines are left unlisted."""
    parts: list[str] = []
    for n in sorted(lines):
        if parts and parts[-1].split("-")[-1] == str(n - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    if len(parts) <= limit:
        return ", ".join(parts)
    rest = sum(len(range(int(p.split("-")[0]), int(p.split("-")[-1]) + 1)) for p in parts[limit:])
    return ", ".join(parts[:limit]) + f" … and {rest} more"


# Characters XML 1.0 cannot carry; engine messages could contain them.
# ====================================================================== check


def _check(args: argparse.Namespace) -> int:
    _quiet_logs()
    root = _policy_dir(args.dir)
    report = check_policies(root)
    for problem in report.problems:
        print(problem)
    if report.incomplete:
        print(
            "note: some modules were set aside after their errors; errors in the modules that "
            "depend on them show once these are fixed: run check again"
        )
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {_shown(args.dir, root)}")
        return 1
    print(
        f"ok: {report.modules} modules, {report.data_files} data files, revision {report.revision}"
    )
    return 0


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


def _eval(args: argparse.Namespace) -> int:
    _quiet_logs()
    entrypoint: str = args.entrypoint
    if not re.fullmatch(r"data(\.[A-Za-z_][\w]*)+", entrypoint):
        raise QuanzeError(
            f"--entrypoint {entrypoint!r} is not a rule path; write it like {DECISION_ENTRYPOINT}"
        )
    try:
        request = _read_request(args.input)
    except InvalidRequestError as exc:
        print(f"quanze policy eval: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    policies = load_bundle(_policy_dir(args.policies), directory=_read_directory(args.directory))
    validator = RequestValidator(policies.schema, policies.actions)
    try:
        if entrypoint == DECISIONS_ENTRYPOINT:
            validator.list_request(request)
        else:
            validator.check_request(request)
    except InvalidRequestError as exc:
        print(f"quanze policy eval: {args.input}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
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
    status = 0
    if answer is None:
        answer = traced.value
        if answer == UNDEFINED:
            print(
                f"quanze policy eval: {entrypoint} is undefined for this input "
                "(is the rule path spelt right?)",
                file=sys.stderr,
            )
            status = 1
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
    _quiet_logs()
    root = _policy_dir(args.dir)
    report = check_policies(root)
    if report.problems:
        listing = "\n".join(f"  {p}" for p in report.problems)
        raise PolicyError(
            f"{_shown(args.dir, root)} has {len(report.problems)} problem(s); "
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
    return 0


def _directory_check(args: argparse.Namespace) -> int:
    _quiet_logs()
    root = _policy_dir(args.policies)
    report = check_directory(Path(args.path), root)
    for problem in report.problems:
        print(problem)
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {args.path}")
        return 1
    print(
        f"ok: {report.procuratorates} procuratorates, {report.people} people, "
        f"{report.grants} grants, revision {report.revision}"
    )
    return 0
