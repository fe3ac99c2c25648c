"""`quanze logs report`: one self-contained HTML file a compliance officer opens in a browser.

The page asks for nothing over the network: its style, its script, Chart.js (vendored in
`report_assets`, see VENDORED.md) and the data are all inside it, and its Content Security
Policy forbids every fetch and every script but those it names by hash. Nothing from a record
is ever written into the HTML: the data sits in a `<script type="application/json">` block
(with `<`, `>` and `&` escaped, so no value can end it) and the page's script builds the DOM
from it with `textContent`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanze.server.decisionlog import records
from quanze.server.decisionlog.losses import Losses, losses_in_database, losses_in_files
from quanze.server.decisionlog.query import Filters, Match, ScanCounts, scan
from quanze.server.decisionlog.reader import log_directory, progress_for
from quanze.server.decisionlog.report_data import About, ReportData
from quanze.server.decisionlog.verify import verify_directory
from quanze.server.decisionlog.verify_report import VerifyReport
from quanze.server.errors import QuanzeError

if TYPE_CHECKING:
    import psycopg

_ASSETS = "report_assets"
_CHART = "chart.umd.min.js"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass
class Report:
    """A report made: the page, and what it says."""

    html: str
    verify: VerifyReport
    data: ReportData


def build(matches: Iterable[Match], verify: VerifyReport, losses: Losses, about: About) -> Report:
    """The report on `matches` (from any source), verified as `verify` says."""
    data = ReportData()
    for match in matches:
        data.add(match)
    return Report(render_html(data.document(about, verify, losses)), verify, data)


def from_directory(
    directory: Path,
    filters: Filters,
    about: About,
    *,
    key_file: Path | None = None,
    anchors: Sequence[str] = (),
    progress: bool | None = None,
) -> Report:
    """The report on a log directory; raises `QuanzeError` if it cannot be read."""
    streams = records.list_streams(log_directory(directory))
    verify = verify_directory(directory, key_file=key_file, anchors=anchors, progress=progress)
    shown = progress_for([f for files in streams.values() for f in files], "reading", progress)
    try:
        # The chain is verify's to judge (its verdict is in the report): not followed twice.
        matches = scan(streams, filters, ScanCounts(breaks=None), shown, merge=False)
        losses = losses_in_files(streams, filters.since, filters.until)
        return build(matches, verify, losses, about)
    finally:
        shown.finish()


def from_database(
    conn: psycopg.Connection,
    filters: Filters,
    about: About,
    *,
    key_file: Path | None = None,
    anchors: Sequence[str] = (),
    sources: Sequence[str] = (),
    progress: bool | None = None,
) -> Report:
    """The report on the central store `conn` reads (of `sources` only, if given). Called on an
    idle connection, it reads one snapshot: verify opens it, losses and matches read in it."""
    # Imported here: psycopg takes ~0.1 s to load, which a report of files should not pay.
    from quanze.server.decisionlog import central_read, central_verify  # noqa: PLC0415

    verify = central_verify.verify_database(
        conn, key_file=key_file, anchors=anchors, progress=progress, sources=sources
    )
    losses = losses_in_database(conn, sources, filters.since, filters.until)
    matches = central_read.scan_database(
        conn, filters, ScanCounts(breaks=None), merge=False, sources=sources
    )
    return build(matches, verify, losses, about)


def redacted(url: str) -> str:
    """The database a URL (or libpq connection string) names, fit to print: no password."""
    # Imported here: psycopg takes ~0.1 s to load, which no other command should pay.
    import psycopg  # noqa: PLC0415
    from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: PLC0415

    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(a database URL that cannot be read)"
    parts.pop("password", None)
    return make_conninfo("", **parts)


def render_html(document: dict[str, Any]) -> str:
    """The report page for `document` (`ReportData.document`)."""
    scripts = [_chart_js(), _asset("report.js")]
    for script in scripts:
        if "</script" in script.lower():
            raise QuanzeError("a report script contains '</script' and cannot be embedded")
    hashes = " ".join(f"'sha256-{_digest(s)}'" for s in scripts)
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    data = (
        json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        .replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
    )
    parts = {
        "csp": policy,
        "style": _asset("report.css"),
        "data": data,
        "chart_js": scripts[0],
        "report_js": scripts[1],
    }
    # One pass: nothing put in is searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m[1]], _asset("report.html"))


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(_ASSETS, name).read_text(encoding="utf-8")


def _chart_js() -> str:
    """Chart.js as vendored, without its source-map comment (the page must fetch nothing)."""
    text = _asset(_CHART).rstrip("\n")
    head, _, last = text.rpartition("\n")
    return head if last.startswith("//# sourceMappingURL=") else text


def _digest(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
