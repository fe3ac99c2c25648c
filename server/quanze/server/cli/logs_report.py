"""`quanze logs report`: a compliance report of a decision log, as one HTML file."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from quanze.server import __version__
from quanze.server.cli import ExitCode, Subcommands
from quanze.server.cli.logs import (
    _FILTER_HELP,
    _filter_options,
    _filters,
    _progress_option,
    _verification_options,
    _warn,
)
from quanze.server.cli.logs_db import connected, database_url, source_options
from quanze.server.decisionlog import report
from quanze.server.decisionlog.report_data import About
from quanze.server.errors import QuanzeError


def register(logs: Subcommands) -> None:
    parser = logs.add_parser(
        "report",
        help="write a compliance report: one self-contained HTML file, charts and tables",
        description=_REPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source_options(parser)
    parser.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="the HTML file to write"
    )
    named_filters = _filter_options(parser)
    _verification_options(parser)
    _progress_option(parser)
    # The filters other than the period, as the report's header names them.
    parser.set_defaults(
        run=_report, filter_flags={a.dest: a.option_strings[0] for a in named_filters}
    )


def _report(args: argparse.Namespace) -> int:
    """`quanze logs report`: OK when written and the log verified intact; FAILED (the report
    still written) when it did not."""
    database = database_url(args)
    filters = _filters(args)
    about = About(
        source=report.redacted(database) if database else str(Path(args.directory).resolve()),
        since=filters.since,
        until=filters.until,
        filters=_filter_words(args),
        version=__version__,
        generated=datetime.now(UTC),
    )
    key_file = Path(args.key) if args.key else None
    if database:
        with connected(database) as conn:
            made = report.from_database(
                conn,
                filters,
                about,
                key_file=key_file,
                anchors=args.anchors,
                sources=args.sources,
                progress=args.progress,
            )
    else:
        made = report.from_directory(
            Path(args.directory),
            filters,
            about,
            key_file=key_file,
            anchors=args.anchors,
            progress=args.progress,
        )
    output = Path(args.output)
    partial = output.with_name(output.name + ".partial")
    try:
        # Whole or not at all: a scheduled run never leaves half a report where the last was.
        partial.write_text(made.html, encoding="utf-8")
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise QuanzeError(f"cannot write {output}: {exc.strerror}") from exc
    totals = made.data.stats
    _warn(
        f"wrote {output} ({len(made.html.encode()) / 1e3:,.0f} kB): {totals.records:,} records, "
        f"{totals.allowed:,} allowed, {totals.denied:,} denied; verification: {made.verify.verdict}"
    )
    return ExitCode.OK if made.verify.ok else ExitCode.FAILED


def _filter_words(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(
        f"{option} {value}"
        for dest, option in args.filter_flags.items()
        for value in getattr(args, dest) or ()
    )


_REPORT_HELP = (
    "Write a compliance report of a decision log: one HTML file that works offline (its "
    "charts, Chart.js, are inside it), in Chinese with English labels. It shows what log and "
    "period it covers, the verification verdict (as `quanze logs verify` gives it, with its "
    "anchors and problems), decisions over time, denials by article and role, escalations to "
    "the chief and the committee, decisions taken under a delegation (四十六), who answers for "
    "what, records lost or refused, and the most denied subjects and cases. Its numbers are "
    "those `quanze logs stats` gives for the same filters.\n"
    + _FILTER_HELP
    + """
The exit status is 0 when the report was written and the log verified intact, 1 (report still
written) when it did not, as for `quanze logs verify`.

examples:
  quanze logs report /var/log/quanze --key checkpoint.pub -o report.html
  quanze logs report /var/log/quanze --since 2026-11-01 --until 2026-12-01 -o november.html
  quanze logs report --db postgresql://auditor@db:5432/quanze --source pod-7f9c -o pod.html
"""
)
