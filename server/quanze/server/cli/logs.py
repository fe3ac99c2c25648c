"""`quanze logs …`: query, count and verify decision logs."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from quanze.server.cli import ExitCode, Subcommands, command_group, logs_ship
from quanze.server.cli.logs_db import source_options, store
from quanze.server.decisionlog import records
from quanze.server.decisionlog.query import RPCS, Filters, Match, ScanCounts, parse_time, scan
from quanze.server.decisionlog.reader import Progress, log_directory, progress_for
from quanze.server.decisionlog.records import LogFile
from quanze.server.decisionlog.render import Output, match_writer
from quanze.server.decisionlog.stats import DEFAULT_STATS, STATS_DIMENSIONS, Stats, write_stats
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.errors import QuanzeError, did_you_mean


def register(commands: Subcommands) -> None:
    logs = command_group(
        commands,
        "logs",
        help="query, count and verify decision logs",
        description="Read a decision-log directory: query records, count them, check integrity.",
        title="commands",
    )
    query_parser = _filter_command(
        logs, "query", help="list the decision records that match filters", description=_QUERY_HELP
    )
    query_parser.add_argument(
        "--format",
        choices=("table", "jsonl", "csv"),
        default="table",
        help="table (default, readable), jsonl (the records exactly as stored) or csv "
        "(the table's columns, full values)",
    )
    query_parser.add_argument(
        "--limit", type=_positive, metavar="N", help="stop after N matching records"
    )
    query_parser.set_defaults(run=_query)

    stats_parser = _filter_command(
        logs,
        "stats",
        help="count the matching decisions by action, role, decision, article, day …",
        description=_STATS_HELP,
    )
    stats_parser.add_argument(
        "--by",
        action="append",
        choices=STATS_DIMENSIONS,
        metavar="WHAT",
        help=f"count by WHAT: {', '.join(STATS_DIMENSIONS)} (repeatable; default "
        f"{' '.join(DEFAULT_STATS)})",
    )
    stats_parser.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )
    stats_parser.set_defaults(run=_stats)

    verify_parser = logs.add_parser(
        "verify",
        help="prove a decision log complete and untouched, or say where it is not",
        description=_VERIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source_options(verify_parser)
    _verification_options(verify_parser)
    _progress_option(verify_parser)
    verify_parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="default: text"
    )
    verify_parser.set_defaults(run=_verify)
    logs_ship.register(logs)
    # Imported here: it builds on this module's filter options.
    from quanze.server.cli import logs_report  # noqa: PLC0415

    logs_report.register(logs)


def _query(args: argparse.Namespace) -> int:
    """`quanze logs query`: print the matching records; OK whether or not any matched, FAILED
    when the hash chain of what was read breaks."""
    filters = _filters(args)
    counts = _scan_counts(args)
    out = Output(sys.stdout)
    emit = match_writer(args.format, out)
    matched = 0
    started = time.monotonic()
    try:
        with _matches(args, filters, counts, "quanze logs query", merge=True) as matches:
            for match in matches:
                emit(match)
                matched += 1
                if args.limit is not None and matched >= args.limit:
                    break
        emit(None)
    finally:
        out.flush()
    if args.format == "table":
        if matched:
            limited = (
                " (--limit reached)" if args.limit is not None and matched >= args.limit else ""
            )
            _warn(f"{matched:,} matching records{limited} in {time.monotonic() - started:.1f} s")
        else:
            _warn("no matching records")
    return _report_scan(counts, args)


def _stats(args: argparse.Namespace) -> int:
    """`quanze logs stats`: totals and counts of the matching answers; OK, or FAILED when the
    hash chain of what was read breaks."""
    filters = _filters(args)
    dimensions = tuple(dict.fromkeys(args.by or DEFAULT_STATS))
    counts = _scan_counts(args)
    with store(args) as conn:
        if conn is not None:
            from quanze.server.decisionlog.central_read import database_stats  # noqa: PLC0415

            stats = database_stats(conn, filters, dimensions, counts, sources=args.sources)
        else:
            stats = Stats(dimensions)
            with _matches(args, filters, counts, "quanze logs stats", merge=False) as matches:
                for match in matches:
                    stats.add(match)
    out = Output(sys.stdout)
    write_stats(out, stats, args.format)
    if args.format == "table" and not stats.records:
        _warn("no matching records")
    out.flush()
    return _report_scan(counts, args)


def _scan_counts(args: argparse.Namespace) -> ScanCounts:
    return ScanCounts() if args.check_chain else ScanCounts(breaks=None)


def _report_scan(counts: ScanCounts, args: argparse.Namespace) -> int:
    """What the scan skipped and how the chain held, on stderr; the exit status that says so."""
    for message in counts.report():
        _warn(message)
    if counts.breaks is None:
        verify = "--db URL" if args.directory is None else args.directory
        _warn(
            "WARNING: the hash chain was NOT checked (--no-check-chain): records changed, "
            "removed or inserted in the log would go unnoticed in these results; "
            f"`quanze logs verify {verify}` checks them"
        )
        return ExitCode.OK
    return ExitCode.FAILED if counts.breaks.count else ExitCode.OK


def _verify(args: argparse.Namespace) -> int:
    """`quanze logs verify`: OK when intact, FAILED when any problem was found."""
    key_file = Path(args.key) if args.key else None
    with store(args) as conn:
        if conn is not None:
            from quanze.server.decisionlog.central_verify import verify_database  # noqa: PLC0415

            report = verify_database(
                conn,
                key_file=key_file,
                anchors=args.anchors,
                progress=args.progress,
                sources=args.sources,
            )
        else:
            report = verify_directory(
                Path(args.directory),
                key_file=key_file,
                anchors=args.anchors,
                progress=args.progress,
            )
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(report.render() + "\n")
    return ExitCode.OK if report.ok else ExitCode.FAILED


_FILTER_HELP = """
Filters combine with AND; a filter given more than once matches any of its values (OR), e.g.
`--action a --action b`. Times are ISO 8601: a date alone is midnight UTC, a time without an
offset is UTC; --until is exclusive.

A ListAllowedActions record answers every catalog action at once (`result.allowed` lists the
allowed ones). With --action (or --decision-id <call id>#<action>) it gives one answer per asked
action, allowed iff listed; without, one answer for the whole call (action `*`, decision `list`)
that --decision, --reason, --article and --escalate do not match.
"""
_QUERY_HELP = (
    "List the decision records of a log directory (every stream, plain and gzip files), or of "
    "the central store (--db), that match the filters, in time order across streams.\n"
    + _FILTER_HELP
    + """
Formats: table (one row per answer; ids, revisions and long cells cut to fit; control and
bidirectional-formatting characters shown as escapes such as \\x1b and \\u202e), csv (the same
columns with full values, UTF-8) and jsonl (each matching record exactly as stored). --limit
counts records.

Each stream's hash chain is followed as it is read: where it breaks, stderr says where and the
exit status is 1 (`quanze logs verify` tells what happened there). --no-check-chain skips this,
with a warning.

examples:
  quanze logs query /var/log/quanze --case C2026-0042
  quanze logs query /var/log/quanze --subject p-zhang --since 2026-11-01 --until 2026-12-01
  quanze logs query /var/log/quanze --decision deny --article 十七 --format csv > denials.csv
  quanze logs query --db postgresql://quanze@db:5432/decisions --source pod-7f9c --case C2026-0042
"""
)
_STATS_HELP = (
    "Count the matching decisions of a log directory: totals (records, allowed, denied, "
    "escalated, the time range covered) and counts by action, role, decision, article and day, "
    "or what --by names.\n"
    + _FILTER_HELP
    + """
A record with several roles, reasons or articles counts once under each.

examples:
  quanze logs stats /var/log/quanze
  quanze logs stats /var/log/quanze --since 2026-11-01 --by reason --by revision --format json
  quanze logs stats --db postgresql://quanze@db:5432/decisions --since 2026-11-01
"""
)
_VERIFY_HELP = """\
Prove a decision-log directory complete and untouched, or say exactly where it is not.

Every stream's hash chain is followed through all its files (plain and gzip): a record that was
modified, deleted, inserted, reordered or cut off is reported as FILE:LINE: kind: message, and
the check goes on so that one run lists every problem. With --key the checkpoint signatures are
checked too (the Ed25519 public key, or the HMAC secret); without it they are not.

The last line gives the verdict. `intact: …` (exit status 0; notes such as a crash's partial
line are allowed) is the only one that passes; the others exit with status 1:

  TAMPERED     the log is not as its writer left it (the problems are listed)
  INCOMPLETE   records are missing, and only records the writer said it lost with a
               directory that was deleted or replaced while it served (`lost` lines)
  REOPENED     nothing is missing, but the writer found its file or directory deleted or
               replaced while it served and put back what it had written (`reopened` lines)
  UNVERIFIED   the chain is intact, but the log has signed checkpoints and no --key was given

For each stream whose chain holds an `anchor STREAM:SEQ:HASH` line names its last record: keep
it, and pass it with --anchor next time, so that records cut off the end of the log since then
are caught as well.

examples:
  quanze logs verify /var/log/quanze --key checkpoint.pub
  quanze logs verify /var/log/quanze --key checkpoint.pub --anchor w0:120345:3f5a…
  quanze logs verify /var/log/quanze --format json > verify.json
  quanze logs verify --db postgresql://quanze@db:5432/decisions --key checkpoint.pub

With --db the central store is verified instead, stream by stream, and held to more than files
are: each row's columns must say what its line says, and quanze.streams must agree with the
rows. Problems are located as <source>/<stream> seq N (shipped from FILE:LINE).
"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _filter_command(
    logs: Subcommands, name: str, *, help: str, description: str
) -> argparse.ArgumentParser:
    """A `quanze logs` command that reads a directory through the filters (query, stats)."""
    parser = logs.add_parser(
        name,
        help=help,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source_options(parser)
    _filter_options(parser)
    parser.add_argument(
        "--check-chain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow each stream's hash chain while reading, and fail (exit status 1) where it "
        "breaks (default); --no-check-chain skips that, with a warning",
    )
    _progress_option(parser)
    return parser


def _filter_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The filters of `query`, `stats` and `report`, and the catalog they may need; returns
    the repeatable ones (all but the period)."""
    group = parser.add_argument_group("filters")
    group.add_argument("--since", metavar="TIME", help="records at or after TIME")
    group.add_argument("--until", metavar="TIME", help="records before TIME (exclusive)")
    repeatable: list[tuple[tuple[str, ...], str, str, str]] = [
        (("--subject",), "subjects", "ID", "input.subject.id"),
        (("--role",), "roles", "ROLE", "input.subject.properties.role, or any of .roles"),
        (("--resource", "--case"), "resources", "ID", "input.resource.id (e.g. the case id)"),
        (
            ("--action",),
            "actions",
            "NAME",
            "input.action.name, or an action a ListAllowedActions call answered",
        ),
        (
            ("--article",),
            "articles",
            "ART",
            "an article cited by a reason, obligation or "
            "accountability entry, exactly as written (e.g. 十七)",
        ),
        (("--reason",), "reasons", "CODE", "a reason code"),
        (("--revision",), "revisions", "REV", "the policy revision, or its first characters"),
        (
            ("--decision-id",),
            "decision_ids",
            "ID",
            "a decision id, a ListAllowedActions call "
            "id, or one of its answer ids <call id>#<action>",
        ),
    ]
    named = [
        group.add_argument(*flags, dest=dest, metavar=metavar, action="append", help=help_text)
        for flags, dest, metavar, help_text in repeatable
    ]
    named.append(
        group.add_argument(
            "--decision", dest="decisions", action="append", choices=("allow", "deny")
        )
    )
    named.append(
        group.add_argument(
            "--escalate", dest="escalations", action="append", choices=("chief", "committee")
        )
    )
    named.append(group.add_argument("--rpc", dest="rpcs", action="append", choices=RPCS))
    parser.add_argument(
        "--policies",
        metavar="DIR",
        help="policies whose catalog ListAllowedActions calls answered (default: the bundled "
        "ones); only consulted with --action or an answer id",
    )
    return named


@contextlib.contextmanager
def _matches(
    args: argparse.Namespace, filters: Filters, counts: ScanCounts, label: str, *, merge: bool
) -> Iterator[Iterator[Match]]:
    """The matches of DIR or of the store, whichever the command was given."""
    with store(args) as conn:
        if conn is not None:
            from quanze.server.decisionlog.central_read import scan_database  # noqa: PLC0415

            yield scan_database(conn, filters, counts, merge=merge, sources=args.sources)
            return
    streams = _streams(args.directory)
    progress = _progress(streams, label, args.progress)
    try:
        yield scan(streams, filters, counts, progress, merge=merge)
    finally:
        progress.finish()


def _verification_options(parser: argparse.ArgumentParser) -> None:
    """--key and --anchor, for `verify` and for `report` (which verifies too)."""
    group = parser.add_argument_group("verification")
    group.add_argument(
        "--key",
        metavar="FILE",
        help="check checkpoint signatures with this Ed25519 public (or private) key or HMAC secret",
    )
    group.add_argument(
        "--anchor",
        metavar="STREAM:SEQ:HASH",
        action="append",
        default=[],
        dest="anchors",
        help="a record hash noted from an earlier run (its `anchor` lines); fail if that record "
        "is gone or changed (repeatable)",
    )


def _progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )


def _filters(args: argparse.Namespace) -> Filters:
    """The `Filters` the command-line options ask for; raises `QuanzeError` for bad values."""
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    if since is not None and until is not None and since >= until:
        raise QuanzeError(
            f"--since {args.since} is not before --until {args.until}: no record could match; "
            "swap them or widen the range"
        )
    actions = tuple(dict.fromkeys(args.actions or ()))
    ids = frozenset(args.decision_ids or ())
    catalog = None
    if actions or any("#" in i for i in ids):
        catalog = _catalog(args.policies, actions)
    return Filters(
        since=since,
        until=until,
        subjects=frozenset(args.subjects or ()),
        roles=frozenset(args.roles or ()),
        resources=frozenset(args.resources or ()),
        actions=actions,
        decisions=frozenset(args.decisions or ()),
        articles=frozenset(args.articles or ()),
        reasons=frozenset(args.reasons or ()),
        escalations=frozenset(args.escalations or ()),
        revisions=tuple(dict.fromkeys(args.revisions or ())),
        decision_ids=ids,
        rpcs=frozenset(args.rpcs or ()),
        catalog=catalog,
    )


def _catalog(policies: str | None, actions: Sequence[str]) -> frozenset[str] | None:
    """The action catalog ListAllowedActions calls answered; warns of asked actions not in it."""
    # Imported here: the policies (and their schema tooling) are only needed with --action.
    from quanze.server.policy.bundle import load_bundle  # noqa: PLC0415

    try:
        catalog = frozenset(load_bundle(Path(policies) if policies else None).actions)
    except QuanzeError as exc:
        if policies:
            raise QuanzeError(f"--policies {policies}: {exc}") from exc
        _warn(
            f"cannot read the bundled catalog ({exc}); ListAllowedActions calls are taken "
            "to answer every action asked about"
        )
        return None
    for action in actions:
        if action not in catalog:
            _warn(
                f"action {action!r} is not in the catalog{did_you_mean(action, sorted(catalog))} "
                "(only records that name it can match)"
            )
    return catalog


def _warn(message: str) -> None:
    print(f"quanze logs: {message}", file=sys.stderr)


def _streams(directory: str) -> dict[str, list[LogFile]]:
    streams = records.list_streams(log_directory(directory))
    if not streams:
        _warn(f"{directory} holds no decision-log files (decisions-<stream>-<n>-<time>.jsonl[.gz])")
    return streams


def _progress(streams: dict[str, list[LogFile]], label: str, enabled: bool | None) -> Progress:
    return progress_for([f for files in streams.values() for f in files], label, enabled)
