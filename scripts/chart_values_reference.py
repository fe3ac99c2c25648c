"""Rewrite the values table in helm/quanze/README.md from the comments in values.yaml.

Each value is documented by a `# -- text` comment (continued on `#` lines) right above its key,
the convention of helm-docs. A documented mapping is one row (e.g. `resources`); an
undocumented one is documented by its keys.

Usage: python -m scripts.chart_values_reference    (a test fails when the table is out of date)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from scripts.config_reference import replace_region

CHART = Path(__file__).resolve().parent.parent / "helm" / "quanze"
README = CHART / "README.md"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):")


def comments() -> dict[str, str]:
    """The `# --` text above each key of values.yaml, by dotted path."""
    docs: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in (CHART / "values.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[len("# --") :].strip()]
        elif stripped.startswith("#") and pending is not None:
            pending.append(stripped.lstrip("#").strip())
        elif match := _KEY.match(line):
            indent = len(match["indent"])
            stack = [(i, k) for i, k in stack if i < indent]
            stack.append((indent, match["key"]))
            if pending is not None:
                docs[".".join(k for _, k in stack)] = " ".join(pending)
            pending = None
        elif not stripped:
            pending = None
    return docs


def rows() -> list[tuple[str, str, str]]:
    """(value, default as JSON, description) for every documented value, in file order."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    table = []
    for path, doc in comments().items():
        default: Any = values
        for key in path.split("."):
            default = default[key]
        table.append((path, json.dumps(default, ensure_ascii=False), doc))
    return table


def undocumented() -> list[str]:
    """Values neither documented themselves nor inside a documented mapping."""
    documented = set(comments())
    missing = []

    def walk(node: Any, path: str) -> None:
        if path in documented:
            return
        if isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else key)
        else:
            missing.append(path)

    walk(yaml.safe_load((CHART / "values.yaml").read_text()), "")
    return missing


def table() -> str:
    lines = ["| value | default | meaning |", "|---|---|---|"]
    for path, default, doc in rows():
        cells = [f"`{path}`", f"`{default}`", doc]
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return "\n".join(lines)


def render(text: str) -> str:
    """`text` with the region between the markers replaced by the current table."""
    return replace_region(text, BEGIN, END, table())


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    print(f"updated {README}")
