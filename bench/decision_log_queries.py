"""Time compliance questions on a decision log: wall and CPU time, throughput, peak memory.

Each question runs the real command (`python -m quanze.server.cli logs …`) as a child process,
output to a file, and is measured from outside: wall time, CPU time and peak resident memory
(`ru_maxrss` of that child, from `os.wait4`). Generate a log first:

    python bench/decision_log_data.py --out /tmp/quanze-log --size-mb 300
    python bench/decision_log_queries.py /tmp/quanze-log

Ids and the time range come from the generator's manifest (`<DIR>.manifest.json`); the flags
override them. Prints a Markdown table and writes JSON to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLI = [sys.executable, "-m", "quanze.server.cli"]


@dataclass(frozen=True)
class Question:
    name: str
    argv: list[str]


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_status: int
    output_lines: int
    stderr: str


@dataclass(frozen=True)
class Result:
    question: str
    command: str
    wall_s: float
    """Median over the repeats."""
    cpu_s: float
    peak_rss_mb: float
    """The largest over the repeats."""
    records_per_s: float
    mb_per_s: float
    """Uncompressed log MB per wall second."""
    output_lines: int
    stderr: str
    runs: list[Run]


def measure(argv: list[str]) -> Run:
    """Run one command as a child; its own wall time, CPU time and peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
        out.seek(0)
        lines = sum(1 for _ in out)
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        exit_status=child.returncode,
        output_lines=lines,
        stderr=message[-300:],
    )


def questions(directory: str, sample: dict[str, str], key: str | None) -> list[Question]:
    logs = ["logs"]
    found = [
        Question("start-up only (`logs query --help`)", [*logs, "query", "--help"]),
        Question(
            "every decision on one case (jsonl)",
            [*logs, "query", directory, "--case", sample["case"], "--format", "jsonl"],
        ),
        Question(
            "one subject in a 15-day range (table)",
            [
                *logs,
                "query",
                directory,
                "--subject",
                sample["subject"],
                "--since",
                sample["since"],
                "--until",
                sample["until"],
            ],
        ),
        Question(
            "denials citing article 十七 (csv)",
            [
                *logs,
                "query",
                directory,
                "--decision",
                "deny",
                "--article",
                "十七",
                "--format",
                "csv",
            ],
        ),
        Question("stats, default sections (table)", [*logs, "stats", directory]),
        Question(
            "export every record (csv): the worst case",
            [*logs, "query", directory, "--format", "csv"],
        ),
    ]
    signatures = ["--key", key] if key else []
    name = "verify: hash chains" + (" and checkpoint signatures" if key else "")
    found.append(Question(name, [*logs, "verify", directory, *signatures]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description="Time compliance questions on a decision log.")
    parser.add_argument("directory", type=Path, help="a log made by bench/decision_log_data.py")
    parser.add_argument("--repeat", type=int, default=3, help="runs per question (3)")
    parser.add_argument("--case", help="case id to look up (default: from the manifest)")
    parser.add_argument("--subject", help="subject id to look up (default: from the manifest)")
    parser.add_argument("--since", help="start of the subject's time range")
    parser.add_argument("--until", help="end of the subject's time range")
    parser.add_argument("--only", action="append", help="run only questions naming this word")
    parser.add_argument("--output", type=Path, help="JSON results (default: bench/results/…)")
    args = parser.parse_args()

    manifest_path = Path(f"{args.directory}.manifest.json")
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    )
    sample = dict(manifest.get("sample", {}))
    for key in ("case", "subject", "since", "until"):
        if getattr(args, key):
            sample[key] = getattr(args, key)
        if key not in sample:
            parser.error(f"no manifest at {manifest_path}: give --{key}")
    files = [p for p in args.directory.iterdir() if p.name.startswith("decisions-")]
    disk_mb = sum(p.stat().st_size for p in files) / 1e6
    records = int(manifest.get("records", 0))
    log_mb = int(manifest.get("uncompressed_bytes", 0)) / 1e6
    print(
        f"{args.directory}: {records:,} records, {log_mb:,.1f} MB uncompressed, "
        f"{disk_mb:,.1f} MB on disk in {len(files)} files; load average "
        f"{os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs",
        file=sys.stderr,
    )

    results: list[Result] = []
    for question in questions(str(args.directory), sample, manifest.get("key")):
        if args.only and not any(word in question.name for word in args.only):
            continue
        runs = [measure([*CLI, *question.argv]) for _ in range(args.repeat)]
        wall = statistics.median(r.wall_s for r in runs)
        startup = question.argv[-1] == "--help"
        result = Result(
            question=question.name,
            command="quanze " + shlex.join(question.argv),
            wall_s=wall,
            cpu_s=statistics.median(r.cpu_s for r in runs),
            peak_rss_mb=max(r.peak_rss_mb for r in runs),
            records_per_s=0.0 if startup else records / wall,
            mb_per_s=0.0 if startup else log_mb / wall,
            output_lines=runs[-1].output_lines,
            stderr=runs[-1].stderr,
            runs=runs,
        )
        results.append(result)
        failed = [r.exit_status for r in runs if r.exit_status]
        note = f"  EXIT {failed}" if failed else ""
        print(f"{question.name}: {wall:.2f} s, {result.peak_rss_mb:.1f} MB{note}", file=sys.stderr)

    print(_table(results))
    output = args.output or RESULTS_DIR / f"decision-log-queries-{int(time.time())}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "log": {**manifest, "disk_mb": disk_mb, "files_now": len(files)},
        "repeat": args.repeat,
        "results": [asdict(r) for r in results],
    }
    output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    print(f"results: {output}", file=sys.stderr)
    return 1 if any(r.exit_status for result in results for r in result.runs) else 0


def _table(results: list[Result]) -> str:
    rows = [
        "| question | wall s | CPU s | records/s | MB/s | peak RSS MB | output lines |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = f"{r.records_per_s:,.0f}" if r.records_per_s else "—"
        mbs = f"{r.mb_per_s:,.1f}" if r.mb_per_s else "—"
        rows.append(
            f"| {r.question} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {rate} | {mbs} | "
            f"{r.peak_rss_mb:.1f} | {r.output_lines:,} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
