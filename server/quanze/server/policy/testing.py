"""Run the policies' own tests on regorus: Rego `test_*` rules and the decision table.

Rego tests run on the tree-walking `Engine` (it supports `with`, print capture and line
coverage). Decision-table cases are plain requests with expected answers; callers check them
through every path that serves answers (Engine, RVM, gRPC). Either kind's outcome is a
`TestOutcome`, for `quanze policy test` to report on screen and as JUnit XML (`write_junit`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree  # only ever writes XML

import regorus
import yaml

from quanze.server.errors import (
    EngineCallError,
    InvalidRequestError,
    PolicyError,
    QuanzeError,
    engine_guard,
)
from quanze.server.policy.bundle import PolicyBundle

DECISION_TABLE = Path("quanze/authz/cases")
FIXTURES = "fixtures.yaml"
PACKAGE_LINE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
# libyaml's safe loader reads the decision table ten times faster than the pure-Python one.
YAML_LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = (
    yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
)


@dataclass(frozen=True)
class RegoTest:
    """One `test_*` rule."""

    package: str
    name: str
    file: str
    line: int

    @property
    def rule(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass(frozen=True)
class RegoTestResult:
    """The outcome of one Rego test: "pass", "fail" or "error"."""

    test: RegoTest
    status: str
    message: str = ""
    prints: tuple[str, ...] = ()
    seconds: float = 0.0

    def report(self) -> str:
        """A readable account of a failure, like `opa test -v`."""
        lines = [f"{self.status.upper()} {self.test.file}:{self.test.line} {self.test.name}"]
        if self.message:
            lines.append(f"  {self.message}")
        lines.extend(f"  print: {p}" for p in self.prints)
        return "\n".join(lines)


class RegoTestRunner:
    """Loads policies and test modules into one `Engine`; must be used on the creating thread."""

    def __init__(self, bundle: PolicyBundle, *, coverage: bool = False) -> None:
        self._engine = regorus.Engine()
        try:
            with engine_guard():
                for name, source in (*bundle.modules, *bundle.test_modules):
                    self._engine.add_policy(name, source)
        except EngineCallError as exc:
            raise PolicyError(f"policies at {bundle.root} do not parse:\n{exc}") from exc
        self._engine.add_data_json(bundle.data_json)
        self._engine.set_gather_prints(True)
        self._engine.set_enable_coverage(coverage)
        self._test_files = {name for name, _ in bundle.test_modules}
        self._modules = bundle.modules

    def discover(self, pattern: str = "") -> list[RegoTest]:
        """Every `test_*` rule of the test modules, in file order, filtered by regex `pattern`."""
        wanted = re.compile(pattern) if pattern else None
        tests: dict[str, RegoTest] = {}
        for module in json.loads(self._engine.get_ast_as_json()):
            source = module["source"]
            if source["file"] not in self._test_files:
                continue
            package = PACKAGE_LINE.search(source["contents"])
            if package is None:
                continue
            for rule in module["ast"]["rules"]:
                head: dict[str, Any] = next(iter(rule.get("Spec", {}).get("head", {}).values()), {})
                name = head.get("refr", {}).get("Var", {}).get("value", "")
                if not name.startswith("test_"):
                    continue
                test = RegoTest(
                    package.group(1), name, source["file"], head.get("span", {}).get("line", 0)
                )
                if (wanted is None or wanted.search(test.id)) and test.id not in tests:
                    tests[test.id] = test
        return list(tests.values())

    def run(self, test: RegoTest) -> RegoTestResult:
        """Evaluate one test rule: true passes; false or undefined fails; an exception errors."""
        started = time.perf_counter()
        try:
            with engine_guard():
                value = self._engine.eval_rule(test.rule)
        except EngineCallError as exc:
            status, message = "error", str(exc)
        else:
            status = "pass" if value is True else "fail"
            message = "" if value is True else _failure_message(value)
        prints = tuple(self._engine.take_prints())
        return RegoTestResult(test, status, message, prints, time.perf_counter() - started)

    def coverage(self) -> dict[str, tuple[list[int], list[int]]]:
        """Per policy file (tests excluded): (covered lines, not-covered lines).

        regorus leaves a module that no test evaluated out of its report; such a module counts
        here with all its rule lines uncovered, rather than silently not counting.
        """
        report = json.loads(self._engine.get_coverage_report_as_json())
        measured = {
            f["path"]: (sorted(f.get("covered", [])), sorted(f.get("not_covered", [])))
            for f in report.get("files", [])
            if f["path"] not in self._test_files
        }
        for name, source in self._modules:
            if name not in measured:
                measured[name] = ([], sorted(coverable_lines(name, source)))
        return measured


def coverable_lines(name: str, source: str) -> set[int]:
    """The lines of a module that line coverage counts: rule heads' values and body statements."""
    engine = regorus.Engine()
    engine.add_policy(name, source)
    lines: set[int] = set()
    for module in json.loads(engine.get_ast_as_json()):
        for rule in module["ast"]["rules"]:
            ((kind, body),) = rule.items()
            if kind != "Spec":
                lines |= ast_lines(body.get("value"))
                continue
            ((_, head),) = body["head"].items()
            lines |= ast_lines(head.get("key")) | ast_lines((head.get("assign") or {}).get("value"))
            for definition in body["bodies"]:
                lines |= ast_lines(definition["query"]["stmts"])
    return lines


def ast_lines(node: Any) -> set[int]:
    """Every source line on which some AST node of `node` starts."""
    found: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            span = item.get("span")
            if isinstance(span, dict) and isinstance(span.get("line"), int):
                found.add(span["line"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _failure_message(value: Any) -> str:
    if value is None:
        return "the test is undefined: some expression in its body was false or undefined"
    return f"the test evaluated to {json.dumps(value, ensure_ascii=False)}, not true"


# ---------------------------------------------------------------------- decision table


@dataclass(frozen=True)
class DecisionCase:
    """A named request with the answer the Opinion requires."""

    name: str
    article: str
    request: dict[str, Any]
    decision: bool
    reasons: frozenset[str]
    escalate_to: str = ""
    obligations: frozenset[str] | None = None
    # The case file, relative to the policy directory: where a failing case is reported.
    source: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.source}::{self.name}"

    def mismatches(self, answer: Mapping[str, Any]) -> list[str]:
        """How `answer` differs from the expectation; empty when it matches."""
        problems = []
        if answer.get("decision") is not self.decision:
            problems.append(f"decision is {answer.get('decision')!r}, expected {self.decision!r}")
        codes = {r.get("code") for r in answer.get("reasons", [])}
        if codes != self.reasons:
            problems.append(f"reason codes are {sorted(codes)}, expected {sorted(self.reasons)}")
        # Responsibility articles are cited by accountability, duties by obligations.
        cited = {
            entry.get("article")
            for key in ("reasons", "obligations", "accountable")
            for entry in answer.get(key, [])
        }
        if self.article not in cited:
            problems.append(f"article {self.article} is not cited; cited {sorted(cited)}")
        if answer.get("escalate_to", "") != self.escalate_to:
            problems.append(
                f"escalate_to is {answer.get('escalate_to')!r}, expected {self.escalate_to!r}"
            )
        if self.obligations is not None:
            got = {o.get("code") for o in answer.get("obligations", [])}
            if got != self.obligations:
                problems.append(
                    f"obligations are {sorted(got)}, expected {sorted(self.obligations)}"
                )
        return problems


@dataclass(frozen=True)
class _Fixtures:
    subjects: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)


def load_decision_table(root: Path) -> list[DecisionCase]:
    """Read every case file of `quanze/authz/cases/` under the policy directory `root`."""
    folder = root / DECISION_TABLE
    fixtures = _Fixtures(**(_read_yaml(folder / FIXTURES) or {}).get("fixtures", {}))
    cases: list[DecisionCase] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name != FIXTURES:
            source = path.relative_to(root).as_posix()
            cases.extend(
                _case(entry, fixtures, path, source)
                for entry in (_read_yaml(path) or {}).get("cases", [])
            )
    if not cases:
        raise PolicyError(f"{folder}: no decision cases")
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PolicyError(f"{folder}: duplicate case names {duplicates}")
    return cases


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(), Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read the decision table: {exc}") from exc


def _case(
    entry: Mapping[str, Any], fixtures: _Fixtures, path: Path, source: str = ""
) -> DecisionCase:
    name = entry.get("name", "?")
    try:
        request = {
            "subject": _part(entry["subject"], fixtures.subjects, entry.get("subject_properties")),
            "action": {"name": entry["action"]},
            "resource": _part(
                entry["resource"], fixtures.resources, entry.get("resource_properties")
            ),
            "context": dict(entry.get("context") or {}),
        }
        expect = entry["expect"]
        obligations = expect.get("obligations")
        return DecisionCase(
            name=entry["name"],
            article=str(entry["article"]),
            request=request,
            decision=bool(expect["decision"]),
            reasons=frozenset(expect["reasons"]),
            escalate_to=expect.get("escalate_to", ""),
            obligations=None if obligations is None else frozenset(obligations),
            source=source,
        )
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"{path}: case {name!r} lacks or misshapes {exc}") from exc


def _part(value: Any, named: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    base = json.loads(json.dumps(named[value] if isinstance(value, str) else value))
    if extra:
        base.setdefault("properties", {}).update(extra)
        base["properties"] = {k: v for k, v in base["properties"].items() if v is not None}
    return dict(base)


# ---------------------------------------------------------------------- outcomes and reports


@dataclass(frozen=True)
class TestOutcome:
    """One Rego test or decision case, as reported on screen and in JUnit XML."""

    kind: str  # "rego" or "decision"
    suite: str  # the Rego package, or the case file
    name: str
    file: str
    line: int
    status: str  # "pass", "fail" or "error"
    details: tuple[str, ...] = ()
    prints: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def headline(self) -> str:
        label = "decision case " if self.kind == "decision" else ""
        return f"{self.status.upper()} {label}{self.where} {self.name}"

    def report(self) -> str:
        lines = [self.headline()]
        lines.extend(f"  {d}" for d in self.details)
        lines.extend(f"  print: {p}" for p in self.prints)
        return "\n".join(lines)


def rego_outcome(result: RegoTestResult) -> TestOutcome:
    test = result.test
    return TestOutcome(
        kind="rego",
        suite=test.package,
        name=test.name,
        file=test.file,
        line=test.line,
        status=result.status,
        details=tuple(result.message.splitlines()),
        prints=result.prints,
        seconds=result.seconds,
    )


def run_decision_case(
    check: Callable[[Mapping[str, Any]], Mapping[str, Any]], case: DecisionCase
) -> TestOutcome:
    """Answer one case with `check` (the serving path: `Decider.check`) and compare the answer
    with the expected one."""
    started = time.perf_counter()
    details: tuple[str, ...]
    try:
        with engine_guard():
            problems = case.mismatches(check(case.request))
    except EngineCallError as exc:  # an engine panic must become a reported error, not a crash
        invalid = isinstance(exc.cause, InvalidRequestError)
        problem = "the case's request is invalid" if invalid else "evaluation failed"
        status, details = "error", (f"{problem}: {exc.cause}",)
    else:
        status = "fail" if problems else "pass"
        details = (*problems, f"the case tests article {case.article}") if problems else ()
    return TestOutcome(
        kind="decision",
        suite=case.source,
        name=case.name,
        file=case.source,
        line=0,
        status=status,
        details=details,
        seconds=time.perf_counter() - started,
    )


def decision_cases(root: Path) -> list[DecisionCase]:
    """The decision table of `root`, or none: a policy directory need not have one, but one
    that has must load."""
    if not (root / DECISION_TABLE).is_dir():
        return []
    return load_decision_table(root)


def file_coverage(runner: RegoTestRunner) -> list[FileCoverage]:
    """`RegoTestRunner.coverage` as report rows, sorted by file."""
    measured = runner.coverage()
    files = [FileCoverage(p, tuple(c), tuple(m)) for p, (c, m) in measured.items()]
    return sorted(files, key=lambda f: f.path)


@dataclass(frozen=True)
class FileCoverage:
    path: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 * len(self.covered) / total if total else 100.0


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("?", text)


def write_junit(outcomes: Sequence[TestOutcome], path: Path, seconds: float) -> None:
    """JUnit XML: one testsuite per Rego package and per decision-table file."""
    suites: dict[tuple[str, str], list[TestOutcome]] = {}
    for outcome in outcomes:
        suites.setdefault((outcome.kind, outcome.suite), []).append(outcome)
    root = ElementTree.Element(
        "testsuites",
        name="quanze policy test",
        tests=str(len(outcomes)),
        failures=str(sum(o.status == "fail" for o in outcomes)),
        errors=str(sum(o.status == "error" for o in outcomes)),
        time=f"{seconds:.3f}",
    )
    for (kind, suite_name), members in suites.items():
        name = f"rego {suite_name}" if kind == "rego" else f"decision table {suite_name}"
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(members)),
            failures=str(sum(o.status == "fail" for o in members)),
            errors=str(sum(o.status == "error" for o in members)),
            skipped="0",
            time=f"{sum(o.seconds for o in members):.6f}",
        )
        for outcome in members:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                name=outcome.name,
                classname=suite_name,
                file=outcome.file,
                time=f"{outcome.seconds:.6f}",
            )
            if outcome.line:
                case.set("line", str(outcome.line))
            if outcome.status != "pass":
                tag = "failure" if outcome.status == "fail" else "error"
                summary = outcome.details[0] if outcome.details else outcome.status
                element = ElementTree.SubElement(
                    case, tag, message=_xml_text(summary), type=outcome.status
                )
                element.text = _xml_text(outcome.report())
            if outcome.prints:
                ElementTree.SubElement(case, "system-out").text = _xml_text(
                    "\n".join(outcome.prints)
                )
    ElementTree.indent(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise QuanzeError(f"cannot write the JUnit report {path}: {exc.strerror}") from exc
