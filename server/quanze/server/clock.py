"""Timestamps as Quanze writes them: in answers, status, logs and decision records."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC timestamp with microseconds, e.g. 2026-12-06T13:20:12.471799Z."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
