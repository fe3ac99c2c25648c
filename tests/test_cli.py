"""The `quanze` command as a user runs it: a real process, real stdin and stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quanze.server.policy.directory import read_directory
from quanze.server.policy.testing import DecisionCase
from tests.support import (
    ANSWER_KEYS,
    CLERK_TAKES_RECORD,
    bundled_directory,
    environment_without_quanze_settings,
    split_directory,
    without_clerk,
    write_json,
)

QUANZE = [sys.executable, "-m", "quanze.server.cli"]


def run(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = environment_without_quanze_settings()
    return subprocess.run(
        [*QUANZE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=cwd,
    )


def answers(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture(scope="module")
def requests(decision_cases: list[DecisionCase]) -> list[dict[str, Any]]:
    return [c.request for c in decision_cases[:3]]


def test_check_one_request_from_stdin_cites_article(
    decision_cases: list[DecisionCase], tmp_path: Path
) -> None:
    case = next(
        c for c in decision_cases if c.name == "assistant_interrogates_without_guidance_denied"
    )
    result = run("check", "-", stdin=json.dumps(case.request, ensure_ascii=False), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (answer,) = answers(result.stdout)
    assert answer["decision"] is False
    assert answer["reasons"][0]["article"] == "十七"
    assert set(answer) == ANSWER_KEYS


def test_check_array_and_json_lines_answer_in_order(
    requests: list[dict[str, Any]], decision_cases: list[DecisionCase]
) -> None:
    expected = [c.decision for c in decision_cases[:3]]
    as_array = run("check", stdin=json.dumps(requests))
    as_lines = run("check", "-", stdin="\n".join(json.dumps(r) for r in requests) + "\n")
    for result in (as_array, as_lines):
        assert result.returncode == 0, result.stderr
        assert [a["decision"] for a in answers(result.stdout)] == expected


def test_check_reads_a_file(requests: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in requests))
    result = run("check", str(path))
    assert result.returncode == 0
    assert len(answers(result.stdout)) == 3


def test_check_bad_line_names_line_and_keeps_order(requests: list[dict[str, Any]]) -> None:
    bad = json.loads(json.dumps(requests[1]))
    bad["action"]["name"] = "case.unknown"
    lines = [json.dumps(requests[0]), "{not json", json.dumps(bad), json.dumps(requests[2])]
    result = run("check", stdin="\n".join(lines))
    assert result.returncode == 2
    out = answers(result.stdout)
    assert len(out) == 4
    assert [a["reasons"][0]["code"] for a in out[1:3]] == ["invalid_request", "invalid_request"]
    assert all(a["decision"] is False for a in out[1:3])
    assert "line 2: invalid JSON at column 2" in result.stderr
    assert "line 3: action.name: unknown action 'case.unknown'" in result.stderr


def test_check_denies_nan_naming_the_field(requests: list[dict[str, Any]]) -> None:
    # Python's json reads NaN; the answer must still be an invalid request, not an engine error.
    with_nan = '"context": {"extensions": {"n": NaN}, '
    text = json.dumps(requests[0]).replace('"context": {', with_nan, 1)
    result = run("check", stdin=text)
    assert result.returncode == 2
    (answer,) = answers(result.stdout)
    assert [r["code"] for r in answer["reasons"]] == ["invalid_request"]
    assert "request: context.extensions.n: NaN is not a JSON number" in result.stderr


def test_check_json_lines_keep_line_separators_inside_strings(
    requests: list[dict[str, Any]],
) -> None:
    # U+2028 and U+0085 may stand unescaped in a JSON string; only "\n" ends a JSON Line.
    first = json.loads(json.dumps(requests[0]))
    first["context"]["extensions"] = {"note": "a\u2028b\x85c"}
    lines = [json.dumps(first, ensure_ascii=False), json.dumps(requests[1])]
    as_lines = run("check", stdin="\r\n".join(lines) + "\n")
    as_array = run("check", stdin=json.dumps([first, requests[1]], ensure_ascii=False))
    assert as_lines.returncode == 0, as_lines.stderr

    def outcome(stdout: str) -> list[tuple[bool, list[str]]]:
        return [(a["decision"], [r["code"] for r in a["reasons"]]) for a in answers(stdout)]

    assert len(answers(as_lines.stdout)) == 2
    assert outcome(as_lines.stdout) == outcome(as_array.stdout)


def test_check_invalid_json_document_reports_position() -> None:
    result = run("check", stdin='{"subject": {"id": "x",}}')
    assert result.returncode == 1
    assert "invalid JSON at line 1, column 24" in result.stderr
    assert result.stdout == ""


def test_check_empty_input_explains_the_formats() -> None:
    result = run("check", stdin="")
    assert result.returncode == 1
    assert "no input" in result.stderr


def test_check_missing_file_is_reported() -> None:
    result = run("check", "/nonexistent/requests.json")
    assert result.returncode == 1
    assert "cannot read /nonexistent/requests.json" in result.stderr


def test_version_names_engine_and_policy_revision() -> None:
    result = run("version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("quanze ")
    assert lines[1].startswith("engine regorus ")
    assert lines[2].startswith("policies ")


def test_bad_configuration_lists_problems() -> None:
    result = run("check", "--set", "server.workers=-1", "--set", "log.level=loud", stdin="{}")
    assert result.returncode == 2
    assert "2 problem(s)" in result.stderr


def test_no_command_prints_help() -> None:
    result = run()
    assert result.returncode == 2
    assert "serve" in result.stdout
    assert "check" in result.stdout


def test_closed_stdout_stops_quietly(requests: list[dict[str, Any]]) -> None:
    many = "\n".join(json.dumps(requests[0]) for _ in range(2000))
    env = environment_without_quanze_settings()
    command = f"{sys.executable} -m quanze.server.cli check - | head -1"
    result = subprocess.run(
        ["sh", "-c", command],
        input=many,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr


# ====================================================================== --directory


def check_clerk(*options: str) -> dict[str, Any]:
    result = run("check", *options, stdin=json.dumps(CLERK_TAKES_RECORD))
    assert result.returncode == 0, result.stderr
    (answer,) = answers(result.stdout)
    return answer


def test_check_with_the_bundled_directory_allows_the_clerk() -> None:
    answer = check_clerk()
    assert answer["decision"] is True, answer["reasons"]
    assert "+directory." not in answer["policy_revision"]


@pytest.mark.parametrize("form", ["file", "folder"])
def test_check_decides_with_the_directory_given(form: str, tmp_path: Path) -> None:
    def given(document: dict[str, Any], name: str) -> str:
        if form == "file":
            return str(write_json(tmp_path / f"{name}.json", document))
        return str(split_directory(document, tmp_path / name))

    unchanged = given(bundled_directory(), "unchanged")
    left = given(without_clerk(bundled_directory()), "left")

    allowed = check_clerk("--directory", unchanged)
    denied = check_clerk("--directory", left)

    assert allowed["decision"] is True, allowed["reasons"]
    assert denied["decision"] is False
    assert "office_not_held" in [r["code"] for r in denied["reasons"]]
    policies, _, directory = denied["policy_revision"].partition("+directory.")
    assert policies == allowed["policy_revision"].partition("+directory.")[0]
    assert len(directory) == 40
    assert directory != allowed["policy_revision"].partition("+directory.")[2]


def test_check_refuses_a_directory_that_breaks_its_schema_naming_file_and_field(
    tmp_path: Path,
) -> None:
    document = bundled_directory()
    document["procuratorates"]["PROC-CITY-A"]["clerks"]["clerk-C1"]["from"] = "last spring"
    folder = split_directory(document, tmp_path / "directory")
    result = run("check", "--directory", str(folder), stdin=json.dumps(CLERK_TAKES_RECORD))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{folder / 'PROC-CITY-A.json'}: procuratorates.PROC-CITY-A.clerks.clerk-C1.from" in (
        result.stderr
    )
    assert "'last spring' does not match" in result.stderr


def test_a_directory_path_that_is_nothing_is_a_configuration_problem(tmp_path: Path) -> None:
    result = run("check", "--directory", str(tmp_path / "nowhere.json"), stdin="{}")
    assert result.returncode == 2
    assert "directory.path: " in result.stderr
    assert "is neither a JSON file, a directory nor a git repository" in result.stderr


def test_version_names_the_directory_s_revision(tmp_path: Path) -> None:
    path = write_json(tmp_path / "directory.json", bundled_directory())
    result = run("version", "--directory", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    policies = lines[2].split()[1]
    directory = lines[3].split()[1]
    assert lines[3] == f"directory {directory} ({path})"
    assert lines[4] == f"answers name {policies}+directory.{directory}"
    assert directory == read_directory(path).revision
    bundled = run("version").stdout.splitlines()
    assert bundled[3] == "directory bundled with the policies (quanze/directory/data.json)"
