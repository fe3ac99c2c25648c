"""Rewrite the settings table in docs/configuration.md from the configuration dataclasses.

Usage: python scripts/config_reference.py    (a test fails when the table is out of date)
"""

from __future__ import annotations

from pathlib import Path

from quanze.server import config

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
EMPTY = '""'
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def table() -> str:
    """The Markdown table of every setting."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for key, env, default, doc in config.reference():
        if isinstance(default, tuple):
            shown = f"`{list(default)!r}`"
        elif isinstance(default, str):
            shown = f"`{default or EMPTY}`"
        else:
            shown = f"`{default!r}`"
        lines.append(f"| `{key}` | `{env}` | {shown} | {doc} |")
    return "\n".join(lines)


def render(text: str) -> str:
    """`text` with the region between the markers replaced by the current table."""
    return replace_region(text, BEGIN, END, table())


def replace_region(text: str, begin: str, end: str, body: str) -> str:
    """`text` with what stands between the markers `begin` and `end` replaced by `body`."""
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{body}\n{end}{tail}"


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
    print(f"updated {DOC}")
