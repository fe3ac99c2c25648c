"""Generate a realistic decision-log directory of a chosen size, for `decision_log_queries.py`.

The answers are real: every request of the shared decision table (and a ListAllowedActions call
per distinct subject/resource/context) is decided once by the bundled policies with the real
`Decider`. Records then draw from those answers with the subject and case ids renamed
consistently (request and answer alike) across a population of procurators and cases, fresh
decision ids and timestamps spread over `--days` days, and are written by the real
`StreamWriter` (several streams at once, rotation, gzip; fsync off for speed).

    python bench/decision_log_data.py --out /tmp/quanze-log --size-mb 300

`--size-mb` counts the bytes the writer writes (uncompressed); rotated files are gzipped, so
the directory is much smaller on disk. Checkpoints are signed with a fresh HMAC secret
(`<out>.hmac`). A manifest (`<out>.manifest.json`; both beside the directory) names ids and a
time range that queries can use, and what was written.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from quanze.server.clock import timestamp
from quanze.server.decisionlog import records
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from quanze.server.decisions import Decider
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table

Json = dict[str, Any]
END = datetime(2026, 11, 30, tzinfo=UTC)
BATCH_ITEMS = 10  # CheckBatch calls carry this many items
# Per call drawn (a batch call then yields BATCH_ITEMS records): about 11 % of the records end
# up CheckBatch items and 2.7 % ListAllowedActions calls.
SHARE_BATCH = 0.12
SHARE_LIST = 0.03


@dataclass(frozen=True)
class Template:
    """A decided request, serialised with its ids as placeholders for cheap renaming."""

    path: str
    role: str
    text: str
    """JSON of {"input", "result", "reasons", …} with {{SUBJECT}} and {{CASE}} placeholders."""


@dataclass(frozen=True)
class Templates:
    """Real answers by the subject's role, so each person keeps one role across records."""

    checks: dict[str, list[Template]]
    lists: dict[str, list[Template]]
    revision: str
    cases: int


def build_templates() -> Templates:
    """Check and ListAllowedActions templates from real decisions of the bundled policies."""
    bundle = load_bundle()
    decider = Decider(bundle, RegorusEngine(bundle))
    checks: dict[str, list[Template]] = {}
    lists: dict[str, list[Template]] = {}
    seen: set[str] = set()
    table = load_decision_table(bundle.root)
    for case in table:
        request = case.request
        answer = decider.check(request)
        check = _template("quanze/authz/decision", request, answer["decision"], answer)
        checks.setdefault(check.role, []).append(check)
        shared: Json = {k: request[k] for k in ("subject", "resource", "context") if k in request}
        key = json.dumps(shared, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        listed = decider.allowed_actions(shared)
        allowed = [action for action, each in listed if each["decision"]]
        calls = _template("quanze/authz/decisions", shared, {"allowed": allowed}, None)
        lists.setdefault(calls.role, []).append(calls)
    return Templates(checks, lists, bundle.revision, len(table))


def _template(path: str, request: Json, result: Any, answer: Json | None) -> Template:
    body: Json = {
        "input": request,
        "result": result,
        "reasons": answer["reasons"] if answer else [],
        "obligations": answer["obligations"] if answer else [],
        "escalate_to": answer["escalate_to"] if answer else "",
        "accountable": answer["accountable"] if answer else [],
    }
    text = records.dumps(body)
    role = str(request["subject"].get("properties", {}).get("role", ""))
    subject = str(request["subject"]["id"])
    resource = str(request["resource"]["id"])
    # Whole JSON strings only, so an id inside a longer string is left alone.
    text = text.replace(json.dumps(subject), '"{{SUBJECT}}"')
    text = text.replace(json.dumps(resource), '"{{CASE}}"')
    return Template(path, role, text)


class Population:
    """Who and what the records are about: people (each with one role) and cases, a few of
    them far busier than the rest (Zipf-like weights)."""

    def __init__(self, rng: random.Random, templates: Templates, subjects: int, cases: int) -> None:
        roles = sorted(templates.checks)
        # Roles in proportion to the decision table's cases.
        role_weights = [len(templates.checks[r]) for r in roles]
        self.subjects = [
            (f"u{n:05d}", rng.choices(roles, role_weights)[0]) for n in range(subjects)
        ]
        self.cases = [f"C2026-{n:06d}" for n in range(cases)]
        self._subject_cum = list(accumulate(1.0 / (1 + n) ** 0.6 for n in range(subjects)))
        self._case_cum = list(accumulate(1.0 / (1 + n) ** 0.4 for n in range(cases)))

    def pick(self, rng: random.Random) -> tuple[str, str, str]:
        """(subject id, its role, case id)."""
        subject, role = rng.choices(self.subjects, cum_weights=self._subject_cum)[0]
        case = rng.choices(self.cases, cum_weights=self._case_cum)[0]
        return subject, role, case


def records_for(
    rng: random.Random, templates: Templates, population: Population, stream: int
) -> Iterator[Json]:
    """An endless sequence of decision records of one worker (timestamps set by the caller)."""
    labels = {"id": f"quanze-{stream}", "version": "0.1.0"}
    every_list = [t for ts in templates.lists.values() for t in ts]
    revision = templates.revision
    while True:
        draw = rng.random()
        subject, role, case = population.pick(rng)
        checks = templates.checks[role]
        if draw < SHARE_LIST:
            template = rng.choice(templates.lists.get(role) or every_list)
            yield _record(
                rng, template, "ListAllowedActions", subject, case, revision=revision, labels=labels
            )
        elif draw < SHARE_LIST + SHARE_BATCH / BATCH_ITEMS:
            call = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for index in range(BATCH_ITEMS):
                template = rng.choice(checks)
                item = _record(
                    rng, template, "CheckBatch", subject, case, revision=revision, labels=labels
                )
                item["batch"] = {"index": index, "size": BATCH_ITEMS, "call_id": call}
                yield item
        else:
            yield _record(
                rng, rng.choice(checks), "Check", subject, case, revision=revision, labels=labels
            )


def _record(
    rng: random.Random,
    template: Template,
    rpc: str,
    subject: str,
    case: str,
    *,
    revision: str,
    labels: dict[str, str],
) -> Json:
    body: Json = json.loads(template.text.replace("{{SUBJECT}}", subject).replace("{{CASE}}", case))
    trace_id = f"{rng.getrandbits(128):032x}"
    record: Json = {
        "timestamp": "",
        "decision_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "rpc": rpc,
        "path": template.path,
        **body,
        "bundles": {"quanze": {"revision": revision}},
        "metrics": {
            "timer_rego_query_eval_ns": rng.randint(150_000, 2_500_000),
            "timer_server_handler_ns": rng.randint(250_000, 3_000_000),
        },
        "labels": labels,
        "caller": {
            "peer": f"ipv4:10.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}:"
            f"{rng.randint(30000, 60000)}",
            "certificate_subject": "CN=case-system.procuratorate.internal,O=Quanze",
        },
        "trace": {
            "traceparent": f"00-{trace_id}-{rng.getrandbits(64):016x}-01",
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        },
        "erased": [],
        "masked": [],
    }
    return record


def generate(args: argparse.Namespace) -> Json:
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        if not args.force:
            raise SystemExit(
                f"{out} is not empty; choose a new directory or pass --force to replace it"
            )
        shutil.rmtree(out)
    started = time.monotonic()
    templates = build_templates()
    decided_s = time.monotonic() - started
    rng = random.Random(args.seed)  # noqa: S311 - reproducible test data, not secrets
    population = Population(rng, templates, args.subjects, args.cases)
    settings = WriterSettings(
        fsync="none", max_file_bytes=args.max_file_mb * 1_000_000, checkpoint_records=10_000
    )
    # Checkpoints are signed, as in production, so `quanze logs verify --key` has work to do.
    key = Path(f"{out}.hmac")
    key.write_text(secrets.token_hex(32) + "\n")
    signer = records.load_signer(key)
    writers = [
        StreamWriter(out, settings=settings, signer=signer, labels={"id": f"quanze-{n}"})
        for n in range(args.streams)
    ]
    for writer in writers:
        writer.open()
    sources = [
        records_for(random.Random(args.seed + 1 + n), templates, population, n)  # noqa: S311
        for n in range(args.streams)
    ]
    target = args.size_mb * 1_000_000
    # Spread the target over the time range: estimate records from a sample's size.
    sample = [next(sources[0]) for _ in range(200)]
    per_record = sum(len(records.dumps(r)) for r in sample) / len(sample) + 150
    expected = target / per_record
    step = timedelta(days=args.days) * args.streams / expected
    clocks = [END - timedelta(days=args.days) + timedelta(seconds=n) for n in range(args.streams)]
    count = 0
    last_report = 0.0
    written = 0
    while written < target:
        for n, writer in enumerate(writers):
            batch = []
            for _ in range(args.batch):
                record = next(sources[n])
                clocks[n] += step * rng.uniform(0.5, 1.5)
                record["timestamp"] = timestamp(clocks[n])
                batch.append(record)
            writer.append(batch)
            count += len(batch)
        written = sum(w.bytes_written for w in writers)
        now = time.monotonic()
        if now - last_report >= 1.0:
            last_report = now
            rate = written / 1e6 / max(now - started - decided_s, 1e-9)
            print(
                f"\r{written / 1e6:8,.1f} of {args.size_mb:,} MB, {count:,} records, "
                f"{rate:5.1f} MB/s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    for writer in writers:
        writer.close()  # waits for the gzip threads
    elapsed = time.monotonic() - started
    print(file=sys.stderr)
    files = sorted(p for p in out.iterdir() if p.name.startswith("decisions-"))
    manifest: Json = {
        "directory": str(out),
        "records": count,
        "uncompressed_bytes": sum(w.bytes_written for w in writers),
        "disk_bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
        "gz_files": sum(p.suffix == ".gz" for p in files),
        "streams": args.streams,
        "first": timestamp(END - timedelta(days=args.days)),
        "last": timestamp(max(clocks)),
        "revision": templates.revision,
        "key": str(key),
        "table_cases": templates.cases,
        "list_templates": sum(len(t) for t in templates.lists.values()),
        "sample": {
            # The busiest subject and case of the population (Zipf rank 1), and a quieter one.
            "subject": population.subjects[0][0],
            "case": population.cases[0],
            "quiet_case": population.cases[len(population.cases) // 2],
            "since": timestamp(END - timedelta(days=min(args.days, 30))),
            "until": timestamp(END - timedelta(days=min(args.days, 30) // 2)),
        },
        "seconds": round(elapsed, 1),
        "decide_seconds": round(decided_s, 1),
        "command": " ".join(sys.argv),
    }
    Path(f"{out}.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="the log directory to create")
    parser.add_argument("--size-mb", type=int, default=300, help="uncompressed MB to write (300)")
    parser.add_argument("--streams", type=int, default=3, help="writers, one stream each (3)")
    parser.add_argument("--max-file-mb", type=int, default=32, help="rotate at this size (32)")
    parser.add_argument("--days", type=int, default=90, help="time range of the records (90)")
    parser.add_argument("--subjects", type=int, default=2_000, help="distinct subjects (2,000)")
    parser.add_argument("--cases", type=int, default=50_000, help="distinct cases (50,000)")
    parser.add_argument("--batch", type=int, default=64, help="records per write (64)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    manifest = generate(parser.parse_args())
    print(
        f"{manifest['records']:,} records, {manifest['uncompressed_bytes'] / 1e6:,.1f} MB written "
        f"({manifest['disk_bytes'] / 1e6:,.1f} MB on disk in {manifest['files']} files, "
        f"{manifest['gz_files']} gzipped) in {manifest['seconds']} s "
        f"(deciding the templates {manifest['decide_seconds']} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
