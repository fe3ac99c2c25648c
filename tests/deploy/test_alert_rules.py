"""The Prometheus alert rules and the PromQL of docs/operations.md name metrics that exist.

There is no promtool here; these checks catch what breaks rules silently: a misspelt metric
name matches no series, and the alert never fires.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "quanze-alerts.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"
METRICS_SOURCE = ROOT / "server" / "quanze" / "server" / "metrics.py"
NAME = re.compile(r"\bquanze_[a-z_]+")
# What Prometheus's exposition adds to a family's name.
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _strings(source: str) -> set[str]:
    return set(re.findall(r'"[^"\n]*"', source))


def documented_families() -> set[str]:
    """The families of the metrics reference table in docs/operations.md."""
    rows = re.findall(r"^\| `(quanze_[a-z_]+)` \|", OPERATIONS.read_text(), flags=re.M)
    return {_family(name) for name in rows}


def rules() -> list[dict[str, object]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_reference_table_names_only_metrics_the_sidecar_defines() -> None:
    source = METRICS_SOURCE.read_text()
    families = documented_families()
    assert len(families) >= 15
    undefined = sorted(
        f for f in families if f'"{f}"' not in source and f'"{f}_total"' not in source
    )
    assert not undefined, f"in docs/operations.md but not in metrics.py: {undefined}"


@pytest.mark.parametrize("rule", rules(), ids=lambda r: str(r["alert"]))
def test_each_alert_is_complete_and_names_documented_metrics(rule: dict[str, object]) -> None:
    assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
    assert rule["labels"]["severity"] in {"critical", "warning"}  # type: ignore[index]
    assert rule["annotations"]["summary"]  # type: ignore[index]
    expr = str(rule["expr"])
    assert expr.count("(") == expr.count(")"), expr
    assert expr.count("[") == expr.count("]"), expr
    unknown = {n for n in NAME.findall(expr) if _family(n) not in documented_families()}
    assert not unknown, f"{rule['alert']}: no such metric {sorted(unknown)}"


def test_the_promql_examples_in_operations_name_documented_metrics() -> None:
    text = OPERATIONS.read_text()
    blocks = re.findall(r"```promql\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/operations.md has no ```promql examples"
    names = {n for block in blocks for n in NAME.findall(block)}
    unknown = sorted(n for n in names if _family(n) not in documented_families())
    assert not unknown, f"docs/operations.md PromQL names no such metric: {unknown}"
