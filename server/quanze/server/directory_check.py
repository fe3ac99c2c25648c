"""Check an organisation directory against the policies (`quanze directory check`).

Every problem as `file:line:col: field: message`: the directory's schema, its consistency, and
whether the policies, compiled with it, can evaluate a request. It compiles the policies with
the engine the sidecar serves from, which is why this sits above `engine`, not in `policy`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.errors import EngineCallError, PolicyError, QuanzeError, engine_guard
from quanze.server.policy.bundle import (
    PolicyBundle,
    load_bundle,
    load_data,
    schema_error_message,
    schema_errors,
)
from quanze.server.policy.directory import (
    DIRECTORY_SCHEMA,
    Directory,
    consistency_problems,
    office_holders,
    read_directory,
)
from quanze.server.policy.lint import Problem, json_position, policy_problem


@dataclass
class DirectoryReport:
    """What `directory check` found: problems, and on success what the directory holds."""

    problems: list[Problem] = field(default_factory=list)
    procuratorates: int = 0
    people: int = 0
    grants: int = 0
    revision: str = ""


def check_directory(path: Path, root: Path) -> DirectoryReport:
    """Every problem of the organisation directory at `path`, as the policies at `root` see it.

    Files are named relative to `path` (a folder) or by their name (one file). Past the schema
    and the consistency rules, the policies are compiled with the directory and asked what one
    of its procurators may do on a case of their own, so a directory the policies cannot
    evaluate is refused here rather than when serving. Policies that cannot be read raise
    `PolicyError`: that is for `quanze policy check` to explain.
    """
    report = DirectoryReport()
    base = (path if path.is_dir() else path.parent).absolute()
    try:
        directory = read_directory(path)
    except PolicyError as exc:
        report.problems.append(policy_problem(base, exc))
        return report
    # Loading checks the schema and consistency too, but stops at the first problem: only when
    # it refuses are they listed one by one, at their file, line and column.
    try:
        bundle = load_bundle(root, directory=directory)
    except PolicyError as exc:
        report.problems.extend(_listed_problems(root, directory, base))
        if not report.problems:
            report.problems.append(Problem("", message=f"{_CANNOT_SERVE}: {exc}"))
        return report
    problem = _serving_problem(bundle, directory)
    if problem:
        report.problems.append(Problem("", message=problem))
        return report
    document = directory.document
    report.procuratorates = len(document["procuratorates"])
    report.people = len(office_holders(document))
    report.grants = sum(len(grants) for grants in document["grants"].values())
    report.revision = directory.revision
    return report


_CANNOT_SERVE = "the policies cannot serve with this directory"


def _listed_problems(root: Path, directory: Directory, base: Path) -> list[Problem]:
    """Every schema problem of `directory`, or when there are none every inconsistency."""
    data = load_data(root)
    try:
        schema = json.loads((root / DIRECTORY_SCHEMA).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(
            f"{root / DIRECTORY_SCHEMA}: cannot read the directory schema ({exc}); run "
            f"`quanze policy check {root}`"
        ) from exc
    locate = _Locator(directory, base)
    document = directory.document
    problems = []
    for error in schema_errors(schema, document):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        message = f"{where}: {schema_error_message(error)} (see {DIRECTORY_SCHEMA})"
        problems.append(locate(list(error.absolute_path), message))
    if problems:
        return problems
    for problem in consistency_problems(document, data["quanze"]["catalog"]["actions"]):
        member = problem.split(":", 1)[0].split(".")
        steps = [int(p) if p.isdigit() else p for p in member]
        problems.append(locate(steps, problem))
    return problems


class _Locator:
    """Places a problem at the file holding a member and the line and column of its value."""

    def __init__(self, directory: Directory, base: Path) -> None:
        self._directory = directory
        self._base = base
        self._texts: dict[Path, str] = {}

    def __call__(self, steps: list[str | int], message: str) -> Problem:
        file = Path(self._directory.where(".".join(str(s) for s in steps)))
        if not file.is_file():  # the whole document: no one file holds it
            return Problem("", message=message)
        if file not in self._texts:
            self._texts[file] = file.read_text(encoding="utf-8")
        line, col = json_position(self._texts[file], steps) or (0, 0)
        name = (
            file.relative_to(self._base).as_posix()
            if file.is_relative_to(self._base)
            else str(file)
        )
        return Problem(name, line, col, message)


def _serving_problem(bundle: PolicyBundle, directory: Directory) -> str:
    """Why the policies cannot serve with `directory` ("" if they can): compile, evaluate."""
    request = _procurator_request(directory.document)
    try:
        with engine_guard():
            engine = RegorusEngine(bundle)
            if request is not None:
                engine.decide_all(request)
    except EngineCallError as exc:  # an engine panic is a refusal too, not a crash
        if isinstance(exc.cause, QuanzeError):
            return f"{_CANNOT_SERVE}: {exc.cause}"
        return f"{_CANNOT_SERVE}: {exc.kind}: {exc.cause}"
    return ""


def _procurator_request(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """What may the directory's first procurator do on a case they handle alone?"""
    for pid, entry in sorted(document["procuratorates"].items()):
        procurators = sorted(entry.get("procurators", {}))
        if procurators:
            person = procurators[0]
            return {
                "subject": {
                    "type": "user",
                    "id": person,
                    "properties": {
                        "role": "procurator",
                        "roles": ["procurator"],
                        "procuratorate": pid,
                    },
                },
                "resource": {
                    "type": "case",
                    "id": "C-DIRECTORY-CHECK",
                    "properties": {
                        "procuratorate": pid,
                        "handling_mode": "sole",
                        "sole_procurator": person,
                    },
                },
            }
    return None
