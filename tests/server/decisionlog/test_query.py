"""`quanze logs query` and `quanze logs stats` on logs written by the real writer.

Every expectation is computed here, independently, from the records as stored (read with gzip
and json directly), and compared with what the commands print.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from quanze.server import cli
from quanze.server.clock import timestamp
from quanze.server.decisionlog import query, records, render
from quanze.server.decisionlog.writer import WriterSettings
from quanze.server.policy.bundle import load_bundle
from tests.server.decisionlog import support

Record = dict[str, Any]
PER_STREAM = 700
CATALOG = frozenset(load_bundle().actions)
# Real catalog actions a ListAllowedActions call may allow, and one the catalog lacks.
LISTED = ("case.interrogate_suspect", "decision.prosecute", "document.draft", "case.assign")
NOT_IN_CATALOG = "case.view"
CHINESE_SUBJECT = "张检察官"
COLUMNS = list(render.TABLE_COLUMNS)


def varied_record(index: int, stream: int, rng: random.Random) -> Record:
    """A support record, varied: List and Batch calls, several roles, obligations and
    accountability citing other articles, dropped and null inputs, a Chinese subject id."""
    record = support.decision_record(index, rng=rng)
    moment = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=7 * index + 3 * stream)
    record["timestamp"] = timestamp(moment)
    record["decision_id"] = f"{stream:08d}-0000-4000-8000-{index:012d}"
    subject = record["input"]["subject"]
    if index % 19 == 6:
        subject["id"] = CHINESE_SUBJECT
    if index % 17 == 2:
        subject["properties"] = {"role": "procurator", "roles": ["department_head", "procurator"]}
    if index % 9 == 3:
        record["obligations"] = [
            {
                "code": "record_dissent",
                "article": "十一",
                "item": 2,
                "message_zh": "记录",
                "message_en": "r",
            }
        ]
        record["accountable"] = [
            {"subject_id": subject["id"], "capacity": "c", "responsibility": "r", "article": "五"}
        ]
        if record["result"] is False:
            record["escalate_to"] = "committee"
    if index % 41 == 7:
        record["bundles"] = {"quanze": {"revision": "abc123" + "0" * 34}}
    if index % 13 == 1:
        record["rpc"] = "CheckBatch"
        record["batch"] = {"index": index % 4, "size": 4}
    if index % 11 == 0:
        record.update(
            rpc="ListAllowedActions",
            path="quanze/authz/decisions",
            result={"allowed": rng.sample([*LISTED, NOT_IN_CATALOG], rng.randint(0, 3))},
            reasons=[],
            obligations=[],
            escalate_to="",
            accountable=[],
        )
        del record["input"]["action"]
    if index % 23 == 4:
        for key in ("input", "result", "reasons", "obligations", "escalate_to", "accountable"):
            del record[key]
        record["dropped"] = True
    if index % 31 == 5:
        record["input"] = None  # masking failed closed
    return record


def write_varied_log(directory: Path, seed: int, per_stream: int = PER_STREAM) -> Path:
    """Two streams of varied records, rotated every 40 kB: the log the query tests read."""
    rng = random.Random(seed)
    streams = [[varied_record(i, s, rng) for i in range(per_stream)] for s in range(2)]
    support.write_streams(
        directory, streams, settings=WriterSettings(fsync="none", max_file_bytes=40_000)
    )
    return directory


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_varied_log(tmp_path_factory.mktemp("decision-log"), seed=7)


@pytest.fixture(scope="module")
def stored(log_dir: Path) -> list[tuple[bytes, Record]]:
    """Every decision record as stored: (line bytes, record), read without query.py."""
    found = []
    for path in sorted(log_dir.glob("decisions-*")):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        parsed = [(raw, json.loads(raw)) for raw in data.split(b"\n") if raw]
        found += [(raw, record) for raw, record in parsed if record["type"] == "decision"]
    return found


@pytest.fixture(scope="module")
def decisions(stored: list[tuple[bytes, Record]]) -> list[Record]:
    return [record for _, record in stored]


def test_the_log_has_what_the_tests_need(log_dir: Path, decisions: list[Record]) -> None:
    names = [p.name for p in log_dir.iterdir() if p.name.startswith("decisions-")]
    assert {n.split("-")[1] for n in names} == {"w0", "w1"}
    assert sum(n.endswith(".gz") for n in names) >= 10
    assert len(decisions) == 2 * PER_STREAM
    assert len({r["decision_id"] for r in decisions}) == len(decisions)


# ---------------------------------------------------------------------------- helpers


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["logs", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def ids_of(jsonl: str) -> list[str]:
    return [json.loads(line)["decision_id"] for line in jsonl.splitlines()]


def request(record: Record) -> Record:
    return record.get("input") or {}


def subject_of(record: Record) -> str | None:
    return (request(record).get("subject") or {}).get("id")


def roles_of(record: Record) -> set[str]:
    properties = (request(record).get("subject") or {}).get("properties") or {}
    return {properties.get("role"), *properties.get("roles", [])} - {None}


def resource_of(record: Record) -> str | None:
    return (request(record).get("resource") or {}).get("id")


def action_of(record: Record) -> str | None:
    return (request(record).get("action") or {}).get("name")


def articles_of(record: Record) -> set[str]:
    keys = ("reasons", "obligations", "accountable")
    return {entry["article"] for key in keys for entry in record.get(key, [])}


def codes_of(record: Record) -> list[str]:
    return [reason["code"] for reason in record.get("reasons", [])]


def is_list(record: Record) -> bool:
    return record["rpc"] == "ListAllowedActions"


def decided(record: Record, value: bool) -> bool:
    return not is_list(record) and record.get("result") is value


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def matching(decisions: list[Record], predicate: Callable[[Record], bool]) -> list[str]:
    """Ids of the records `predicate` picks, in time order; never all and never none."""
    picked = sorted((r for r in decisions if predicate(r)), key=lambda r: r["timestamp"])
    assert 0 < len(picked) < len(decisions), "the case would prove nothing"
    return [r["decision_id"] for r in picked]


# ---------------------------------------------------------------------------- query


def test_query_without_filters_prints_every_decision_record_as_stored_in_time_order(
    log_dir: Path, stored: list[tuple[bytes, Record]], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert cli.main(["logs", "query", str(log_dir), "--format", "jsonl"]) == 0
    out = capsysbinary.readouterr().out
    lines = out.split(b"\n")
    assert lines.pop() == b""
    assert sorted(lines) == sorted(raw for raw, _ in stored)  # byte for byte
    stamps = [json.loads(line)["timestamp"] for line in lines]
    assert stamps == sorted(stamps)  # the two streams interleaved by time


FILTER_CASES: list[tuple[list[str], Callable[[Record], bool]]] = [
    (["--subject", "u-3"], lambda r: subject_of(r) == "u-3"),
    (
        ["--subject", "u-3", "--subject", CHINESE_SUBJECT],
        lambda r: subject_of(r) in {"u-3", CHINESE_SUBJECT},
    ),
    (["--role", "clerk"], lambda r: "clerk" in roles_of(r)),
    (["--role", "department_head"], lambda r: "department_head" in roles_of(r)),
    (["--case", "C-7"], lambda r: resource_of(r) == "C-7"),
    (["--resource", "C-7", "--case", "C-8"], lambda r: resource_of(r) in {"C-7", "C-8"}),
    (["--decision", "deny"], lambda r: decided(r, False)),
    (
        ["--decision", "allow", "--decision", "deny"],
        lambda r: decided(r, True) or decided(r, False),
    ),
    (["--article", "十七"], lambda r: "十七" in articles_of(r)),
    (["--article", "五"], lambda r: "五" in articles_of(r)),
    (["--article", "十一", "--article", "十四"], lambda r: bool({"十一", "十四"} & articles_of(r))),
    (["--reason", "not_handling_procurator"], lambda r: "not_handling_procurator" in codes_of(r)),
    (["--escalate", "committee"], lambda r: r.get("escalate_to") == "committee"),
    (["--escalate", "chief", "--escalate", "committee"], lambda r: bool(r.get("escalate_to"))),
    (["--revision", "aaaaaaaaaaaa"], lambda r: r["bundles"]["quanze"]["revision"] == "a" * 40),
    (["--revision", "a"], lambda r: r["bundles"]["quanze"]["revision"].startswith("a")),
    (["--rpc", "CheckBatch"], lambda r: r["rpc"] == "CheckBatch"),
    (["--rpc", "Check", "--rpc", "ListAllowedActions"], lambda r: r["rpc"] != "CheckBatch"),
    (
        ["--decision-id", "00000001-0000-4000-8000-000000000042"],
        lambda r: r["decision_id"] == "00000001-0000-4000-8000-000000000042",
    ),
    (
        ["--subject", "u-3", "--decision", "deny"],
        lambda r: subject_of(r) == "u-3" and decided(r, False),
    ),
    (
        [
            "--role",
            "procurator",
            "--article",
            "十七",
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-03T12:00",
        ],
        lambda r: (
            "procurator" in roles_of(r)
            and "十七" in articles_of(r)
            and at("2026-11-02T00:00Z") <= at(r["timestamp"]) < at("2026-11-03T12:00Z")
        ),
    ),
]


@pytest.mark.parametrize(
    ("argv", "predicate"), FILTER_CASES, ids=[" ".join(a) for a, _ in FILTER_CASES]
)
def test_each_filter_picks_exactly_the_records_it_describes(
    log_dir: Path,
    decisions: list[Record],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    predicate: Callable[[Record], bool],
) -> None:
    code, out, _ = run(capsys, "query", str(log_dir), "--format", "jsonl", *argv)
    assert code == 0
    assert ids_of(out) == matching(decisions, predicate)


def test_time_range_edges(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    middle = sorted(r["timestamp"] for r in decisions)[len(decisions) // 2]
    moment = at(middle)
    just_after = timestamp(moment + timedelta(microseconds=1))
    cases = [
        (["--since", middle], lambda r: at(r["timestamp"]) >= moment),
        (["--until", middle], lambda r: at(r["timestamp"]) < moment),  # exclusive
        (["--since", middle, "--until", just_after], lambda r: r["timestamp"] == middle),
        (["--since", "2026-11-02"], lambda r: at(r["timestamp"]) >= at("2026-11-02T00:00Z")),
        # The same instant three ways: a date is midnight UTC, a naive time is UTC.
        (["--until", "2026-11-02"], lambda r: at(r["timestamp"]) < at("2026-11-02T00:00Z")),
        (
            ["--until", "2026-11-02T08:00+08:00"],
            lambda r: at(r["timestamp"]) < at("2026-11-02T00:00Z"),
        ),
        (
            ["--until", "2026-11-02T00:00:00"],
            lambda r: at(r["timestamp"]) < at("2026-11-02T00:00Z"),
        ),
    ]
    for argv, predicate in cases:
        code, out, _ = run(capsys, "query", str(log_dir), "--format", "jsonl", *argv)
        assert code == 0
        assert ids_of(out) == matching(decisions, predicate), argv
    _, out, _ = run(
        capsys, "query", str(log_dir), "--format", "jsonl", "--since", middle, "--until", just_after
    )
    assert len(ids_of(out)) == 1


def test_limit_stops_after_the_earliest_records(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "query", str(log_dir), "--format", "jsonl", "--article", "十七", "--limit", "5"
    )
    assert code == 0
    assert ids_of(out) == matching(decisions, lambda r: "十七" in articles_of(r))[:5]
    _, out, err = run(capsys, "query", str(log_dir), "--article", "十七", "--limit", "5")
    assert len(out.splitlines()) == 1 + 5
    assert "--limit reached" in err


# ---------------------------------------------------------------------------- formats


def expected_row(record: Record) -> list[str]:
    """The csv row of a Check or CheckBatch record, from the record itself."""
    properties = (request(record).get("subject") or {}).get("properties") or {}
    roles = [properties["role"]] if properties.get("role") else []
    roles += [r for r in properties.get("roles", []) if r not in roles]
    articles = []
    for key in ("reasons", "obligations", "accountable"):
        articles += [e["article"] for e in record.get(key, []) if e["article"] not in articles]
    decision = {True: "allow", False: "deny"}.get(record.get("result"), "?")
    return [
        record["timestamp"],
        record["decision_id"],
        subject_of(record) or "",
        ";".join(roles),
        action_of(record) or "",
        resource_of(record) or "",
        "dropped" if record.get("dropped") else decision,
        ";".join(codes_of(record)),
        ";".join(articles),
        record.get("escalate_to", ""),
        record["bundles"]["quanze"]["revision"],
    ]


def test_csv_has_the_table_columns_with_full_values(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "query", str(log_dir), "--format", "csv", "--rpc", "Check", "--rpc", "CheckBatch"
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == COLUMNS
    by_id = {r["decision_id"]: r for r in decisions}
    expected = matching(decisions, lambda r: not is_list(r))
    assert [row[1] for row in rows[1:]] == expected
    for row in rows[1:]:
        assert row == expected_row(by_id[row[1]])
    assert any(row[2] == CHINESE_SUBJECT for row in rows)  # UTF-8 round trip
    assert any(";" in row[3] for row in rows)  # several roles in one cell
    assert any(row[6] == "dropped" for row in rows)


def test_table_rows_are_aligned_and_counted(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    # More rows than the table sizes its columns from, and CJK cells that are two columns wide.
    expected = matching(decisions, lambda r: decided(r, False))
    assert len(expected) > 150
    code, out, err = run(capsys, "query", str(log_dir), "--decision", "deny")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["time", "(UTC)", "id"]
    assert len(lines) == 1 + len(expected)
    assert f"{len(expected):,} matching records" in err
    by_id = {r["decision_id"]: r for r in decisions}
    for line, ident in zip(lines[1:], expected, strict=True):
        assert line.startswith(by_id[ident]["timestamp"][:19].replace("T", " "))
    # The decision column starts at the same terminal column on every line.
    starts = set()
    for line in lines[1:]:
        cut = line.index("  deny  ") + 2
        starts.add(render.display_width(line[:cut]))
    assert len(starts) == 1
    assert any(CHINESE_SUBJECT in line for line in lines)


def test_fit_counts_cjk_characters_as_two_columns() -> None:
    assert render.display_width(render.fit("张检察官", 10)) == 10
    cut = render.fit("张检察官张检察官", 7)
    assert render.display_width(cut) == 7
    assert cut.rstrip().endswith("…")
    assert render.fit("abc", 3) == "abc"


# ---------------------------------------------------------------------------- ListAllowedActions


def list_answers(decisions: list[Record], action: str) -> dict[str, str]:
    """The answers ListAllowedActions records give for `action`: id -> allow/deny."""
    return {
        f"{r['decision_id']}#{action}": "allow" if action in r["result"]["allowed"] else "deny"
        for r in decisions
        if is_list(r) and "result" in r and (action in CATALOG or action in r["result"]["allowed"])
    }


def check_answers(decisions: list[Record], action: str) -> dict[str, str]:
    return {
        r["decision_id"]: {True: "allow", False: "deny"}.get(r.get("result"), "?")
        for r in decisions
        if not is_list(r) and action_of(r) == action
    }


def csv_answers(out: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(out)))[1:]
    return {row[1]: row[6] for row in rows}


def test_an_action_filter_takes_each_list_call_as_answering_that_action(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    action = "decision.prosecute"
    listed = list_answers(decisions, action)
    assert "allow" in listed.values()
    assert "deny" in listed.values()
    code, out, _ = run(capsys, "query", str(log_dir), "--action", action, "--format", "csv")
    assert code == 0
    assert csv_answers(out) == {**check_answers(decisions, action), **listed}

    for decision in ("allow", "deny"):
        argv = ["--action", action, "--decision", decision]
        _, out, _ = run(capsys, "query", str(log_dir), "--format", "csv", *argv)
        expected = {**check_answers(decisions, action), **listed}
        assert csv_answers(out) == {k: v for k, v in expected.items() if v == decision}


def test_an_action_outside_the_catalog_is_answered_only_where_a_list_call_allowed_it(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    assert NOT_IN_CATALOG not in CATALOG
    listed = list_answers(decisions, NOT_IN_CATALOG)
    assert listed
    assert set(listed.values()) == {"allow"}
    code, out, err = run(
        capsys, "query", str(log_dir), "--action", NOT_IN_CATALOG, "--format", "csv"
    )
    assert code == 0
    assert csv_answers(out) == {**check_answers(decisions, NOT_IN_CATALOG), **listed}
    assert "not in the catalog" in err


def test_several_actions_give_one_row_per_answer_and_jsonl_one_line_per_record(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--rpc",
        "ListAllowedActions",
        "--action",
        "decision.prosecute",
        "--action",
        "case.assign",
    ]
    _, out, _ = run(capsys, "query", str(log_dir), "--format", "csv", *argv)
    expected = {
        **list_answers(decisions, "decision.prosecute"),
        **list_answers(decisions, "case.assign"),
    }
    assert csv_answers(out) == expected
    _, out, _ = run(capsys, "query", str(log_dir), "--format", "jsonl", *argv)
    # A dropped record kept no answers, so it answers no action.
    assert ids_of(out) == matching(decisions, lambda r: is_list(r) and "result" in r)


def test_an_answer_id_finds_its_list_call_and_action(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    call = next(r for r in decisions if is_list(r) and r["result"]["allowed"])
    allowed = call["result"]["allowed"][0]
    denied = next(a for a in LISTED if a not in call["result"]["allowed"])
    for action, decision in ((allowed, "allow"), (denied, "deny")):
        answer_id = f"{call['decision_id']}#{action}"
        _, out, _ = run(
            capsys, "query", str(log_dir), "--decision-id", answer_id, "--format", "csv"
        )
        assert csv_answers(out) == {answer_id: decision}
    # The call id alone: the whole call, one row.
    _, out, _ = run(
        capsys, "query", str(log_dir), "--decision-id", call["decision_id"], "--format", "csv"
    )
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert [(row[1], row[4], row[6]) for row in rows] == [(call["decision_id"], "*", "list")]


# ---------------------------------------------------------------------------- stats


def counted(values: Iterator[list[str]]) -> dict[str, int]:
    counter: Counter[str] = Counter()
    for keys in values:
        counter.update(keys or ["(none)"])
    return dict(counter)


def stats_json(capsys: pytest.CaptureFixture[str], log_dir: Path, *argv: str) -> Any:
    code, out, _ = run(capsys, "stats", str(log_dir), "--format", "json", *argv)
    assert code == 0
    return json.loads(out)


def test_stats_count_what_an_independent_count_finds(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    document = stats_json(capsys, log_dir)
    stamps = sorted(r["timestamp"] for r in decisions)
    assert document["totals"] == {
        "records": len(decisions),
        "answers": len(decisions),
        "allowed": sum(decided(r, True) for r in decisions),
        "denied": sum(decided(r, False) for r in decisions),
        "escalated": sum(bool(r.get("escalate_to")) for r in decisions),
        "list_calls": sum(is_list(r) and "result" in r for r in decisions),
        "first": stamps[0],
        "last": stamps[-1],
    }
    by = document["by"]
    assert list(by) == ["action", "role", "decision", "article", "day"]
    whole_list = [r for r in decisions if is_list(r) and "result" in r]
    assert by["action"] == counted(
        ["*"] if r in whole_list else [a for a in [action_of(r)] if a] for r in decisions
    )
    assert by["role"] == counted(sorted(roles_of(r)) for r in decisions)
    assert by["article"] == counted(sorted(articles_of(r)) for r in decisions)
    assert by["day"] == counted([r["timestamp"][:10]] for r in decisions)
    assert by["decision"] == dict(
        Counter(
            "list"
            if r in whole_list
            else "dropped"
            if r.get("dropped")
            else {True: "allow", False: "deny"}.get(r.get("result"), "?")
            for r in decisions
        )
    )
    assert list(by["day"]) == sorted(by["day"])  # days in calendar order
    counts = list(by["action"].values())
    assert counts == sorted(counts, reverse=True)  # largest first


def test_stats_with_filters_and_chosen_sections(
    log_dir: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--subject", "u-3", "--since", "2026-11-02", "--by", "reason", "--by", "revision"]
    document = stats_json(capsys, log_dir, *argv)
    picked = [r for r in decisions if subject_of(r) == "u-3" and r["timestamp"] >= "2026-11-02"]
    assert 0 < len(picked) < len(decisions)
    assert document["totals"]["records"] == len(picked)
    assert list(document["by"]) == ["reason", "revision"]
    assert document["by"]["reason"] == counted(list(dict.fromkeys(codes_of(r))) for r in picked)
    assert document["by"]["revision"] == counted(
        [r["bundles"]["quanze"]["revision"]] for r in picked
    )


def test_stats_answers_equal_query_rows(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--article", "十七", "--until", "2026-11-03"],
        ["--action", "decision.prosecute"],
        ["--role", "procurator", "--action", "decision.prosecute", "--action", "case.assign"],
    ):
        _, out, _ = run(capsys, "query", str(log_dir), "--format", "csv", *argv)
        rows = list(csv.reader(io.StringIO(out)))[1:]
        totals = stats_json(capsys, log_dir, *argv)["totals"]
        assert totals["answers"] == len(rows) > 0
        assert totals["allowed"] == sum(row[6] == "allow" for row in rows)
        assert totals["denied"] == sum(row[6] == "deny" for row in rows)


def test_stats_csv_and_table_say_the_same_as_json(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = stats_json(capsys, log_dir, "--role", "clerk")
    _, out, _ = run(capsys, "stats", str(log_dir), "--role", "clerk", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "key", "value"]
    totals = {key: value for section, key, value in rows[1:] if section == "total"}
    assert totals == {k: str(v) for k, v in document["totals"].items()}
    for dimension, counts in document["by"].items():
        assert {k: int(v) for s, k, v in rows[1:] if s == dimension} == counts
    _, out, _ = run(capsys, "stats", str(log_dir), "--role", "clerk")
    assert out.splitlines()[0].split() == ["records", f"{document['totals']['records']:,}"]
    for key, count in document["by"]["article"].items():
        assert any(line.split()[:2] == [key, f"{count:,}"] for line in out.splitlines())


# ---------------------------------------------------------------------------- damage and odd lines


def test_partial_and_unreadable_lines_are_skipped_and_counted(
    log_dir: Path, tmp_path: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "log"
    shutil.copytree(log_dir, copy)
    last = records.list_streams(copy)["w0"][-1].path
    assert last.suffix == ".jsonl"
    with open(last, "ab") as handle:
        handle.write(b"not a record\n")
        handle.write(
            b'{"type":"decision","seq":9999,"timestamp":"2026-11-01T00:00:00.000000Z","dec'
        )
    # A record another tool wrote: spaces, ASCII escapes, a timestamp with an offset.
    check = next(r for r in decisions if r["rpc"] == "Check" and r.get("input") and "result" in r)
    foreign = dict(check, decision_id="foreign-1", timestamp="2026-11-02T09:30:00+08:00")
    foreign["reasons"] = [{"code": "x", "article": "十七", "item": 0}]
    (copy / "decisions-w7-000001-20261101T000000Z.jsonl").write_text(json.dumps(foreign) + "\n")

    code, out, err = run(capsys, "query", str(copy), "--format", "jsonl")
    assert code == 0
    assert sorted(ids_of(out)) == sorted([r["decision_id"] for r in decisions] + ["foreign-1"])
    assert "skipped 2 of" in err
    assert "1 partial" in err
    assert "1 not a JSON record" in err

    argv = ["--article", "十七", "--since", "2026-11-02T01:00Z", "--until", "2026-11-02T02:00Z"]
    _, out, _ = run(capsys, "query", str(copy), "--format", "jsonl", *argv)
    expected = [
        r["decision_id"]
        for r in decisions
        if "十七" in articles_of(r) and "2026-11-02T01:00" <= r["timestamp"] < "2026-11-02T02:00"
    ]
    assert sorted(ids_of(out)) == sorted([*expected, "foreign-1"])


def test_files_gzipped_or_removed_after_listing_are_read_or_reported(
    log_dir: Path, tmp_path: Path, decisions: list[Record]
) -> None:
    # On a live log the writer gzips a finished file, and retention removes old ones, at any
    # moment: between the listing and the reading here.
    copy = tmp_path / "log"
    shutil.copytree(log_dir, copy)
    streams = records.list_streams(copy)
    plain = streams["w1"][-1].path
    gzipped = streams["w0"][0].path
    assert plain.suffix == ".jsonl"
    assert gzipped.suffix == ".gz"
    plain.with_name(plain.name + ".gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    removed = [r for _, r in _records_of(gzipped)]
    gzipped.unlink()

    counts = query.ScanCounts()
    found = [m.record["decision_id"] for m in query.scan(streams, query.Filters(), counts)]
    assert sorted(found) == sorted(r["decision_id"] for r in decisions if r not in removed)
    assert removed
    assert counts.vanished == [gzipped.name]
    assert gzipped.name in counts.report()[0]
    assert counts.breaks is not None
    assert counts.breaks.count == 0  # the chain resumes after a file that went


def _records_of(path: Path) -> list[tuple[bytes, Record]]:
    data = gzip.decompress(path.read_bytes())
    parsed = [(raw, json.loads(raw)) for raw in data.split(b"\n") if raw]
    return [(raw, record) for raw, record in parsed if record["type"] == "decision"]


# ---------------------------------------------------------------------------- the chain


def tampered_copy(log_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the log with one denial turned into an allow in a plain file: FILE:LINE."""
    copy = tmp_path / "log"
    shutil.copytree(log_dir, copy)
    plain = next(f.path for f in records.list_streams(copy)["w1"] if not f.compressed)
    lines = plain.read_bytes().split(b"\n")
    number = next(i for i, line in enumerate(lines) if b'"result":false' in line)
    lines[number] = lines[number].replace(b'"result":false', b'"result":true')
    plain.write_bytes(b"\n".join(lines))
    # The record after the changed one no longer chains to it.
    return copy, f"{plain.name}:{number + 2}"


def test_query_and_stats_check_the_chain_and_fail_where_it_breaks(
    log_dir: Path, tmp_path: Path, decisions: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    copy, where = tampered_copy(log_dir, tmp_path)

    code, out, err = run(capsys, "query", str(copy), "--format", "jsonl")
    assert code == 1
    assert len(ids_of(out)) == len(decisions)  # everything is still shown, with the warning
    assert f"WARNING: the hash chain breaks in 1 place: {where} (seq " in err
    assert "do not trust these results until `quanze logs verify`" in err
    code, _, err = run(capsys, "stats", str(copy))
    assert code == 1
    assert where in err
    code, _, err = run(capsys, "query", str(log_dir), "--format", "jsonl")
    assert code == 0
    assert "WARNING" not in err


def test_a_removed_record_breaks_the_chain_too(
    log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "log"
    shutil.copytree(log_dir, copy)
    plain = next(f.path for f in records.list_streams(copy)["w0"] if not f.compressed)
    lines = plain.read_bytes().split(b"\n")
    del lines[2]
    plain.write_bytes(b"\n".join(lines))
    code, _, err = run(capsys, "query", str(copy), "--subject", "nobody")
    assert code == 1
    assert f"{plain.name}:3 (seq " in err


def test_what_the_writer_does_itself_does_not_break_the_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A crash mid-line and a restart, then the directory deleted under the writer.
    support.abandon(support.write_log(tmp_path, 12, close=False))
    last = records.list_streams(tmp_path)["w0"][-1].path
    with last.open("ab") as torn:
        torn.write(b'{"type":"decision","seq":')
    writer = support.write_log(tmp_path, 5, close=False, seed=1)
    shutil.rmtree(tmp_path)
    writer.append([support.decision_record(99)])
    writer.close()
    capsys.readouterr()  # the writer's own log lines

    code, out, err = run(capsys, "query", str(tmp_path), "--format", "jsonl")

    assert code == 0, err
    assert "WARNING" not in err
    assert ids_of(out)[-1] == support.decision_record(99)["decision_id"]


def test_not_checking_the_chain_is_said_loudly(
    log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, where = tampered_copy(log_dir, tmp_path)
    for command in ("query", "stats"):
        code, out, err = run(capsys, command, str(copy), "--no-check-chain")
        assert code == 0
        assert out
        assert where not in err
        assert "WARNING: the hash chain was NOT checked (--no-check-chain)" in err
        assert f"`quanze logs verify {copy}` checks them" in err


# ---------------------------------------------------------------------------- hostile text

# A subject id that would clear the screen, forge a line and flip the text after it.
HOSTILE = "u-1\x1b[2J\rallow\n2026-11-01 fake line\u202edecnyd\u2066\u200f\u061c"


def test_table_output_shows_control_and_bidi_characters_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = support.decision_record(1)
    record["input"]["subject"]["id"] = "\x1b[2J\rx\ny"  # clear, return, a new line
    record["input"]["action"]["name"] = "case.view\u202e\u2066\u2067\u2068\u2069"
    record["input"]["resource"]["id"] = "C\u200e\u200f\u061c"
    record["reasons"][0]["code"] = "x\u202a\u202b\u202c\u202d"
    support.write_streams(tmp_path, [[record]], settings=WriterSettings(fsync="none"))

    code, out, _ = run(capsys, "query", str(tmp_path))
    assert code == 0
    assert len(out.splitlines()) == 2  # the header and one row: no forged line
    row = out.splitlines()[1].split()
    assert "\\x1b[2J\\x0dx\\x0ay" in row
    assert "case.view\\u202e\\u2066\\u2067\\u2068\\u2069" in row
    assert "C\\u200e\\u200f\\u061c" in row
    assert "x\\u202a\\u202b\\u202c\\u202d" in row
    hidden = set("\x1b\r\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
    assert not hidden & set(out)
    _, out, _ = run(capsys, "stats", str(tmp_path), "--by", "subject", "--by", "action")
    assert "\\x1b[2J\\x0dx\\x0ay" in out
    assert "case.view\\u202e\\u2066" in out
    assert not hidden & set(out)


def test_csv_and_jsonl_keep_such_values_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = support.decision_record(1)
    record["input"]["subject"]["id"] = HOSTILE
    support.write_streams(tmp_path, [[record]], settings=WriterSettings(fsync="none"))

    _, out, _ = run(capsys, "query", str(tmp_path), "--format", "csv")
    assert next(csv.DictReader(io.StringIO(out)))["subject"] == HOSTILE
    _, out, _ = run(capsys, "query", str(tmp_path), "--format", "jsonl")
    assert json.loads(out)["input"]["subject"]["id"] == HOSTILE


# ---------------------------------------------------------------------------- the command


def test_nothing_matching_is_not_an_error(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "query", str(log_dir), "--subject", "nobody")
    assert (code, out) == (0, "")
    assert "no matching records" in err
    code, out, err = run(capsys, "query", str(log_dir), "--subject", "nobody", "--format", "csv")
    assert (code, out) == (0, ",".join(COLUMNS) + "\n")
    code, out, err = run(capsys, "stats", str(log_dir), "--subject", "nobody")
    assert code == 0
    assert "no matching records" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "{missing}"], "does not exist; give the decision-log directory"),
        (["stats", "{file}"], "is a file; give the directory"),
        (["query", "{log}", "--since", "yesterday"], "--since 'yesterday' is not an ISO 8601"),
        (["stats", "{log}", "--until", "2026-11-31"], "--until '2026-11-31' is not an ISO 8601"),
        (
            ["query", "{log}", "--since", "2026-11-02", "--until", "2026-11-01"],
            "is not before --until",
        ),
    ],
)
def test_bad_arguments_say_how_to_fix_them(
    log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("")
    paths = {"missing": tmp_path / "missing", "file": tmp_path / "file", "log": log_dir}
    code, out, err = run(capsys, *(a.format(**paths) for a in argv))
    assert code == 1
    assert out == ""
    assert message in err


def test_logs_alone_shows_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2
    assert "query" in out
    assert "stats" in out


def test_progress_goes_to_stderr_when_asked(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, err = run(capsys, "stats", str(log_dir), "--progress", "--format", "json")
    assert "quanze logs stats:" in err
    assert "% of" in err
    assert json.loads(out)["totals"]["records"] == 2 * PER_STREAM
    _, _, err = run(capsys, "stats", str(log_dir), "--no-progress", "--format", "json")
    assert "% of" not in err
