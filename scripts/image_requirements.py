"""Print the part of requirements/lock.txt that an installation needs, hashes and all.

Usage: python3 scripts/image_requirements.py {runtime|build} [LOCK] [PYPROJECT]

The lock pins the development tools too (it is compiled with `--extra=dev`); the container
image installs only what `quanze` runs on (`runtime`: the closure of [project].dependencies)
and builds its wheel with what [build-system].requires (`build`). The closure follows the
lock's own `# via` annotations, so every pin and hash printed is the lock's: nothing is
resolved again, nothing unpinned can slip in, and `pip install --require-hashes --no-deps -r`
of the output installs exactly those files. Standard library only: the image's build stage
runs it with a bare python3.11.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==\S+")
_NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass
class Pin:
    """One entry of the lock: its text (the pin and its hashes) and who requires it."""

    text: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Foo_Bar` is `foo-bar`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(text: str) -> dict[str, Pin]:
    """Every pin of a pip-compile lock, by normalized name, with its `# via` requirers."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for line in text.splitlines():
        pin = _PIN.match(line)
        if pin:
            current = pins.setdefault(normalize(pin["name"]), Pin())
            current.text.append(line)
            in_via = False
            continue
        stripped = line.strip()
        if current is None or not stripped:
            current = None if not stripped else current
            continue
        if stripped.startswith("--hash="):
            current.text.append(line)
        elif stripped.startswith("# via"):
            rest = stripped[len("# via") :].strip()
            in_via = not rest  # `# via` alone: the requirers follow, one `#   name` a line
            if rest:
                current.via.add(_requirer(rest))
        elif in_via and stripped.startswith("#"):
            current.via.add(_requirer(stripped.lstrip("#")))
        else:
            in_via = False
    return pins


def _requirer(text: str) -> str:
    """`quanze (pyproject.toml)` is the project itself; anything else is a pinned name."""
    name = _NAME.match(text)
    return normalize(name["name"]) if name else ""


def requirement_names(requirements: list[str]) -> list[str]:
    """The distribution names of PEP 508 requirements (`grpcio>=1.85` is `grpcio`)."""
    names = []
    for requirement in requirements:
        name = _NAME.match(requirement)
        if not name:
            raise ValueError(f"cannot read the requirement {requirement!r}")
        names.append(normalize(name["name"]))
    return names


def closure(pins: dict[str, Pin], wanted: list[str]) -> list[str]:
    """`wanted` and everything the lock says they require, sorted; every name must be pinned."""
    missing = sorted(set(wanted) - set(pins))
    if missing:
        raise LookupError(
            f"{', '.join(missing)}: in pyproject.toml but not in the lock; regenerate "
            "requirements/lock.txt with the pip-compile command in its header"
        )
    needed = set(wanted)
    grew = True
    while grew:
        grew = False
        for name, pin in pins.items():
            if name not in needed and pin.via & needed:
                needed.add(name)
                grew = True
    return sorted(needed)


def subset(kind: str, lock: Path, pyproject: Path) -> str:
    """The lock's entries for `kind` (`runtime` or `build`), as a hashed requirements file."""
    project = tomllib.loads(pyproject.read_text())
    if kind == "runtime":
        wanted = requirement_names(project["project"]["dependencies"])
    elif kind == "build":
        wanted = requirement_names(project["build-system"]["requires"])
    else:
        raise ValueError(f"{kind!r}: give runtime or build")
    pins = read_lock(lock.read_text())
    chosen = closure(pins, wanted)
    header = f"# {kind} requirements of quanze, from {lock.name} by scripts/image_requirements.py"
    return "\n".join([header, *("\n".join(pins[name].text) for name in chosen)]) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2, 3) or argv[0] not in ("runtime", "build"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    lock = Path(argv[1]) if len(argv) > 1 else ROOT / "requirements" / "lock.txt"
    pyproject = Path(argv[2]) if len(argv) > 2 else ROOT / "pyproject.toml"
    try:
        sys.stdout.write(subset(argv[0], lock, pyproject))
    except (OSError, LookupError, ValueError) as exc:
        print(f"image_requirements: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
