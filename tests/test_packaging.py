"""The wheel ships every Python package of the source tree (not only the editable install)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
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


def test_the_wheel_carries_the_compliance_reports_page_and_chart_js(tmp_path: Path) -> None:
    """Built from a copy of the tree (the build writes beside its sources), offline."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for directory in tool["package-dir"].values():
        shutil.copytree(ROOT / directory, source / directory, ignore=ignore)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("quanze-*.whl")
    assets = ROOT / "server/quanze/server/decisionlog/report_assets"
    with zipfile.ZipFile(wheel) as packed:
        for asset in assets.iterdir():
            name = f"quanze/server/decisionlog/report_assets/{asset.name}"
            assert packed.read(name) == asset.read_bytes(), name
