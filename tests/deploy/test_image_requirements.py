"""scripts/image_requirements.py: the part of the lock the image installs, and only that."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.image_requirements import ROOT, closure, normalize, read_lock, subset

LOCK = ROOT / "requirements" / "lock.txt"
PYPROJECT = ROOT / "pyproject.toml"


# Only what is installed: a `quanze.egg-info` that a build left in the checkout (on sys.path as
# the current directory) may describe another revision's pyproject.
_INSTALLED = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


def _requires(distribution: str) -> list[str]:
    (found, *_) = importlib.metadata.distributions(name=distribution, path=_INSTALLED)
    return list(found.requires or [])


def installed_closure(distribution: str) -> set[str]:
    """What `distribution` needs, without its own extras, read from the installed packages'
    metadata; the extras a requirement names (`psycopg[binary]`) are followed."""
    expanded: set[tuple[str, str]] = set()  # (distribution, extra) whose requirements are in
    pending = [(r, "") for r in _requires(distribution)]
    while pending:
        text, extra = pending.pop()
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = normalize(requirement.name)
        for wanted in ("", *requirement.extras):
            if (name, wanted) not in expanded:
                expanded.add((name, wanted))
                pending.extend((r, wanted) for r in _requires(requirement.name))
    return {name for name, _ in expanded}


def pinned_names(requirements: str) -> set[str]:
    return {normalize(line.split("==")[0]) for line in requirements.splitlines() if "==" in line}


def test_runtime_is_exactly_what_installed_quanze_requires() -> None:
    runtime = pinned_names(subset("runtime", LOCK, PYPROJECT))
    assert runtime == installed_closure("quanze")
    assert {"pytest", "mypy", "ruff", "hypothesis", "grpcio-tools"}.isdisjoint(runtime)


def test_every_pin_keeps_the_lock_s_version_and_all_its_hashes() -> None:
    lock = read_lock(LOCK.read_text())
    printed = read_lock(subset("runtime", LOCK, PYPROJECT))
    assert printed
    for name, pin in printed.items():
        assert pin.text == lock[name].text, name
        assert all(line.strip().startswith("--hash=sha256:") for line in pin.text[1:]), name
        assert len(pin.text) > 1, f"{name} has no hash"


def test_build_requirements_are_the_build_system_s() -> None:
    assert {"setuptools", "wheel"} <= pinned_names(subset("build", LOCK, PYPROJECT))


def test_closure_follows_via_annotations_and_ignores_the_rest() -> None:
    lock = read_lock(
        "a==1 \\\n    --hash=sha256:aa\n    # via quanze (pyproject.toml)\n"
        "b==2 \\\n    --hash=sha256:bb\n    # via\n    #   a\n    #   tool\n"
        "c==3 \\\n    --hash=sha256:cc\n    # via b\n"
        "tool==4 \\\n    --hash=sha256:dd\n    # via quanze (pyproject.toml)\n"
        "d==5 \\\n    --hash=sha256:ee\n    # via tool\n"
    )
    assert closure(lock, ["a"]) == ["a", "b", "c"]
    assert closure(lock, ["tool"]) == ["b", "c", "d", "tool"]


def test_a_dependency_missing_from_the_lock_is_named(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["grpcio>=1", "left-out>=2"]\n'
        '[build-system]\nrequires = ["setuptools"]\n'
    )
    with pytest.raises(LookupError, match=r"left-out: in pyproject\.toml but not in the lock"):
        subset("runtime", LOCK, pyproject)
    result = subprocess.run(
        [sys.executable, "scripts/image_requirements.py", "runtime", str(LOCK), str(pyproject)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert "regenerate requirements/lock.txt" in result.stderr
