"""Pack a policy directory as an OPA-compatible bundle: a gzipped tarball with a `/.manifest`,
byte for byte the same for the same files.

Loading a bundle is `policy.bundle`'s job; this module writes them (`quanze policy bundle`).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanze.server.errors import QuanzeError
from quanze.server.policy.bundle import POLICY_SUFFIXES, content_revision
from quanze.server.policy.directory import BUNDLED_FILE, Directory
from quanze.server.policy.files import tree_files
from quanze.server.policy.testing import DECISION_TABLE, PACKAGE_LINE

# Fixed tar metadata: the same policies must give the same bytes.
_MTIME = 0
_FILE_MODE = 0o644


@dataclass(frozen=True)
class BundleFile:
    """One file to pack: its path inside the bundle (without the leading /) and bytes."""

    path: str
    content: bytes


def bundle_files(root: Path, *, include_tests: bool) -> list[BundleFile]:
    """The files of a policy directory that go into its bundle, sorted by path."""
    tests = DECISION_TABLE.as_posix() + "/"
    files: list[BundleFile] = []
    for path in tree_files(root):
        name = path.relative_to(root).as_posix()
        if not name.endswith(tuple(POLICY_SUFFIXES)):
            continue
        is_test = name.endswith("_test.rego") or name.startswith(tests)
        if is_test and not include_tests:
            continue
        files.append(BundleFile(name, path.read_bytes()))
    return files


def bundle_roots(files: Iterable[BundleFile]) -> list[str]:
    """The top-level data roots the bundle owns: first segments of packages and data paths."""
    roots: set[str] = set()
    for f in files:
        if f.path.endswith(".rego"):
            package = PACKAGE_LINE.search(f.content.decode("utf-8"))
            if package:
                roots.add(package.group(1).split(".")[0])
        elif f.path.endswith("data.json"):
            if "/" in f.path:
                roots.add(f.path.split("/")[0])
            else:  # a data.json at the top spreads its keys at the root of data
                roots.update(json.loads(f.content))
    return sorted(roots)


def packed_revision(files: Iterable[BundleFile]) -> str:
    """`content_revision` of exactly the packed files: what the sidecar reports once extracted."""
    with tempfile.TemporaryDirectory(prefix="quanze-bundle-") as staging:
        base = Path(staging)
        for f in files:
            target = base / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.content)
        return content_revision(base)


def write_bundle(files: Sequence[BundleFile], manifest: Mapping[str, Any]) -> bytes:
    """A gzipped tarball, OPA layout: `/.manifest` first, then the files at `/<path>`."""
    entries = [
        BundleFile(".manifest", (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()),
        *sorted(files, key=lambda f: f.path),
    ]
    raw = io.BytesIO()
    # mtime=0 and no file name keep the gzip header identical from run to run.
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=_MTIME, filename="") as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for entry in entries:
            info = tarfile.TarInfo("/" + entry.path)
            info.size = len(entry.content)
            info.mtime = _MTIME
            info.mode = _FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(entry.content))
    return raw.getvalue()


def with_directory(files: Sequence[BundleFile], directory: Directory) -> list[BundleFile]:
    """`files` with `directory` packed in place of the organisation directory they bundle."""
    document = json.dumps(directory.document, ensure_ascii=False, indent=1) + "\n"
    return sorted(
        [
            *(f for f in files if f.path != BUNDLED_FILE),
            BundleFile(BUNDLED_FILE, document.encode()),
        ],
        key=lambda f: f.path,
    )


def save_bundle(payload: bytes, output: Path) -> None:
    """Write a bundle to `output`, whole or not at all."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        partial.write_bytes(payload)
        partial.replace(output)  # readers never see half a bundle
    except OSError as exc:
        raise QuanzeError(f"cannot write the bundle {output}: {exc.strerror}") from exc
