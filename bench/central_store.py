"""Time compliance questions on the central store (PostgreSQL): query, stats and verify.

Loads a decision log made by `decision_log_data.py` into a database, as `--sources` sidecars
(each source is the whole log again, under its own name: ten sources of a 1M-record log make
10M rows), then runs each question as the real command (`python -m quanze.server.cli logs …
--db URL`) in a child process and measures it from outside, as `decision_log_queries.py` does
for files. `EXPLAIN (ANALYZE, BUFFERS)` of the SQL behind the selective questions shows which
indexes answer them.

    python bench/decision_log_data.py --out /tmp/quanze-log --size-mb 1300   # ~1M records
    python bench/central_store.py --log /tmp/quanze-log --sources 1 \
        --db postgresql://postgres@127.0.0.1:5432/bench

`--skip-load` times a database loaded before. Prints a Markdown table and writes JSON to
bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for bench.*

from bench.decision_log_queries import CLI, RESULTS_DIR, measure
from quanze.server.decisionlog import central, records
from quanze.server.decisionlog.central_read import narrowing
from quanze.server.decisionlog.central_schema import migrate
from quanze.server.decisionlog.query import Filters, parse_time
from quanze.server.decisionlog.reader import read_lines

BATCH = 5_000
"""Rows per `central.append` (one COPY and one transaction)."""


def load(url: str, directory: Path, sources: int) -> tuple[int, float]:
    """Every record of `directory` into the store, once per source; (rows, seconds)."""
    streams = records.list_streams(directory)
    started = time.monotonic()
    rows = 0
    with central.connect(url) as conn:
        migrate(conn, applied_by="bench/central_store.py")
        for number in range(sources):
            source = f"bench-{number:02d}"
            for stream, files in streams.items():
                batch: list[central.Row] = []
                for log_file in files:
                    for line in read_lines(log_file):
                        if not line.complete:
                            continue
                        batch.append(
                            central.row_of(line.raw, f"{log_file.path.name}:{line.number}")
                        )
                        if len(batch) == BATCH:
                            central.append(conn, source, stream, batch)
                            rows += len(batch)
                            batch = []
                            print(f"\r{rows:,} rows", end="", file=sys.stderr, flush=True)
                if batch:
                    central.append(conn, source, stream, batch)
                    rows += len(batch)
        conn.execute("ANALYZE quanze.records")
        conn.commit()
    print(file=sys.stderr)
    return rows, time.monotonic() - started


def questions(url: str, sample: dict[str, str], key: str | None) -> list[tuple[str, list[str]]]:
    db = ["--db", url]
    window = ["--since", sample["since"], "--until", sample["until"]]
    found = [
        (
            "every decision on one case (jsonl)",
            ["query", *db, "--case", sample["case"], "--format", "jsonl"],
        ),
        (
            "one subject in a 15-day range (table)",
            ["query", *db, "--subject", sample["subject"], *window],
        ),
        (
            "denials citing article 十七 in a 15-day range (csv)",
            ["query", *db, "--decision", "deny", "--article", "十七", *window, "--format", "csv"],
        ),
        ("stats over everything (table)", ["stats", *db]),
        ("stats over everything, chain not checked", ["stats", *db, "--no-check-chain"]),
        ("stats, one 15-day range", ["stats", *db, *window]),
        (
            "verify: hash chains" + (" and signatures" if key else ""),
            ["verify", *db, *(["--key", key] if key else [])],
        ),
    ]
    return [(name, ["logs", *argv]) for name, argv in found]


def explain(url: str, sample: dict[str, str]) -> dict[str, str]:
    """The plans of the page queries behind the selective questions (one stream's page)."""
    cases = {
        "case": Filters(resources=frozenset({sample["case"]})),
        "subject + window": Filters(
            subjects=frozenset({sample["subject"]}),
            since=parse_time(sample["since"], "since"),
            until=parse_time(sample["until"], "until"),
        ),
        "article + window": Filters(
            articles=frozenset({"十七"}),
            decisions=frozenset({"deny"}),
            since=parse_time(sample["since"], "since"),
            until=parse_time(sample["until"], "until"),
        ),
    }
    plans = {}
    with central.connect(url) as conn:
        (stream,) = conn.execute("SELECT min(stream) FROM quanze.streams").fetchone() or ("",)
        for name, filters in cases.items():
            where, params = narrowing(filters)
            rows = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT r.seq, r.ts, r.line, "  # noqa: S608 - our own fragments
                "ARRAY(SELECT n.prev_hash FROM quanze.records n WHERE n.stream = r.stream "
                f"AND n.seq = r.seq + 1) FROM quanze.records r WHERE r.stream = %s AND {where} "
                "ORDER BY r.seq, r.ts LIMIT 5000",
                (stream, *params),
            ).fetchall()
            plans[name] = "\n".join(row[0] for row in rows)
    return plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--log", type=Path, required=True, help="a log made by decision_log_data.py"
    )
    parser.add_argument(
        "--db", required=True, help="postgresql://USER@HOST:PORT/DB (an empty database)"
    )
    parser.add_argument(
        "--sources", type=int, default=1, help="times the log is loaded, as sidecars (1)"
    )
    parser.add_argument("--skip-load", action="store_true", help="the database is loaded already")
    parser.add_argument("--repeat", type=int, default=3, help="runs per question (3)")
    parser.add_argument("--only", action="append", help="run only questions naming this word")
    parser.add_argument("--output", type=Path, help="JSON results (default: bench/results/…)")
    args = parser.parse_args()

    manifest: dict[str, Any] = json.loads(Path(f"{args.log}.manifest.json").read_text())
    sample = manifest["sample"]
    loaded: dict[str, Any] = {}
    if not args.skip_load:
        rows, seconds = load(args.db, args.log, args.sources)
        loaded = {"rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds)}
        print(
            f"loaded {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)",
            file=sys.stderr,
        )
    with central.connect(args.db) as conn:
        rows_now, table_bytes = conn.execute(
            "SELECT (SELECT sum(records)::bigint FROM quanze.streams), "
            "(SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'quanze.records'::regclass)"
        ).fetchone() or (0, 0)
    print(
        f"{args.db}: {rows_now:,} rows, {table_bytes / 1e9:,.2f} GB with indexes; load average "
        f"{os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    results = []
    for name, argv in questions(args.db, sample, manifest.get("key")):
        if args.only and not any(word in name for word in args.only):
            continue
        runs = [measure([*CLI, *argv]) for _ in range(args.repeat)]
        wall = statistics.median(r.wall_s for r in runs)
        failed = [r.exit_status for r in runs if r.exit_status]
        results.append(
            {
                "question": name,
                "command": "quanze " + shlex.join(argv),
                "wall_s": round(wall, 2),
                "cpu_s": round(statistics.median(r.cpu_s for r in runs), 2),
                "peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
                "output_lines": runs[-1].output_lines,
                "exit": failed,
                "stderr": runs[-1].stderr,
            }
        )
        note = f"  EXIT {failed}: {runs[-1].stderr}" if failed else ""
        print(f"{name}: {wall:.2f} s{note}", file=sys.stderr)
    plans = explain(args.db, sample)
    print("| question | wall s | CPU s (client) | peak MB (client) | lines |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        cells = (r["wall_s"], r["cpu_s"], r["peak_rss_mb"], r["output_lines"])
        print(
            f"| {r['question']} | {cells[0]:.2f} | {cells[1]:.2f} | {cells[2]:.0f} | {cells[3]:,} |"
        )
    for name, plan in plans.items():
        print(f"\n{name}:\n{plan}")
    output = args.output or RESULTS_DIR / f"central-store-{int(time.time())}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "rows": rows_now,
                "table_bytes": table_bytes,
                "loaded": loaded,
                "results": results,
                "plans": plans,
                "cpus": os.cpu_count(),
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    print(f"results: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
