"""`quanze policy test`: run the Rego tests and the decision table, and report them.

Progress as the tests run, every failure at the end, coverage against a threshold, and JUnit
XML for CI; the last line is `N passed, M failed`. Registered by `cli.policy` with the other
policy commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, TextIO

from quanze.server.cli import ExitCode
from quanze.server.cli.options import policy_dir, quiet_logs, shown
from quanze.server.decisions import Decider
from quanze.server.engine.treewalk import TreeWalkingEngine, serving_engine
from quanze.server.errors import PolicyError, QuanzeError
from quanze.server.policy.bundle import PolicyBundle, load_bundle
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

DEFAULT_THRESHOLD = 95.0
CASE_TIMEOUT_MS = 60_000.0


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


def run(args: argparse.Namespace) -> int:
    """`quanze policy test`."""
    quiet_logs()
    root = policy_dir(args.dir)
    wanted = _regex(args.pattern)
    with_coverage = bool(args.coverage) or args.threshold is not None
    threshold = DEFAULT_THRESHOLD if args.threshold is None else float(args.threshold)
    policies = load_bundle(root)
    try:
        runner = RegoTestRunner(policies, coverage=with_coverage)
    except PolicyError as exc:
        raise PolicyError(
            f"{exc}\nRun `quanze policy check {shown(args.dir, root)}` to list every problem."
        ) from exc
    rego_tests = runner.discover(args.pattern or "")
    cases = [c for c in decision_cases(root) if wanted is None or wanted.search(c.id)]
    total = len(rego_tests) + len(cases)
    print(
        f"running {len(rego_tests)} Rego tests and {len(cases)} decision cases "
        f"from {shown(args.dir, root)}"
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
    return ExitCode.OK if total and not failed and coverage_ok else ExitCode.FAILED


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
        # A case checks what the policies answer, not how fast: the serving deadline (250 ms)
        # would turn a slow moment of a loaded machine (a CI runner, the reload gate running
        # beside serving workers) into a failed case and a refused revision.
        decider = Decider(policies, engine, timeout_ms=CASE_TIMEOUT_MS)
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
