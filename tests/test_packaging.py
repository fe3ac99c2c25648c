"""The wheel ships every Python package of the source tree (not only the editable install)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_package_is_listed_for_the_wheel() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    found = set()
    for name, directory in tool["package-dir"].items():
        base = ROOT / directory
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            if "__pycache__" in relative.parts:
                continue
            found.add(".".join([name, *relative.parts]) if relative.parts else name)
    # Policy directories are data (package-data), not Python packages.
    found = {p for p in found if not p.startswith("quanze.policies.")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
