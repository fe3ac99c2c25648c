"""`quanze logs report`: the HTML file, opened in a real headless Chromium.

The log is a real sidecar's: every case of the shared decision table asked over gRPC (denials,
escalations to the chief and the committee, delegated decisions, accountability), a
ListAllowedActions call, and a caller whose ids are HTML. The report is made by the real
command, and the page is checked for what it shows against `quanze logs stats`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from quanze.client import Client
from quanze.server.cli import ExitCode, build_parser, main
from quanze.server.cli.logs_report import _filter_words
from quanze.server.decisionlog import records, report, report_data
from quanze.server.decisionlog.losses import Losses
from quanze.server.decisionlog.query import Filters, ScanCounts, scan
from quanze.server.decisionlog.report_data import DELEGATED_CODES, article_number
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from tests.browser import Browser, Page
from tests.integration.support import start, stop, wait_event, wait_serving
from tests.support import CONTRACT_EXAMPLE, environment_without_quanze_settings

ASSETS = Path(report_data.__file__).parent / "report_assets"
HOSTILE_SUBJECT = "</script><img src=x onerror=alert(1)>"
HOSTILE_CASE = '<b id="injected">C-1</b>&amp;'
HOSTILE_ASKS = 25  # enough denials to be among the most denied subjects


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decision log written by a real sidecar, closed (shutdown checkpoint)."""
    root = tmp_path_factory.mktemp("report")
    directory = root / "log"
    args = ["--address", "127.0.0.1:0", "--workers", "1", "--decision-log", str(directory)]
    process = start(*args, cwd=root)
    try:
        address = str(wait_event(process, "listening")["address"])
        wait_serving(address)
        with Client(address, timeout=30) as client:
            for case in load_decision_table(load_bundle().root):
                client.check_or_deny(case.request)
            hostile = json.loads(CONTRACT_EXAMPLE)
            hostile["subject"]["id"] = HOSTILE_SUBJECT
            hostile["resource"]["id"] = HOSTILE_CASE
            for _ in range(HOSTILE_ASKS):
                assert not client.check_or_deny(hostile).allowed
            example = json.loads(CONTRACT_EXAMPLE)
            client.allowed_actions(example["subject"], example["resource"])
    finally:
        assert stop(process) == 0
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    return directory


def quanze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quanze.server.cli", *args],
        capture_output=True,
        text=True,
        env=environment_without_quanze_settings(),
        timeout=300,
        check=False,
    )


def make_report(directory: Path, output: Path, *options: str) -> subprocess.CompletedProcess[str]:
    done = quanze("logs", "report", str(directory), "-o", str(output), *options)
    assert output.exists(), done.stderr
    return done


def stats(directory: Path, *options: str) -> dict[str, Any]:
    done = quanze("logs", "stats", str(directory), "--format", "json", *options)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium")) as running:
        yield running


@pytest.fixture(scope="module")
def report_file(log_dir: Path) -> Path:
    output = log_dir.parent / "report.html"
    done = make_report(log_dir, output)
    assert done.returncode == ExitCode.OK, done.stderr
    assert re.search(r"wrote .*report\.html \(\d+ kB\): [\d,]+ records, .*intact", done.stderr)
    return output


def opened(browser: Browser, path: Path) -> Page:
    """The report in a new tab with the network cut off; it loaded cleanly and asked for
    nothing but itself."""
    page = browser.open(path.as_uri())
    assert page.evaluate("document.body.dataset.ready") == "true", page.errors
    assert page.errors == []
    assert page.requests == [path.as_uri()]
    return page


def cards(page: Page, section: str) -> dict[str, int]:
    found = page.evaluate(
        f"Array.from(document.querySelectorAll('#{section} .card'))"
        ".map(c => [c.dataset.key, Number(c.dataset.value)])"
    )
    return dict(found)


def table(page: Page, holder: str) -> list[list[str]]:
    """A table's rows as shown (each cell's first line), hidden rows of a long table too."""
    rows: list[list[str]] = page.evaluate(
        f"Array.from(document.querySelectorAll('#{holder} tbody tr')).map(tr =>"
        " Array.from(tr.cells).map(td => td.firstChild ? td.firstChild.textContent : ''))"
    )
    return rows


def counted(rows: list[list[str]]) -> dict[str, int]:
    """A (label, count) table as a dict; counts shown as 1,234."""
    return {label: int(count.replace(",", "")) for label, count in rows}


def opinion(article: str) -> str:
    return f"（{article}）" if article_number(article) else article  # noqa: RUF001


def test_the_browser_sees_errors_and_requests(browser: Browser, tmp_path: Path) -> None:
    """The checks `opened` makes can fail: a page that errs and fetches is caught."""
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        '<html><body><img src="http://example.invalid/x.png">'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    page = browser.open(page_file.as_uri())
    assert "http://example.invalid/x.png" in page.requests
    assert any("boom" in e for e in page.errors), page.errors
    assert any("undefinedFunction" in e for e in page.errors), page.errors


def test_the_pages_policy_forbids_any_fetch_and_any_other_script(
    browser: Browser, report_file: Path, tmp_path: Path
) -> None:
    """Were something to slip into the page, its Content Security Policy still stops it."""
    slipped = report_file.read_text(encoding="utf-8").replace(
        "<main>",
        '<main><img src="http://example.invalid/y.png"><script>window.ran = true;</script>',
        1,
    )
    page_file = tmp_path / "slipped.html"
    page_file.write_text(slipped, encoding="utf-8")
    page = browser.open(page_file.as_uri())
    # Chromium announces the image's request, and stops it there.
    assert page.blocked == {"http://example.invalid/y.png": "csp"}
    assert page.evaluate("window.ran === undefined")
    assert page.evaluate("document.body.dataset.ready") == "true"  # its own scripts ran
    assert any("Content Security Policy" in e for e in page.errors), page.errors


# ---------------------------------------------------------------------------- the numbers


@pytest.mark.parametrize(
    "filters",
    [(), ("--escalate", "chief"), ("--role", "procurator_assistant", "--since", "2026-01-01")],
    ids=["all", "escalated-to-chief", "assistants-since"],
)
def test_the_numbers_shown_are_those_of_logs_stats(
    log_dir: Path, browser: Browser, tmp_path: Path, filters: tuple[str, ...]
) -> None:
    output = tmp_path / "report.html"
    assert make_report(log_dir, output, *filters).returncode == ExitCode.OK
    page = opened(browser, output)
    totals = stats(log_dir, *filters)["totals"]
    shown = cards(page, "totals")
    expected = {k: totals[k] for k in ("records", "answers", "allowed", "denied", "escalated")}
    assert {k: shown[k] for k in expected} == expected
    assert totals["records"] > 0
    assert shown.get("list_calls", 0) == totals["list_calls"]
    denied = stats(log_dir, *filters, "--decision", "deny", "--by", "article", "--by", "role")
    by_article = {opinion(k): n for k, n in denied["by"]["article"].items()}
    assert counted(table(page, "denied-articles")) == by_article
    roles = counted(table(page, "denied-roles"))
    # Roles show their Chinese name with the id below: compare by the id (the sort key).
    ids = page.evaluate(
        "Array.from(document.querySelectorAll('#denied-roles tbody tr'))"
        ".map(tr => [tr.sortKeys[0], tr.sortKeys[1]])"
    )
    assert dict(ids) == denied["by"]["role"]
    assert sum(roles.values()) == sum(denied["by"]["role"].values())
    escalated = stats(log_dir, *filters, "--by", "escalate")["by"]["escalate"]
    shown_escalations = counted(table(page, "escalations"))
    for where, label in (("chief", "检察长 Chief"), ("committee", "检察委员会 Committee")):
        assert shown_escalations.get(label, 0) == escalated.get(where, 0)


def test_the_log_has_what_the_report_is_for(
    log_dir: Path, browser: Browser, report_file: Path
) -> None:
    page = opened(browser, report_file)
    escalations = counted(table(page, "escalations"))
    assert escalations["检察长 Chief"] > 0
    assert escalations["检察委员会 Committee"] > 0
    delegated = table(page, "delegated")
    assert delegated
    assert {row[4] for row in delegated} <= DELEGATED_CODES
    accountable = table(page, "accountable")
    assert {row[2] for row in accountable} == {"司法责任", "监督管理责任"}
    assert all(row[3].startswith("（") for row in accountable)  # noqa: RUF001
    assert sum(int(r[4].replace(",", "")) for r in accountable) > 0
    assert cards(page, "losses") == {
        "lost": 0,
        "refused": 0,
        "lost_with_a_directory": 0,
        "writer_runs": 1,
    }
    about = page.evaluate("document.getElementById('about').textContent")
    assert str(log_dir) in about
    assert "Quanze 0.1.0" in about


def test_each_chart_draws_its_numbers(log_dir: Path, browser: Browser, report_file: Path) -> None:
    page = opened(browser, report_file)
    drawn = page.evaluate(
        """Object.fromEntries(Object.entries(window.quanzeCharts).map(([id, chart]) => {
            const canvas = chart.canvas;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width,
                canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
            return [id, {inked: inked, area: canvas.width * canvas.height,
                sums: chart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0))}];
        }))"""
    )
    assert set(drawn) == {"chart-timeline", "chart-articles", "chart-roles", "chart-escalations"}
    for chart_id, chart in drawn.items():
        assert chart["inked"] > chart["area"] // 100, f"{chart_id} is blank: {chart}"
    totals = stats(log_dir)["totals"]
    assert drawn["chart-timeline"]["sums"] == [totals["allowed"], totals["denied"]]
    escalated = stats(log_dir, "--by", "escalate")["by"]["escalate"]
    assert drawn["chart-escalations"]["sums"] == [escalated["chief"] + escalated["committee"]]
    assert page.evaluate("document.getElementById('timeline-unit').textContent").count("per hour")


def test_clicking_a_header_sorts_the_table_both_ways(browser: Browser, report_file: Path) -> None:
    page = opened(browser, report_file)
    header = "#denied-articles th:nth-child({})"
    before = table(page, "denied-articles")
    page.click(header.format(2))
    ascending = [int(row[1].replace(",", "")) for row in table(page, "denied-articles")]
    assert ascending == sorted(ascending)
    assert page.evaluate(f"document.querySelector('{header.format(2)}').ariaSort") == "ascending"
    page.click(header.format(2))
    descending = [int(row[1].replace(",", "")) for row in table(page, "denied-articles")]
    assert descending == sorted(ascending, reverse=True)
    assert page.evaluate(f"document.querySelector('{header.format(2)}').ariaSort") == "descending"
    page.click(header.format(1))  # by article: in the Opinion's order, not the text's
    articles = [row[0] for row in table(page, "denied-articles")]
    numbers = [article_number(a.strip("（）")) or 10_000 for a in articles]  # noqa: RUF001
    assert numbers == sorted(numbers)
    assert sorted(map(tuple, before)) == sorted(map(tuple, table(page, "denied-articles")))
    # Only the first rows of a long table show, in the order chosen.
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('#denied-articles tbody tr'))"
        ".filter(tr => !tr.hidden).length"
    )
    assert visible == min(15, len(articles))


def test_hostile_strings_from_records_render_as_text(browser: Browser, report_file: Path) -> None:
    page = opened(browser, report_file)
    subjects = dict(table(page, "top-subjects"))
    assert subjects[HOSTILE_SUBJECT] == str(HOSTILE_ASKS)
    cases = dict(table(page, "top-cases"))
    assert cases[HOSTILE_CASE] == str(HOSTILE_ASKS)
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.getElementById('injected')") is None
    html = report_file.read_text(encoding="utf-8")
    assert HOSTILE_SUBJECT not in html
    assert html.count("</script>") == 3  # the data block, Chart.js and the page's script


# ---------------------------------------------------------------------------- verification


def test_the_verdict_is_intact_for_an_untouched_log(browser: Browser, report_file: Path) -> None:
    page = opened(browser, report_file)
    verdict = page.evaluate(
        "(() => { const v = document.getElementById('verdict');"
        " return [v.dataset.verdict, v.className, v.textContent,"
        " getComputedStyle(v).backgroundColor]; })()"
    )
    assert verdict[0] == "intact"
    assert "intact" in verdict[1].split()
    assert "完好 INTACT" in verdict[2]
    assert verdict[3] == "rgb(27, 127, 59)"  # green
    anchors = page.evaluate("document.getElementById('anchors').textContent")
    assert re.fullmatch(r"w0:\d+:[0-9a-f]{64}", anchors)


def test_the_database_report_shows_the_stores_numbers_and_verdict(
    log_dir: Path, browser: Browser, tmp_path: Path, database_url: str
) -> None:
    """`report --db`: the same log shipped into PostgreSQL reports what `stats --db` counts,
    and the store's verification (the stream named by its source)."""
    copy = shutil.copytree(log_dir, tmp_path / "log")  # the markers ship writes stay here
    shipped = quanze("logs", "ship", str(copy), "--db", database_url, "--source", "pod-r")
    assert shipped.returncode == 0, shipped.stderr
    output = tmp_path / "db-report.html"
    done = quanze("logs", "report", "--db", database_url, "-o", str(output))
    assert done.returncode == ExitCode.OK, done.stderr

    page = opened(browser, output)
    counted_there = quanze("logs", "stats", "--db", database_url, "--format", "json")
    totals = json.loads(counted_there.stdout)["totals"]
    shown = cards(page, "totals")
    expected = {k: totals[k] for k in ("records", "answers", "allowed", "denied", "escalated")}
    assert {k: shown[k] for k in expected} == expected
    assert expected == {k: stats(log_dir)["totals"][k] for k in expected}
    verdict = page.evaluate("document.getElementById('verdict').dataset.verdict")
    assert verdict == "intact"
    anchors = page.evaluate("document.getElementById('anchors').textContent")
    assert re.fullmatch(r"pod-r/w0:\d+:[0-9a-f]{64}", anchors)


def test_a_tampered_log_shows_tampered_and_where(
    log_dir: Path, browser: Browser, tmp_path: Path
) -> None:
    tampered = tmp_path / "log"
    shutil.copytree(log_dir, tampered)
    log_file = sorted(tampered.glob("decisions-w0-*.jsonl*"))[0]
    lines = log_file.read_bytes().split(b"\n")
    number = next(i for i, line in enumerate(lines) if b'"result":false' in line)
    lines[number] = lines[number].replace(b'"result":false', b'"result":true', 1)
    log_file.write_bytes(b"\n".join(lines))
    output = tmp_path / "report.html"
    done = make_report(tampered, output)
    assert done.returncode == ExitCode.FAILED
    assert "verification: tampered" in done.stderr
    page = opened(browser, output)
    verdict = page.evaluate(
        "(() => { const v = document.getElementById('verdict');"
        " return [v.dataset.verdict, v.textContent, getComputedStyle(v).backgroundColor]; })()"
    )
    assert verdict[0] == "tampered"
    assert "被篡改 TAMPERED" in verdict[1]
    assert verdict[2] == "rgb(179, 38, 30)"  # red
    problems = table(page, "problems")
    assert [log_file.name + f":{number + 1}", "modified"] in [[r[1], r[0]] for r in problems]


# ---------------------------------------------------------------------------- the rest


def test_report_takes_exactly_one_of_dir_and_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANZE_LOG_DATABASE_URL", raising=False)
    output = str(tmp_path / "r.html")
    url = "postgresql://q@localhost/q"
    # The same choice, and the same messages, as `query`, `stats` and `verify` (cli/logs_db.py).
    for argv, message in [
        ([], "give the decision-log directory (DIR) or the central store (--db URL"),
        ([str(tmp_path), "--db", url], "give either DIR"),
        ([str(tmp_path), "--source", "pod-1"], "--source picks sidecars in the central store"),
    ]:
        assert main(["logs", "report", *argv, "-o", output]) == ExitCode.FAILED
        assert message in capsys.readouterr().err
    assert not Path(output).exists()


def test_long_tables_keep_the_most_frequent_rows_and_count_the_rest(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_data, "MAX_ROWS", 3)
    data = report_data.ReportData()
    for match in scan(records.list_streams(log_dir), Filters(), ScanCounts()):
        data.add(match)
    document = data.document(ABOUT, verify_directory(log_dir), Losses())
    for table_id in ("accountable", "delegated"):
        rows = document[table_id]
        assert len(rows) == 3
        counts = [row[-1] for row in rows]
        assert counts == sorted(counts, reverse=True)
        full = data.accountable if table_id == "accountable" else data.delegated
        assert document["unlisted"][table_id] == len(full) - 3
        assert counts[0] == max(full.values())


ABOUT = report_data.About("log", None, None, (), "0.1.0", datetime.now(UTC))


def test_the_vendored_chart_js_is_the_recorded_one() -> None:
    recorded = re.search(r"file sha256 \| `([0-9a-f]{64})`", (ASSETS / "VENDORED.md").read_text())
    assert recorded is not None
    content = (ASSETS / "chart.umd.min.js").read_bytes()
    assert hashlib.sha256(content).hexdigest() == recorded[1]
    assert content.startswith(b"/*!\n * Chart.js v4.6.2\n")


def test_delegated_codes_are_the_policies_delegation_reasons() -> None:
    messages = json.loads((load_bundle().root / "quanze/messages/data.json").read_text())
    for code in DELEGATED_CODES:
        assert messages[code]["article"] == "四十六", code


def test_articles_are_numbered_as_the_opinion_numbers_them() -> None:
    numerals = ["一", "九", "十", "十一", "十七", "二十", "二十四", "四十六", "四十八"]
    assert [article_number(n) for n in numerals] == [1, 9, 10, 11, 17, 20, 24, 46, 48]
    assert [article_number(n) for n in ("", "(none)", "十十", "二十四五", "17")] == [None] * 5


def test_the_database_is_named_without_its_password() -> None:
    for url in (
        "postgresql://auditor:s3cret@db:5432/quanze",
        "host=db password=s3cret dbname=quanze",
    ):
        named = report.redacted(url)
        assert "s3cret" not in named
        assert "host=db" in named
        assert "dbname=quanze" in named


def test_the_header_names_every_filter_but_the_period_as_given() -> None:
    argv = ["--case", "C1", "--decision", "deny", "--since", "2026-01-01", "--rpc", "Check"]
    args = build_parser().parse_args(["logs", "report", "log", "-o", "r.html", *argv])
    assert _filter_words(args) == ("--resource C1", "--decision deny", "--rpc Check")
