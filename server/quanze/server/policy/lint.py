"""Lint a policy directory: every problem that can be found without running its tests.

`check_policies` compiles the modules and validates the data files, listing each problem as
`path:line:col: message`, the path relative to the policy directory.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import regorus
import yaml

from quanze.server.errors import EngineCallError, PolicyError, engine_guard
from quanze.server.policy.bundle import (
    DATA_SCHEMAS,
    DECISION_ENTRYPOINT,
    DECISIONS_ENTRYPOINT,
    SCHEMA_PATH,
    check_schema_matches_catalog,
    governed_document,
    load_bundle,
    load_data,
    load_schema,
    schema_error_message,
    schema_errors,
)
from quanze.server.policy.files import link_problem, walk_tree
from quanze.server.policy.rego_ast import nodes, ref_path
from quanze.server.policy.rules import ModuleIndex
from quanze.server.policy.testing import DECISION_TABLE, YAML_LOADER, load_decision_table

SERVING_ENTRYPOINTS = (DECISION_ENTRYPOINT, DECISIONS_ENTRYPOINT)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a policy directory; `file` is relative to it ("" for the whole)."""

    file: str
    line: int = 0
    col: int = 0
    message: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line:
            # Editors and CI annotate `path:line:col`; a rule-level error starts its rule.
            where += f":{self.line}:{self.col or 1}"
        return f"{where}: {self.message}" if where else self.message


@dataclass
class CheckReport:
    """What `check` found: problems, and on success what was checked."""

    problems: list[Problem] = field(default_factory=list)
    modules: int = 0
    data_files: int = 0
    revision: str = ""
    # Set when errors in some modules may hide errors in the modules that depend on them.
    incomplete: bool = False

    def add(self, problem: Problem) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)\s*$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^error:\s*(?P<message>.*)$", re.MULTILINE)
_RULE_NAMED = re.compile(r"rule '(?P<rule>data\.[\w.]+)'")
_UNKNOWN_FUNCTION = re.compile(
    r"(?:Unknown function: '|could not find function )(?P<name>[\w.]+)'?"
)


def parse_engine_error(
    text: str, rules: Mapping[str, tuple[str, int, int]] | None = None
) -> Problem:
    """A regorus error as a Problem: its `--> file:line:col` and `error: message`.

    Errors without a location that name a rule (`rule 'data.a.b' has ...`) are placed at the
    rule's first definition when `rules` (rule path -> (file, line, col)) knows it.
    """
    text = text.strip()
    located = _LOCATION.search(text)
    said = _ERROR_LINE.search(text)
    if said:
        message = said.group("message").strip()
        # Some messages point at a second place ("... defined earlier:" --> file:line:col).
        rest = text[said.end() :]
        second = _LOCATION.search(rest)
        if message.endswith(":") and second:
            message = f"{message} {second['file']}:{second['line']}:{second['col']}"
    else:
        message = text.split("\n\nCaused by:")[0].strip().splitlines()[0] if text else "error"
        # "Compilation error: internal: ..." : the prefixes say nothing the user can act on.
        message = re.sub(r"^(Compilation error:\s*)?(internal:\s*)?", "", message)
    if located:
        return Problem(located["file"], int(located["line"]), int(located["col"]), message)
    named = _RULE_NAMED.search(message)
    if named and rules and named["rule"] in rules:
        file, line, col = rules[named["rule"]]
        return Problem(file, line, col, message)
    return Problem("", 0, 0, message)


def check_policies(root: Path) -> CheckReport:
    """Every problem of the policy directory `root` that can be found without running tests."""
    report = CheckReport()
    files, links = walk_tree(root)
    for link in links:
        report.add(Problem(_relative(root, link), message=link_problem(link)))
    rego = [f for f in files if f.suffix == ".rego"]
    report.modules = len(rego)
    report.data_files = sum(f.name == "data.json" for f in files)
    if not rego:
        report.add(Problem("", message=f"no .rego files under {root}"))
    sources = _read_sources(root, rego, report)
    parsed = _parse_modules(sources, report)
    documents = _check_json_files(root, files, report)
    _check_yaml_files(root, files, report)
    data: dict[str, Any] | None = None
    # The loader refuses a tree with links outright: each link is already listed.
    if not links and not any(p.file.endswith(".json") for p in report.problems):
        data = _check_data(root, report)
    for keys, schema_path in DATA_SCHEMAS.items():
        # From the merged data when it loads; else straight from the file, which parsed.
        document = (
            governed_document(data, keys) if data else documents.get("/".join(keys) + "/data.json")
        )
        _check_governed_document(root, document, keys, schema_path, report)
    _check_decision_table(root, report)
    _check_rego(parsed, data, report)
    report.problems = [_in_characters(p, sources) for p in report.problems]
    if not report.problems:
        try:
            report.revision = load_bundle(root).revision
        except PolicyError as exc:  # anything load_bundle checks that the steps above missed
            report.add(policy_problem(root, exc))
    report.problems.sort()
    return report


_PLACED = re.compile(r"^(?P<file>[^\s:]+\.(?:json|ya?ml|rego))(?::(?P<line>\d+):(?P<col>\d+))?: ")


def policy_problem(root: Path, error: PolicyError) -> Problem:
    """A loader error as a Problem, its absolute paths made relative to the policy directory."""
    message = str(error).replace(f"{root}/", "")
    placed = _PLACED.match(message)
    if placed is None:
        return Problem("", message=message)
    line, col = int(placed["line"] or 0), int(placed["col"] or 0)
    return Problem(placed["file"], line, col, message[placed.end() :])


def _in_characters(problem: Problem, sources: Mapping[str, str]) -> Problem:
    """The engine's column as a character column, which editors and CI annotations expect.

    regorus counts UTF-8 bytes and four columns per tab; a Chinese comment or a tab-indented
    body would otherwise point past the spot.
    """
    source = sources.get(problem.file)
    if source is None or problem.line < 1 or problem.col < 1:
        return problem
    lines = source.splitlines()
    if problem.line > len(lines):
        return problem
    width = 0
    for index, char in enumerate(lines[problem.line - 1]):
        if width >= problem.col - 1:
            return dataclasses.replace(problem, col=index + 1)
        width += 4 if char == "\t" else len(char.encode())
    return dataclasses.replace(problem, col=len(lines[problem.line - 1]) + 1)


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_sources(root: Path, files: Sequence[Path], report: CheckReport) -> dict[str, str]:
    sources: dict[str, str] = {}
    for path in files:
        name = _relative(root, path)
        try:
            sources[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.add(Problem(name, message=f"cannot read the module: {exc}"))
    return sources


def _parse_modules(sources: Mapping[str, str], report: CheckReport) -> dict[str, str]:
    """The modules that parse; each is parsed alone, so every file's syntax error is listed."""
    parsed: dict[str, str] = {}
    for name, source in sources.items():
        try:
            with engine_guard():
                regorus.Engine().add_policy(name, source)
        except EngineCallError as exc:
            problem = parse_engine_error(str(exc))
            report.add(problem if problem.file else Problem(name, message=problem.message))
        else:
            parsed[name] = source
    return parsed


def _check_json_files(root: Path, files: list[Path], report: CheckReport) -> dict[str, Any]:
    """Every JSON file parses, and data.json files hold objects; the documents that parse."""
    documents: dict[str, Any] = {}
    for path in (f for f in files if f.suffix == ".json"):
        name = _relative(root, path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            report.add(Problem(name, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            report.add(Problem(name, message=f"cannot read the file: {exc}"))
            continue
        if path.name == "data.json" and not isinstance(document, dict):
            report.add(Problem(name, message="a data.json file must hold a JSON object"))
            continue
        documents[name] = document
    return documents


def _check_yaml_files(root: Path, files: list[Path], report: CheckReport) -> None:
    for path in (f for f in files if f.suffix in (".yaml", ".yml")):
        name = _relative(root, path)
        try:
            yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)  # noqa: S506 - safe
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            report.add(Problem(name, line, col, f"invalid YAML: {exc.problem or exc.context}"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            report.add(Problem(name, message=f"cannot read the file: {exc}"))


def _check_data(root: Path, report: CheckReport) -> dict[str, Any] | None:
    """The data document, after the governed files, the schemas and the catalog are checked."""
    try:
        # Reuse the loader's own checks: the data tree, the catalog, the input schema.
        data = load_data(root)
        schema = load_schema(root)
    except PolicyError as exc:
        report.add(policy_problem(root, exc))
        return None
    _check_schema_itself(SCHEMA_PATH.as_posix(), schema, report)
    try:
        check_schema_matches_catalog(schema, data)
    except PolicyError as exc:
        report.add(policy_problem(root, exc))
    return data


def _check_decision_table(root: Path, report: CheckReport) -> None:
    # A file that is not YAML is already listed; the loader would only repeat it.
    folder = DECISION_TABLE.as_posix()
    if (root / DECISION_TABLE).is_dir() and not any(
        p.file.startswith(folder) for p in report.problems
    ):
        try:
            load_decision_table(root)
        except PolicyError as exc:
            report.add(policy_problem(root, exc))


def _check_schema_itself(name: str, schema: Any, report: CheckReport) -> bool:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        report.add(Problem(name, message=f"not a valid JSON Schema: {where}: {exc.message}"))
        return False
    return True


def _check_governed_document(
    root: Path,
    document: Any,
    keys: tuple[str, ...],
    schema_path: Path,
    report: CheckReport,
) -> None:
    """Every way a governed data file (e.g. the power lists) breaks its schema, by field."""
    if document is None:
        return
    try:
        schema = json.loads((root / schema_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report.add(Problem(schema_path.as_posix(), message="missing or not JSON; it governs data"))
        return
    if not _check_schema_itself(schema_path.as_posix(), schema, report):
        return
    name = "/".join(keys) + "/data.json"
    try:
        text = (root / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    for error in schema_errors(schema, document):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        line, col = json_position(text, list(error.absolute_path)) or (0, 0)
        message = f"{where}: {schema_error_message(error)} (see {schema_path})"
        report.add(Problem(name, line, col, message))


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_position(text: str, path: Sequence[str | int]) -> tuple[int, int] | None:
    """(line, column) where the value at `path` starts in the JSON `text`; None if not found.

    jsonschema reports paths, not positions: this walks the text to the value.
    """
    decoder = json.JSONDecoder()

    def skip(at: int) -> int:
        match = _WHITESPACE.match(text, at)
        return match.end() if match else at

    try:
        at = skip(0)
        for step in path:
            if text[at] == "{":
                at = skip(at + 1)
                while text[at] != "}":
                    key, at = decoder.raw_decode(text, at)
                    at = skip(skip(at) + 1)  # past the colon, at the value
                    if key == step:
                        break
                    at = skip(decoder.raw_decode(text, at)[1])
                    if text[at] == ",":
                        at = skip(at + 1)
                else:
                    return None
            elif text[at] == "[" and isinstance(step, int):
                at = skip(at + 1)
                for _ in range(step):
                    at = skip(decoder.raw_decode(text, at)[1])
                    if text[at] != ",":
                        return None
                    at = skip(at + 1)
            else:
                return None
    except (IndexError, ValueError):
        return None
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


def _check_rego(parsed: Mapping[str, str], data: Any, report: CheckReport) -> None:
    """Safety analysis of every module (tests too), then the compile the sidecar does."""
    if not parsed:
        return
    data_json = json.dumps(data if data is not None else {}, ensure_ascii=False)
    index = ModuleIndex.build(parsed)

    def analyse(modules: Sequence[tuple[str, str]]) -> None:
        engine = regorus.Engine()
        for name, source in modules:
            engine.add_policy(name, source)
        engine.add_data_json(data_json)
        # The first evaluation runs the engine's whole-program analysis (unsafe variables...).
        engine.eval_query("true")

    def compile_serving(modules: Sequence[tuple[str, str]]) -> None:
        regorus.Program.compile_from_modules(data_json, list(modules), list(SERVING_ENTRYPOINTS))

    failed = _with_exclusions(dict(parsed), analyse, index, report, set())
    serving = {n: s for n, s in parsed.items() if not n.endswith("_test.rego")}
    if not _defines_entrypoints(index, serving, set()):
        if len(parsed) < report.modules:
            report.incomplete = True  # the entrypoints may be in a module that does not parse
            return
        missing = " and ".join(SERVING_ENTRYPOINTS)
        report.add(Problem("", message=f"no module defines {missing}, which the sidecar serves"))
        return
    # The RVM has no print(): name every call, since its own error names none.
    printing = _call_sites(serving, "print")
    for problem in printing:
        report.add(problem)
    failed |= {p.file for p in printing}
    for problem in _data_imports(serving):
        report.add(problem)
    if not _defines_entrypoints(index, serving, failed):
        report.incomplete = True  # the module with the entrypoints has errors already listed
        return
    failed = _with_exclusions(serving, compile_serving, index, report, failed)
    _check_unreached_rules(serving, failed, index, data_json, report)


def _call_sites(modules: Mapping[str, str], function: str) -> list[Problem]:
    """Every call of the builtin `function` in the modules, as a problem for the RVM."""
    problems = []
    for name, ast in _module_asts(modules):
        for item in nodes(ast):
            call = item.get("Call")
            callee = call.get("fcn", {}).get("Var", {}) if isinstance(call, dict) else {}
            if callee.get("value") == function:
                problems.append(
                    _problem_at(
                        name,
                        callee.get("span", {}),
                        f"{function}() is not available on the compiled RVM the sidecar serves "
                        f"from, so the sidecar would refuse these policies; remove it after "
                        f"debugging (quanze policy test and eval show its output)",
                    )
                )
    return sorted(problems)


def _data_imports(modules: Mapping[str, str]) -> list[Problem]:
    """Every `import data....` in a serving module: the policies refer by full path instead.

    On regorus's RVM a reference through an import alias builds the whole imported package
    (about 50 µs) where the full path costs about 5 µs; test modules may keep their imports.
    """
    problems = []
    for name, ast in _module_asts(modules):
        for module in ast:
            for imported in module["ast"].get("imports", []):
                path = ref_path(imported["refr"])
                if path is None or not path.startswith("data."):
                    continue
                problems.append(
                    _problem_at(
                        name,
                        imported.get("span", {}),
                        f"import {path}: write {path}.<rule> where the rule is used and drop "
                        f"the import; on the compiled RVM the sidecar serves from, a reference "
                        f"through an import alias costs about ten times the full path "
                        f"(docs/policy-guide.md, style)",
                    )
                )
    return sorted(problems)


def _module_asts(modules: Mapping[str, str]) -> Iterator[tuple[str, Any]]:
    """Each module's name and regorus's AST of it (a list of one module)."""
    for name, source in modules.items():
        engine = regorus.Engine()
        engine.add_policy(name, source)
        yield name, json.loads(engine.get_ast_as_json())


def _problem_at(name: str, span: Mapping[str, Any], message: str) -> Problem:
    return Problem(name, int(span.get("line", 0)), int(span.get("col", 0)), message)


def _check_unreached_rules(
    serving: Mapping[str, str],
    failed: set[str],
    index: ModuleIndex,
    data_json: str,
    report: CheckReport,
) -> None:
    """Compile each module's rules as entrypoints, so rules no decision reaches are checked too.

    Only located errors count: the RVM rejects some constructs (e.g. `walk`) without a
    location, and the tree-walking Engine, which evaluates those rules, accepts them.
    """
    modules = sorted((n, s) for n, s in serving.items() if n not in failed)
    for name, _ in modules:
        entrypoints = sorted(
            {r.path for r in index.rules if r.file == name and r.kind != "function"}
            - set(SERVING_ENTRYPOINTS)
        )
        entrypoints = [e for e in entrypoints if re.fullmatch(r"data(\.\w+)+", e)]
        if not entrypoints:
            continue
        try:
            with engine_guard():
                regorus.Program.compile_from_modules(data_json, modules, entrypoints)
        except EngineCallError as exc:
            problem = parse_engine_error(str(exc), index.rule_locations)
            if problem.line:
                report.add(problem)


def _defines_entrypoints(index: ModuleIndex, modules: Iterable[str], without: set[str]) -> bool:
    wanted = {e.removeprefix("data.") for e in SERVING_ENTRYPOINTS}
    present = {
        f"{r.package}.{r.name}" for r in index.rules if r.file in modules and r.file not in without
    }
    return wanted <= present


def _with_exclusions(
    modules: dict[str, str],
    attempt: Callable[[Sequence[tuple[str, str]]], None],
    index: ModuleIndex,
    report: CheckReport,
    excluded: set[str],
) -> set[str]:
    """Run `attempt` on the modules; after each located error, set that module aside and rerun.

    regorus stops at its first error; setting the failing module aside lets the next run
    report the errors of the other modules. An error that only follows from a module set
    aside (a function it defined is now unknown) ends the search and marks the report
    incomplete. Returns the modules set aside.
    """
    remaining = {n: s for n, s in modules.items() if n not in excluded}
    failed: set[str] = set(excluded)
    while remaining:
        try:
            with engine_guard():
                attempt(sorted(remaining.items()))
        except EngineCallError as exc:
            problem = parse_engine_error(str(exc), index.rule_locations)
            if failed and _follows_from(problem, index, failed):
                report.incomplete = True
                return failed
            report.add(problem)
            if problem.file not in remaining:
                return failed
            failed.add(problem.file)
            del remaining[problem.file]
        else:
            return failed
    return failed


def _follows_from(problem: Problem, index: ModuleIndex, failed: set[str]) -> bool:
    if "not a valid rule path" in problem.message:
        return True
    unknown = _UNKNOWN_FUNCTION.search(problem.message)
    if unknown is None:
        return False
    name = unknown["name"].rsplit(".", 1)[-1]
    return any(r.name == name and r.file in failed for r in index.rules)
