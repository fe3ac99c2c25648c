"""`quanze policy test|check|eval|bundle` and `quanze directory check`, through `cli.main`.

Each test works on its own copy of the bundled policies (or directory) and breaks one thing in it.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from quanze.server import cli
from quanze.server.decisions import Decider
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.policy.bundle import bundled_policy_dir, load_bundle
from quanze.server.policy.directory import BUNDLED_FILE, read_directory
from quanze.server.policy.files import SymbolicLinkError
from quanze.server.policy.lint import json_position
from quanze.server.policy.testing import RegoTestRunner, load_decision_table
from tests.support import (
    CLERK_TAKES_RECORD,
    bundled_directory,
    copy_bundled_policies,
    split_directory,
    without_clerk,
    write_json,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "assistant-unguided.json"
LAST_LINE = re.compile(r"^(\d+) passed, (\d+) failed$")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_line(out: str) -> tuple[int, int]:
    match = LAST_LINE.match(out.rstrip("\n").splitlines()[-1])
    assert match, out
    return int(match[1]), int(match[2])


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A private copy of the bundled policies, free to break."""
    return copy_bundled_policies(tmp_path / "policies")


def append(path: Path, text: str) -> int:
    """Append `text` to `path`; the line number its first line lands on."""
    original = path.read_text()
    if not original.endswith("\n"):
        original += "\n"
    path.write_text(original + text)
    return original.count("\n") + 1


# ====================================================================== check


def test_check_accepts_the_bundled_policies(capsys: pytest.CaptureFixture[str]) -> None:
    root = bundled_policy_dir()
    code, out, _ = run(capsys, "policy", "check")
    modules = len(list(root.rglob("*.rego")))
    data_files = len(list(root.rglob("data.json")))
    assert code == 0
    lines = out.splitlines()
    assert lines[-3] == (
        f"ok: {modules} modules, {data_files} data files, revision {load_bundle().revision}"
    )
    # How the sidecar will evaluate: the sets routed per action, and those every action needs.
    assert re.fullmatch(
        r"per-action evaluation: (\d+) of (\d+) actions on \d+ entry points, each with only "
        r"the sets that can concern it",
        lines[-2],
    ), out
    assert lines[-1].startswith("  evaluated for every action (may concern any): ")
    assert "quanze.rules.common.denials" in lines[-1]


def test_check_reports_a_syntax_error_at_its_file_line_and_column(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    module = policies / "quanze/rules/routing/routing.rego"
    first = append(module, "\nbroken_rule if {\n\tinput.x ==\n}\n")
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("quanze/")]
    assert len(problems) == 1, out
    match = re.match(r"^quanze/rules/routing/routing\.rego:(\d+):(\d+): (.+)$", problems[0])
    assert match, problems[0]
    # The expression is cut short on the line after `input.x ==`: the closing brace.
    assert int(match[1]) == first + 3
    assert int(match[2]) >= 1
    assert out.splitlines()[-1] == f"1 problem(s) in {policies}"


def test_check_lists_every_problem_not_just_the_first(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    rules = policies / "quanze/rules"
    broken = append(rules / "powers/powers.rego", "\nbroken if {\n\tinput.x ==\n}\n")
    (rules / "unsafe.rego").write_text(
        "package quanze.unsafe\n\nimport rego.v1\n\nfoo if {\n\tnever_bound == 1\n}\n"
    )
    (rules / "unknown.rego").write_text(
        "package quanze.unknown\n\nimport rego.v1\n\nbar if {\n\tno_such.function(1)\n}\n"
    )
    directory = policies / BUNDLED_FILE
    directory.write_text("{\n  ,\n" + directory.read_text()[1:])
    power_lists = policies / "quanze/power_lists/data.json"
    document = json.loads(power_lists.read_text())
    first_list = next(iter(document["lists"]))
    document["lists"][first_list]["version"] = 7
    power_lists.write_text(json.dumps(document, ensure_ascii=False, indent=2))

    code, out, _ = run(capsys, "policy", "check", str(policies))

    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == f"5 problem(s) in {policies}"
    found = "\n".join(lines)
    assert re.search(rf"^quanze/rules/powers/powers\.rego:{broken + 3}:\d+: ", found, re.M)
    assert re.search(r"^quanze/rules/unsafe\.rego:6:2: .*`never_bound` is unsafe$", found, re.M), (
        found
    )
    assert re.search(r"^quanze/rules/unknown\.rego:6:\d+: .*no_such\.function", found, re.M)
    assert re.search(r"^quanze/directory/data\.json:2:3: invalid JSON", found, re.M)
    version_line, version_col = json_position(
        power_lists.read_text(), ["lists", first_list, "version"]
    ) or (0, 0)
    assert f"quanze/power_lists/data.json:{version_line}:{version_col}: " in found
    assert f"lists.{first_list}.version: 7 is not of type 'string'" in found


def test_check_names_the_bad_power_list_file_and_field(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    path = policies / "quanze/power_lists/data.json"
    document = json.loads(path.read_text())
    first_list = next(iter(document["lists"]))
    del document["lists"][first_list]["issued_by"]
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    (problem,) = [line for line in out.splitlines() if "power_lists" in line]
    assert problem.startswith("quanze/power_lists/data.json:")
    assert f"lists.{first_list}: 'issued_by' is a required property" in problem
    assert "power_lists.schema.json" in problem


def test_check_reports_a_schema_that_disagrees_with_the_catalog(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    path = policies / "quanze/schema/input.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["action"]["enum"].append("case.invented_action")
    path.write_text(json.dumps(schema, ensure_ascii=False, indent=2))
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    assert "quanze/schema/input.schema.json" in out
    assert "extra ['case.invented_action']" in out


def test_check_columns_count_characters_not_bytes_or_tab_stops(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    body = '\t"权责" == "权责"; \tunbound == 1'
    (policies / "quanze/rules/columns.rego").write_text(
        f"package quanze.columns\n\nimport rego.v1\n\n# 中文注释\nr if {{\n{body}\n}}\n"
    )
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    column = body.index("unbound") + 1
    assert f"quanze/rules/columns.rego:7:{column}: use of undefined variable" in out, out


def test_check_places_an_error_without_location_at_its_rule(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    (policies / "quanze/rules/conflict.rego").write_text(
        "package quanze.conflict\n\nimport rego.v1\n\nvalue := 1\n\n"
        "value contains 2 if {\n\ttrue\n}\n"
    )
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    assert re.search(r"^quanze/rules/conflict\.rego:5:1: .*multiple types", out, re.M), out


def test_check_names_print_calls_which_the_sidecar_cannot_serve(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    module = policies / "quanze/rules/auxiliary/auxiliary.rego"
    line = append(module, '\nnoisy if {\n\tprint("debugging")\n}\n') + 2
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    assert re.search(
        rf"^quanze/rules/auxiliary/auxiliary\.rego:{line}:2: print\(\) is not available",
        out,
        re.M,
    ), out


def test_check_names_each_data_import_of_a_serving_module_but_not_of_a_test(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    # Full paths keep the RVM fast (docs/policy-guide.md); a test module may import freely.
    module = policies / "quanze/rules/powers/powers.rego"
    text = module.read_text()
    anchor = "import rego.v1\n"
    module.write_text(text.replace(anchor, anchor + "import data.quanze.lib.capacity\n", 1))
    line = text[: text.index(anchor)].count("\n") + 2
    test_module = policies / "quanze/rules/powers/powers_test.rego"
    assert "import data.quanze" in test_module.read_text()
    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    problems = [entry for entry in out.splitlines() if "import data." in entry]
    assert problems == [
        f"quanze/rules/powers/powers.rego:{line}:1: import data.quanze.lib.capacity: write "
        "data.quanze.lib.capacity.<rule> where the rule is used and drop the import; on the "
        "compiled RVM the sidecar serves from, a reference through an import alias costs about "
        "ten times the full path (docs/policy-guide.md, style)"
    ], out


def test_check_of_a_missing_directory_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "policy", "check", str(tmp_path / "nowhere"))
    assert code == 1
    assert "does not exist" in err


def test_json_position_finds_nested_values() -> None:
    text = '{"a": [1, {"b": "x"}, 3],\n "c": {"d": null}}'
    assert json_position(text, ["a", 1, "b"]) == (1, 17)
    assert json_position(text, ["c", "d"]) == (2, 13)
    assert json_position(text, ["a", 2]) == (1, 23)
    assert json_position(text, ["missing"]) is None
    assert json_position(text, ["a", 9]) is None


# ====================================================================== test


def expected_counts(root: Path, pattern: str) -> int:
    runner = RegoTestRunner(load_bundle(root))
    cases = [c for c in load_decision_table(root) if re.search(pattern, f"{c.source}::{c.name}")]
    return len(runner.discover(pattern)) + len(cases)


def test_a_failing_rego_test_fails_the_run_and_is_reported(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    passing = expected_counts(policies, "routing")
    assert passing > 0
    test_file = policies / "quanze/rules/routing/routing_test.rego"
    line = append(test_file, "\ntest_deliberately_false if {\n\t1 == 2\n}\n") + 1
    code, out, err = run(capsys, "policy", "test", str(policies), "--run", "routing")
    assert code == 1
    assert last_line(out) == (passing, 1)
    assert out.splitlines()[-1] == f"{passing} passed, 1 failed"
    assert f"FAIL quanze/rules/routing/routing_test.rego:{line} test_deliberately_false" in out
    assert "undefined" in out
    assert f"{passing + 1}/{passing + 1} tests run" in err  # the progress counter off a TTY


def test_a_failing_decision_case_names_case_file_and_mismatch(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    table = policies / "quanze/authz/cases/routing.yaml"
    text = table.read_text()
    name = "sole_procurator_prosecutes_within_power_list_allowed"
    assert name in text
    # The case expects an allow; expect a deny instead.
    start = text.index(f"name: {name}")
    end = text.index("expect: {decision: true", start)
    table.write_text(
        text[:end] + "expect: {decision: false" + text[end + len("expect: {decision: true") :]
    )
    code, out, _ = run(capsys, "policy", "test", str(policies), "--run", name)
    assert code == 1
    assert out.splitlines()[-1] == "0 passed, 1 failed"
    assert f"FAIL decision case quanze/authz/cases/routing.yaml {name}" in out
    assert "decision is True, expected False" in out


def test_verbose_lists_every_test_with_outcome_and_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pattern = "routing"
    total = expected_counts(bundled_policy_dir(), pattern)
    code, out, _ = run(capsys, "policy", "test", "--run", pattern, "-v")
    assert code == 0
    listed = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL ", "ERROR "))]
    assert len(listed) == total
    assert all(re.search(r" \(\d+\.\d ms\)$", line) for line in listed)
    assert any(line.startswith("PASS decision case quanze/authz/cases/") for line in listed)
    assert any(
        re.match(r"PASS quanze/rules/routing/routing_test\.rego:\d+ test_", x) for x in listed
    )
    assert last_line(out) == (total, 0)


def test_run_filter_matching_nothing_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "test", "--run", "no-test-is-called-this")
    assert code == 1
    assert out.splitlines()[-1] == "0 passed, 0 failed"


def test_an_invalid_run_regex_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policy", "test", "--run", "(")
    assert code == 1
    assert "not a valid regular expression" in err


def test_coverage_threshold_decides_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    # Only the routing tests run, so the total lies well below 100 % and we can aim around it.
    code, out, _ = run(capsys, "policy", "test", "--run", "routing", "--coverage")
    match = re.search(r"^coverage (\d+\.\d)% \((\d+)/(\d+) lines\)", out, re.M)
    assert match, out
    percent = float(match[1])
    exact = 100 * int(match[2]) / int(match[3])
    assert exact - 0.1 < percent <= exact  # shown rounded down, never up to the threshold
    assert 0 < percent < 100
    modules = [name for name, _ in load_bundle().modules]
    assert all(re.search(rf"^  {re.escape(m)} +\d+\.\d%", out, re.M) for m in modules)
    assert code == (1 if percent < 95 else 0)

    below, above = f"{percent - 1:.1f}", f"{percent + 1:.1f}"
    code, out, _ = run(capsys, "policy", "test", "--run", "routing", "--threshold", below)
    assert code == 0
    assert last_line(out)[1] == 0
    code, out, _ = run(capsys, "policy", "test", "--run", "routing", "--threshold", above)
    assert code == 1
    assert "is below the threshold" in out
    assert last_line(out)[1] == 0  # every test passed: coverage alone failed the run


def test_coverage_counts_a_module_no_test_reaches(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    def total(out: str) -> tuple[int, int]:
        match = re.search(r"^coverage [\d.]+% \((\d+)/(\d+) lines\)", out, re.M)
        assert match, out
        return int(match[1]), int(match[2])

    argv = ["policy", "test", str(policies), "--run", "routing", "--coverage"]
    before = total(run(capsys, *argv)[1])
    (policies / "quanze/rules/untested.rego").write_text(
        "package quanze.untested\n\nimport rego.v1\n\n"
        'flag if {\n\tinput.subject.id == "x"\n\tinput.action.name == "y"\n}\n\n'
        'label := "z" if {\n\tflag\n}\n'
    )
    code, out, _ = run(capsys, *argv)
    assert code == 1
    assert re.search(
        r"^  quanze/rules/untested\.rego +0\.0%  no test reaches this module$", out, re.M
    )
    # The module's four lines (two conditions, a value and its condition) count, uncovered.
    assert total(out) == (before[0], before[1] + 4)


def test_junit_report_has_suites_cases_and_failures(
    capsys: pytest.CaptureFixture[str], policies: Path, tmp_path: Path
) -> None:
    append(
        policies / "quanze/rules/routing/routing_test.rego",
        "\ntest_deliberately_false if {\n\t1 == 2\n}\n",
    )
    report = tmp_path / "reports" / "junit.xml"
    code, out, _ = run(
        capsys, "policy", "test", str(policies), "--run", "routing", "--junit", str(report)
    )
    assert code == 1
    passed, failed = last_line(out)
    root = ElementTree.parse(report).getroot()  # noqa: S314 - we wrote this file
    assert root.tag == "testsuites"
    assert int(root.get("tests", "0")) == passed + failed
    assert int(root.get("failures", "0")) == 1
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert "rego quanze.rules.routing_test" in suites
    assert "decision table quanze/authz/cases/routing.yaml" in suites
    cases = list(root.iter("testcase"))
    assert len(cases) == passed + failed
    (failing,) = [c for c in cases if c.find("failure") is not None]
    assert failing.get("name") == "test_deliberately_false"
    assert failing.get("file") == "quanze/rules/routing/routing_test.rego"
    failure = failing.find("failure")
    assert failure is not None
    assert "undefined" in failure.get("message", "")
    assert all(float(c.get("time", "-1")) >= 0 for c in cases)


def test_decision_cases_still_run_when_print_keeps_the_rvm_out(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    module = policies / "quanze/rules/auxiliary/auxiliary.rego"
    text = module.read_text()
    anchor = "\tsome act in _assistant_acts\n\tnot data.quanze.lib.capacity.names_supervisor\n"
    assert anchor in text
    module.write_text(text.replace(anchor, anchor + '\tprint("no supervisor for", act)\n', 1))
    code, out, err = run(capsys, "policy", "test", str(policies), "--run", "assistant", "-v")
    assert code == 0, out
    assert "print()" in err  # the warning that the sidecar would refuse these policies
    assert "print: quanze/rules/auxiliary/auxiliary.rego:" in out
    assert last_line(out)[1] == 0


def test_policy_test_subprocess_on_the_bundled_policies() -> None:
    quanze = Path(sys.executable).parent / "quanze"
    total = expected_counts(bundled_policy_dir(), "")
    started = time.perf_counter()
    finished = subprocess.run(
        [str(quanze), "policy", "test"], capture_output=True, text=True, timeout=600, check=False
    )
    seconds = time.perf_counter() - started
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.splitlines()[-1] == f"{total} passed, 0 failed"
    assert f"{total}/{total} tests run" in finished.stderr
    print(f"quanze policy test: {total} tests in {seconds:.1f} s")


# ====================================================================== eval


def test_eval_prints_the_contract_answer(capsys: pytest.CaptureFixture[str]) -> None:
    request = json.loads(EXAMPLE.read_text())
    policies = load_bundle()
    expected = Decider(policies, RegorusEngine(policies)).check(request)
    code, out, _ = run(capsys, "policy", "eval", "--input", str(EXAMPLE))
    assert code == 0
    answer = json.loads(out)
    assert answer["decision_id"] != expected["decision_id"]
    answer.pop("decision_id")
    expected.pop("decision_id")
    assert answer == expected
    assert out.startswith("{\n  ")  # pretty-printed


def test_eval_explain_lists_the_rules_that_fired_and_not_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = (bundled_policy_dir() / "quanze/rules/auxiliary/auxiliary.rego").read_text()

    def line_of(fragment: str) -> int:
        return source[: source.index(fragment)].count("\n") + 1

    fired = line_of('denials contains {"action": act, "code": "assistant_requires_guidance"}')
    held_back = line_of(
        'denials contains {"action": act, "code": "supervisor_not_handling_procurator"}'
    )
    code, out, err = run(capsys, "policy", "eval", "--input", str(EXAMPLE), "--explain")
    assert code == 0
    assert json.loads(out)["reasons"][0]["code"] == "assistant_requires_guidance"
    listed = err.splitlines()
    assert f"  quanze/rules/auxiliary/auxiliary.rego:{fired} denials" in listed
    assert f"  quanze/rules/auxiliary/auxiliary.rego:{held_back} denials" not in listed


def test_eval_rejects_an_invalid_request_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = json.loads(EXAMPLE.read_text())
    request["action"]["name"] = "case.interogate_suspect"
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code, out, err = run(capsys, "policy", "eval", "--input", str(path))
    assert code == 2
    assert out == ""
    assert "action.name: unknown action 'case.interogate_suspect'" in err


def test_eval_rejects_malformed_json_with_its_position(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"subject":\n')
    code, _, err = run(capsys, "policy", "eval", "--input", str(path))
    assert code == 2
    assert f"{path}:2:1: invalid JSON" in err


def test_eval_shows_print_output(capsys: pytest.CaptureFixture[str], policies: Path) -> None:
    module = policies / "quanze/rules/auxiliary/auxiliary.rego"
    text = module.read_text()
    anchor = "\tsome act in _assistant_acts\n\tnot data.quanze.lib.capacity.names_supervisor\n"
    module.write_text(text.replace(anchor, anchor + '\tprint("no supervisor for", act)\n', 1))
    code, out, err = run(capsys, "policy", "eval", str(policies), "--input", str(EXAMPLE))
    assert code == 0
    assert json.loads(out)["decision"] is False
    assert "print output:" in err
    assert "no supervisor for case.interrogate_suspect" in err


def test_eval_of_policies_that_do_not_compile_says_where(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    line = append(policies / "quanze/rules/common/common.rego", "this is not rego {\n")
    code, out, err = run(capsys, "policy", "eval", str(policies), "--input", str(EXAMPLE))
    assert (code, out) == (1, "")
    assert f"quanze/rules/common/common.rego:{line}:1: rule must have a body" in err
    assert "Traceback" not in err


def test_eval_takes_the_policy_directory_as_an_argument(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    line = append(policies / "quanze/rules/common/common.rego", "this is not rego {\n")
    where = f"quanze/rules/common/common.rego:{line}:1: rule must have a body"
    # Before or after the options: DIR is the directory evaluated, not the bundled one.
    for argv in (
        [str(policies), "--input", str(EXAMPLE)],
        ["--input", str(EXAMPLE), str(policies)],
    ):
        code, out, err = run(capsys, "policy", "eval", *argv)
        assert (code, out) == (1, "")
        assert where in err
        assert "deprecated" not in err


DEPRECATED_POLICIES = (
    "quanze policy eval: --policies DIR is deprecated; give DIR as an argument: "
    "quanze policy eval DIR --input …"
)


def test_eval_still_takes_policies_with_a_deprecation_note(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    root = str(bundled_policy_dir())
    code, out, err = run(capsys, "policy", "eval", root, "--input", str(EXAMPLE))
    assert (code, err) == (0, "")
    expected = json.loads(out)
    code, out, err = run(capsys, "policy", "eval", "--input", str(EXAMPLE), "--policies", root)
    assert code == 0
    assert err.splitlines() == [DEPRECATED_POLICIES]
    answer = json.loads(out)
    assert answer.pop("decision_id") != expected.pop("decision_id")
    assert answer == expected

    # The option names the directory evaluated, as DIR does.
    line = append(policies / "quanze/rules/common/common.rego", "this is not rego {\n")
    code, out, err = run(
        capsys, "policy", "eval", "--input", str(EXAMPLE), "--policies", str(policies)
    )
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == DEPRECATED_POLICIES
    assert f"quanze/rules/common/common.rego:{line}:1: rule must have a body" in err


def test_eval_refuses_dir_and_policies_together(
    capsys: pytest.CaptureFixture[str], policies: Path
) -> None:
    root = str(bundled_policy_dir())
    with pytest.raises(SystemExit) as exited:
        cli.main(["policy", "eval", str(policies), "--input", str(EXAMPLE), "--policies", root])
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    assert err.startswith("usage: quanze policy eval ")
    assert err.splitlines()[-1] == (
        f"quanze policy eval: error: give the policy directory once: DIR ({policies}) or "
        f"--policies DIR ({root}), not both"
    )


def test_eval_other_entrypoints(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "policy",
        "eval",
        "--input",
        str(EXAMPLE),
        "--entrypoint",
        "data.quanze.rules.auxiliary.denials",
    )
    assert code == 0
    assert {"action": "case.interrogate_suspect", "code": "assistant_requires_guidance"} in (
        json.loads(out)
    )

    request = json.loads(EXAMPLE.read_text())
    del request["action"]
    path = tmp_path / "list.json"
    path.write_text(json.dumps(request))
    code, out, _ = run(
        capsys,
        "policy",
        "eval",
        "--input",
        str(path),
        "--entrypoint",
        "data.quanze.authz.decisions",
    )
    assert code == 0
    assert sorted(json.loads(out)) == list(load_bundle().actions)


# ====================================================================== bundle


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`quanze policy bundle` of the bundled policies, and what it printed: tests only read it."""
    output = tmp_path_factory.mktemp("bundle") / "bundle.tar.gz"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["policy", "bundle", "-o", str(output)])
    assert code == 0, printed.getvalue()
    return output, printed.getvalue()


def read_tar(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def extract(path: Path, target: Path) -> None:
    """Unpack a bundle by hand: its member names start with '/'."""
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            assert member.isfile()
            assert ".." not in member.name
            destination = target / member.name.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            handle = tar.extractfile(member)
            assert handle is not None
            destination.write_bytes(handle.read())


def manifest_of(path: Path) -> dict[str, Any]:
    with tarfile.open(path, "r:gz") as tar:
        handle = tar.extractfile("/.manifest")
        assert handle is not None
        document: dict[str, Any] = json.loads(handle.read())
        return document


def test_bundle_layout_manifest_and_determinism(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundled: tuple[Path, str]
) -> None:
    first, out = bundled
    second = tmp_path / "bundle.tar.gz"
    assert f"wrote {first}" in out
    assert run(capsys, "policy", "bundle", "-o", str(second))[0] == 0
    assert first.read_bytes() == second.read_bytes()

    with gzip.open(first) as unzipped:
        assert unzipped.read(1)  # a gzip stream
    members = read_tar(first)
    names = list(members)
    assert names[0] == "/.manifest"
    assert all(name.startswith("/") for name in names)
    assert names[1:] == sorted(names[1:])
    assert all(m.mtime == 0 and m.uid == 0 and m.isfile() for m in members.values())

    root = bundled_policy_dir()
    policies = load_bundle()
    assert {f"/{name}" for name, _ in policies.modules} <= set(names)
    assert {f"/{p.relative_to(root).as_posix()}" for p in root.rglob("data.json")} <= set(names)
    assert not [n for n in names if n.endswith("_test.rego") or "/authz/cases/" in n]

    manifest = manifest_of(first)
    assert manifest["roots"] == ["quanze"]
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["revision"])
    assert f"revision {manifest['revision']}" in out


def test_bundle_revision_matches_what_the_extracted_bundle_reports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundled: tuple[Path, str]
) -> None:
    without_tests, _ = bundled
    with_tests = tmp_path / "with-tests.tar.gz"
    assert run(capsys, "policy", "bundle", "-o", str(with_tests), "--include-tests")[0] == 0
    for n, output in enumerate((without_tests, with_tests)):
        target = tmp_path / f"extracted-{n}"
        extract(output, target)
        assert load_bundle(target).revision == manifest_of(output)["revision"]
    assert manifest_of(without_tests)["revision"] != load_bundle().revision
    # Everything the directory's revision counts is packed: the revisions agree.
    assert manifest_of(with_tests)["revision"] == load_bundle().revision
    assert any(n.endswith("_test.rego") for n in read_tar(with_tests))
    assert any("/authz/cases/" in n for n in read_tar(with_tests))


def test_extracted_bundle_gives_the_same_decisions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "bundle.tar.gz"
    assert run(capsys, "policy", "bundle", "-o", str(output), "--revision", "v2024.7")[0] == 0
    assert manifest_of(output)["revision"] == "v2024.7"
    target = tmp_path / "extracted"
    extract(output, target)
    original, unpacked = load_bundle(), load_bundle(target)
    assert unpacked.modules == original.modules
    assert unpacked.data == original.data
    before = Decider(original, RegorusEngine(original))
    after = Decider(unpacked, RegorusEngine(unpacked))
    volatile = ("decision_id", "policy_revision")
    for case in load_decision_table(original.root):
        expected, got = before.check(case.request), after.check(case.request)
        assert {k: v for k, v in got.items() if k not in volatile} == {
            k: v for k, v in expected.items() if k not in volatile
        }, case.name


def test_bundle_refuses_policies_with_problems(
    capsys: pytest.CaptureFixture[str], policies: Path, tmp_path: Path
) -> None:
    append(policies / "quanze/rules/routing/routing.rego", "\nbroken if {\n")
    output = tmp_path / "bundle.tar.gz"
    code, _, err = run(capsys, "policy", "bundle", str(policies), "-o", str(output))
    assert code == 1
    assert "quanze/rules/routing/routing.rego:" in err
    assert "fix them before bundling" in err
    assert not output.exists()


def test_bundle_is_a_gzipped_tarball_readable_as_a_stream(bundled: tuple[Path, str]) -> None:
    output, _ = bundled
    # Bundle servers stream bundles; a streaming reader must see every member in order.
    with tarfile.open(fileobj=io.BytesIO(output.read_bytes()), mode="r|gz") as stream:
        assert next(iter(stream)).name == "/.manifest"


# ====================================================================== directory


def test_directory_check_summarises_a_good_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = bundled_directory()
    path = write_json(tmp_path / "directory.json", document)
    folder = split_directory(document, tmp_path / "split")
    procurators = {
        person
        for entry in document["procuratorates"].values()
        for person in entry.get("procurators", {})
    }
    grants = sum(len(g) for g in document["grants"].values())

    summaries = []
    for given in (path, folder):
        code, out, _ = run(capsys, "directory", "check", str(given))
        assert code == 0, out
        summary = re.fullmatch(
            rf"ok: {len(document['procuratorates'])} procuratorates, (\d+) people, {grants} "
            rf"grants, revision {read_directory(given).revision}\n",
            out,
        )
        assert summary, out
        summaries.append(int(summary[1]))
    assert summaries[0] == summaries[1] > len(procurators)  # clerks, assistants... too


def test_directory_check_names_file_line_and_field_of_every_schema_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = bundled_directory()
    city = document["procuratorates"]["PROC-CITY-A"]
    city["clerks"]["clerk-C1"]["from"] = "last spring"
    city["level"] = "municipal"
    folder = split_directory(document, tmp_path / "directory")
    text = (folder / "PROC-CITY-A.json").read_text()

    code, out, _ = run(
        capsys, "directory", "check", str(folder), "--policies", str(bundled_policy_dir())
    )

    lines = out.splitlines()
    assert code == 1
    assert lines[-1] == f"2 problem(s) in {folder}"
    line, col = json_position(text, ["procuratorates", "PROC-CITY-A", "clerks", "clerk-C1", "from"])
    assert lines[0].startswith(
        f"PROC-CITY-A.json:{line}:{col}: procuratorates.PROC-CITY-A.clerks.clerk-C1.from: "
        "'last spring' does not match"
    )
    assert lines[0].endswith("(see quanze/schema/directory.schema.json)")
    assert lines[1].startswith("PROC-CITY-A.json:")
    assert "procuratorates.PROC-CITY-A.level: 'municipal' is not one of" in lines[1]


def test_directory_check_suggests_the_field_a_misspelt_one_meant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = bundled_directory()
    grant = document["grants"]["dep-D1"][0]
    grant["valid_form"] = grant.pop("valid_from")
    grant["scoop"] = ["decision.prosecute"]
    path = write_json(tmp_path / "directory.json", document)

    code, out, _ = run(capsys, "directory", "check", str(path))

    assert code == 1
    assert "grants.dep-D1.0: 'valid_from' is a required property" in out
    assert (
        "grants.dep-D1.0: unknown field 'scoop'; did you mean 'scope'?; "
        "unknown field 'valid_form'; did you mean 'valid_from'?" in out
    ), out


def test_directory_check_lists_every_inconsistency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = bundled_directory()
    city = document["procuratorates"]["PROC-CITY-A"]
    city["parent"] = "PROC-NOWHERE"
    city["clerks"]["clerk-C1"]["assigned_to"].append("p-NOBODY")
    path = write_json(tmp_path / "directory.json", document)

    code, out, _ = run(capsys, "directory", "check", str(path))

    assert code == 1
    problems = out.splitlines()[:-1]
    assert len(problems) == 2
    assert all(p.startswith("directory.json:") for p in problems)
    assert any(
        "procuratorates.PROC-CITY-A.parent: 'PROC-NOWHERE' is not a procuratorate" in p
        for p in problems
    )
    assert any(
        "procuratorates.PROC-CITY-A.clerks.clerk-C1.assigned_to: 'p-NOBODY' is not one of its "
        "procurators" in p
        for p in problems
    )


def test_directory_check_reports_unreadable_and_conflicting_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"procuratorates": {\n  "PROC-X": \n}\n')
    code, out, _ = run(capsys, "directory", "check", str(broken))
    assert code == 1
    assert out.splitlines()[0] == "broken.json:3:1: invalid JSON: Expecting value"

    folder = split_directory(bundled_directory(), tmp_path / "twice")
    write_json(folder / "again.json", json.loads((folder / "PROC-CITY-A.json").read_text()))
    code, out, _ = run(capsys, "directory", "check", str(folder))
    assert code == 1
    assert "procuratorates.PROC-CITY-A is also in" in out

    code, out, _ = run(capsys, "directory", "check", str(tmp_path / "absent"))
    assert (code, out.splitlines()[-1]) == (1, f"1 problem(s) in {tmp_path / 'absent'}")


def test_eval_answers_with_the_directory_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = write_json(tmp_path / "request.json", CLERK_TAKES_RECORD)
    left = write_json(tmp_path / "left.json", without_clerk(bundled_directory()))

    code, out, _ = run(capsys, "policy", "eval", "--input", str(request))
    assert (code, json.loads(out)["decision"]) == (0, True)
    code, out, _ = run(capsys, "policy", "eval", "--input", str(request), "--directory", str(left))
    answer = json.loads(out)
    assert (code, answer["decision"]) == (0, False)
    assert "office_not_held" in [r["code"] for r in answer["reasons"]]
    assert answer["policy_revision"].endswith(f"+directory.{read_directory(left).revision}")


def test_bundle_packs_the_directory_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    left = without_clerk(bundled_directory())
    folder = split_directory(left, tmp_path / "directory")
    output = tmp_path / "bundle.tar.gz"

    code, out, _ = run(capsys, "policy", "bundle", "-o", str(output), "--directory", str(folder))

    assert code == 0
    revision = read_directory(folder).revision
    assert f"organisation directory {folder} (revision {revision}) packed as /{BUNDLED_FILE}" in out
    target = tmp_path / "extracted"
    extract(output, target)
    assert json.loads((target / BUNDLED_FILE).read_text()) == read_directory(folder).document
    unpacked = load_bundle(target)
    assert unpacked.revision == manifest_of(output)["revision"]
    answer = Decider(unpacked, RegorusEngine(unpacked)).check(CLERK_TAKES_RECORD)
    assert "office_not_held" in [r["code"] for r in answer["reasons"]]


def test_bundle_refuses_an_inconsistent_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = bundled_directory()
    document["procuratorates"]["PROC-CITY-A"]["parent"] = "PROC-NOWHERE"
    path = write_json(tmp_path / "directory.json", document)
    output = tmp_path / "bundle.tar.gz"
    code, _, err = run(capsys, "policy", "bundle", "-o", str(output), "--directory", str(path))
    assert code == 1
    assert f"{path}: procuratorates.PROC-CITY-A.parent: 'PROC-NOWHERE'" in err
    assert not output.exists()


def test_a_slow_evaluation_is_not_a_failed_case(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded machine (CI, the reload gate beside serving workers) must not fail a case."""
    from quanze.server.cli import testrun  # noqa: PLC0415 - the module whose engine is slowed

    serving_engine = testrun.serving_engine

    class Slow:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def decide(self, request: Any) -> Any:
            time.sleep(0.3)  # past the 250 ms serving deadline
            return self._inner.decide(request)

        def decide_all(self, request: Any) -> Any:
            return self._inner.decide_all(request)

    def slowed(policies: Any) -> Any:
        engine, warning = serving_engine(policies)
        return Slow(engine), warning

    monkeypatch.setattr(testrun, "serving_engine", slowed)
    code, out, _ = run(
        capsys, "policy", "test", "--run", "auxiliary_assistants.yaml::assistant_interrogates_"
    )
    assert last_line(out)[1] == 0, out
    assert last_line(out)[0] >= 1, out
    assert code == 0


# ====================================================================== links


def test_check_and_bundle_refuse_every_symbolic_link_in_the_tree(
    capsys: pytest.CaptureFixture[str], policies: Path, tmp_path: Path
) -> None:
    # A bundle is what a git source would export: regular files only. `check` lists each link,
    # `bundle` writes nothing, and loading the tree (test, eval, serve) refuses it too.
    (tmp_path / "outside.rego").write_text("package quanze.outside\n")
    (policies / "quanze" / "outside.rego").symlink_to(tmp_path / "outside.rego")
    (policies / "quanze" / "rules-elsewhere").symlink_to(policies / "quanze" / "rules")

    code, out, _ = run(capsys, "policy", "check", str(policies))
    assert code == 1
    assert out.splitlines() == [
        f"quanze/outside.rego: a symbolic link to {tmp_path / 'outside.rego'}; policy and "
        "directory files are read as regular files only, as a git source exports them: "
        "replace the link with the file it points to",
        f"quanze/rules-elsewhere: a symbolic link to {policies / 'quanze' / 'rules'}; policy "
        "and directory files are read as regular files only, as a git source exports them: "
        "replace the link with the file it points to",
        f"2 problem(s) in {policies}",
    ]

    bundle = tmp_path / "bundle.tar.gz"
    code, _, err = run(capsys, "policy", "bundle", str(policies), "-o", str(bundle))
    assert code == 1
    assert "quanze/outside.rego: a symbolic link to" in err
    assert not bundle.exists()
    with pytest.raises(SymbolicLinkError) as caught:
        load_bundle(policies)
    assert caught.value.links == [
        policies / "quanze" / "outside.rego",
        policies / "quanze" / "rules-elsewhere",
    ]
