"""Gate verdicts on disk: only an intact pass for exactly the key asked for counts.

Real files in a temp dir; the reloader's use of them: test_reloader.py and, with real
processes, tests/integration/test_verdict_cache.py.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quanze.server import __version__
from quanze.server.policy.verdicts import (
    VerdictStore,
    build_identity,
    file_name,
    snapshot_digest,
)

KEY = {
    "part": "policies",
    "policies": "1a2b3c",
    "settings": {"require_tests_pass": True},
    "files": {"policies": "d1g3st"},
    "build": {"quanze": "0.1.0"},
}
PASSED_AT = "2026-12-06T15:33:38.848354Z"


@pytest.fixture
def store(tmp_path: Path) -> VerdictStore:
    return VerdictStore(tmp_path / "cache" / "verdicts")


def kept(store: VerdictStore) -> Path:
    store.keep_pass(KEY, PASSED_AT)
    return store.directory / file_name(KEY)


def test_a_kept_pass_is_read_back_only_for_its_own_key(store: VerdictStore) -> None:
    assert store.passed_at(KEY) == ""
    path = kept(store)
    assert store.passed_at(KEY) == PASSED_AT
    for part, value in [
        ("policies", "4d5e6f"),
        ("settings", {"require_tests_pass": False}),
        ("files", {"policies": "another"}),
        ("build", {"quanze": "0.2.0"}),
    ]:
        assert store.passed_at({**KEY, part: value}) == "", part
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.directory.parent.stat().st_mode) == 0o700
    assert [p.name for p in store.directory.iterdir()] == [path.name]  # no temporary left


def rewrite(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        record = json.loads(path.read_text())
        change(record)
        path.write_text(json.dumps(record))

    return apply


def replace_with_link(path: Path) -> None:
    target = path.with_name("elsewhere.json")
    path.rename(target)
    path.symlink_to(target)


def replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": lambda path: path.write_bytes(b"\x00\xff not json"),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:40]),
    "empty": lambda path: path.write_bytes(b""),
    "a list": lambda path: path.write_text("[]"),
    "another revision's key": rewrite(lambda r: r["key"].update(policies="4d5e6f")),
    "another build's key": rewrite(lambda r: r["key"].update(build={"quanze": "0.0.9"})),
    "a failure": rewrite(lambda r: r.update(verdict="failed")),
    "no time": rewrite(lambda r: r.pop("passed_at")),
    "another format": rewrite(lambda r: r.update(format=2)),
    "readable by others": lambda path: path.chmod(0o644),
    "a symbolic link": replace_with_link,
    "a fifo": replace_with_fifo,
    "a directory": lambda path: (path.unlink(), path.mkdir()),
    "too large": lambda path: path.write_text(" " * 70_000 + path.read_text()),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_or_foreign_verdict_file_is_no_verdict(store: VerdictStore, damage: str) -> None:
    DAMAGE[damage](kept(store))
    assert store.passed_at(KEY) == ""


def test_a_verdict_of_another_account_is_no_verdict(
    store: VerdictStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept(store)
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 1)  # as if another user owned it
    assert store.passed_at(KEY) == ""


def test_a_folder_others_may_reach_keeps_and_gives_nothing(store: VerdictStore) -> None:
    kept(store)
    store.directory.chmod(0o755)
    assert store.passed_at(KEY) == ""
    other = {**KEY, "policies": "4d5e6f"}
    store.keep_pass(other, PASSED_AT)
    assert not (store.directory / file_name(other)).exists()


def test_a_verdict_that_cannot_be_written_is_only_a_warning(tmp_path: Path) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    store = VerdictStore(blocked / "verdicts")
    store.keep_pass(KEY, PASSED_AT)  # does not raise
    assert store.passed_at(KEY) == ""


def test_a_new_pass_replaces_the_old_one_whole(store: VerdictStore) -> None:
    kept(store)
    store.keep_pass(KEY, "2026-12-07T00:00:00Z")
    assert store.passed_at(KEY) == "2026-12-07T00:00:00Z"


def test_the_snapshot_digest_covers_names_and_bytes(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    (snapshot / "quanze").mkdir(parents=True)
    policy = snapshot / "quanze" / "a.rego"
    policy.write_text("package a\n")
    first = snapshot_digest(snapshot)
    assert snapshot_digest(snapshot) == first
    policy.write_text("package b\n")
    assert snapshot_digest(snapshot) != first
    policy.write_text("package a\n")
    assert snapshot_digest(snapshot) == first
    policy.rename(snapshot / "quanze" / "b.rego")
    assert snapshot_digest(snapshot) != first
    assert snapshot_digest(snapshot / "quanze" / "b.rego") != snapshot_digest(snapshot)


def test_the_build_names_quanze_its_code_and_its_engine() -> None:
    build = build_identity()
    assert build["quanze"] == __version__
    assert len(build["quanze_code"]) == 64
    assert build["gordon-to-regorus"] not in ("", "not installed")
    assert "python" in build
