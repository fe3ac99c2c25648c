"""A restarted sidecar serves a revision that passed its gate without gating it again.

Real `quanze serve` processes following a real git repository in a temp dir, restarted on the
same `policies.cache_dir`. Whether the gate ran is read from what the sidecar does and says:
the `gate_command_finished` lines of its log (one per gate command it runs), the
`gate_verdict_reused` line, and `GetStatus.active_gate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from quanze.server import cli
from quanze.server.policy.verdicts import file_name
from quanze.v1 import decision_service_pb2 as pb
from tests.integration.load import Sidecar
from tests.integration.policy_repo import DirectoryRepo, PolicyRepo, git
from tests.integration.support import health_with_details, start, status, stop, wait_until
from tests.support import bundled_directory

pytestmark = pytest.mark.slow

WAIT = 180.0  # a gate and a compile on 2 busy cores


def wait_for(server: Sidecar, event: str, **fields: Any) -> dict[str, Any]:
    """The first log line of `event` with `fields`."""
    after = 0
    while True:
        found = server.wait_event(event, WAIT, after=after)
        if all(found.get(key) == value for key, value in fields.items()):
            return found
        after = next(i for i, seen in enumerate(server.events) if seen is found) + 1


def gate_runs(server: Sidecar) -> list[tuple[str, str]]:
    """(command, revision) of every gate command it ran so far."""
    return [
        (e["command"], e["revision"])
        for e in server.events
        if e.get("event") == "gate_command_finished"
    ]


def logged(server: Sidecar, event: str) -> list[dict[str, Any]]:
    return [e for e in server.events if e.get("event") == event]


@contextmanager
def serving(repo: PolicyRepo, cache: Path, *extra: str, workers: int = 1) -> Iterator[Sidecar]:
    """`quanze serve` following `repo` (poll 0.3 s, `policy check` as the gate) on `cache`."""
    with start(
        "--address", "127.0.0.1:0", "--workers", str(workers),
        "--policies", str(repo.remote), "--poll-interval", "0.3",
        "--set", f"policies.cache_dir={cache}",
        "--set", "policies.require_tests_pass=false",
        "--set", "server.shutdown_delay_seconds=0",
        *extra,
        cwd=cache.parent,
    ) as process:  # fmt: skip
        server = Sidecar(process)
        try:
            yield server
        finally:
            stop(process)
            server.reader.join(30)


def address_of(server: Sidecar) -> str:
    return str(server.wait_event("listening", WAIT)["address"])


@pytest.fixture
def repo(tmp_path: Path) -> PolicyRepo:
    return PolicyRepo(tmp_path / "repo")


def verdict_files(cache: Path) -> list[Path]:
    return sorted((cache / "verdicts").glob("*.json"))


def gated_once(repo: PolicyRepo, cache: Path) -> str:
    """Serve the branch's tip on `cache` until its gate passed; its revision."""
    revision = git("rev-parse", "HEAD", cwd=repo.work)
    with serving(repo, cache) as first:
        wait_for(first, "policy_revision_active", revision=revision, gate="gated")
    assert len(verdict_files(cache)) == 1
    return revision


def assert_serves_nothing(address: str) -> pb.GetStatusResponse:
    """The sidecar at `address` answers from no revision, and says so; its status."""
    shown = status(address)
    assert (shown.serving, shown.active_revision) == (False, "")
    health, _ = health_with_details(address)
    assert health == health_pb2.HealthCheckResponse.NOT_SERVING
    return shown


def test_a_restart_serves_at_once_what_passed_and_gates_only_a_new_revision(
    repo: PolicyRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    first = git("rev-parse", "HEAD", cwd=repo.work)
    with serving(repo, cache, workers=2) as cold:
        wait_for(cold, "policy_revision_active", revision=first, gate="gated")
        assert gate_runs(cold) == [("quanze policy check", first)]
    [kept] = verdict_files(cache)
    assert kept.stat().st_mode & 0o777 == 0o600
    assert (cache / "verdicts").stat().st_mode & 0o777 == 0o700

    with serving(repo, cache, workers=2) as warm:
        address = address_of(warm)
        reused = wait_for(warm, "gate_verdict_reused", revision=first, kept="disk")
        active = wait_for(warm, "policy_revision_active", revision=first, gate="cached")
        assert active["gate_passed_at"] == reused["passed_at"]
        assert gate_runs(warm) == []
        shown = status(address)
        assert (shown.active_revision, shown.active_gate) == (first, "cached")
        assert shown.active_gate_cached_at == reused["passed_at"]
        assert cli.main(["status", "--address", address]) == 0
        assert f"passed at {reused['passed_at']} in an earlier run" in capsys.readouterr().out

        repo.mark("assistant_duty", "r1")
        second = repo.commit("a new revision")
        wait_for(warm, "policy_revision_active", revision=second, gate="gated")
        assert gate_runs(warm) == [("quanze policy check", second)]
        shown = status(address)
        assert (shown.active_revision, shown.active_gate) == (second, "gated")
        assert shown.active_gate_cached_at == ""
    assert len(verdict_files(cache)) == 2


def test_a_damaged_verdict_or_one_from_another_build_is_gated_again(
    repo: PolicyRepo, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    revision = gated_once(repo, cache)
    [kept] = verdict_files(cache)
    record = json.loads(kept.read_text())

    kept.write_text(kept.read_text().replace('"passed"', '"pass3d"'))  # edited by hand
    with serving(repo, cache) as tampered:
        wait_for(tampered, "gate_verdict_ignored", file=str(kept))
        wait_for(tampered, "policy_revision_active", revision=revision, gate="gated")
        assert gate_runs(tampered) == [("quanze policy check", revision)]
    assert json.loads(kept.read_text()) != record  # a new pass replaced it

    # As an earlier Quanze would have kept it: the same revision and files, another build.
    for path in verdict_files(cache):
        path.unlink()
    record["key"]["build"]["quanze"] = "0.0.9"
    (cache / "verdicts" / file_name(record["key"])).write_text(json.dumps(record))
    (cache / "verdicts" / file_name(record["key"])).chmod(0o600)
    with serving(repo, cache) as upgraded:
        wait_for(upgraded, "policy_revision_active", revision=revision, gate="gated")
        assert gate_runs(upgraded) == [("quanze policy check", revision)]
        assert not logged(upgraded, "gate_verdict_reused")
    assert len(verdict_files(cache)) == 2  # the old build's, unused, and this build's


def test_a_refused_revision_is_never_served_from_the_cache(
    repo: PolicyRepo, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    good = git("rev-parse", "HEAD", cwd=repo.work)
    with serving(repo, cache) as first:
        wait_for(first, "policy_revision_active", revision=good)
        repo.break_syntax()
        broken = repo.commit("does not compile")
        wait_for(first, "policy_revision_refused", revision=broken)
    assert len(verdict_files(cache)) == 1  # the good revision's pass only

    # The branch still points at the broken commit: the restart gates it again, refuses it,
    # and serves nothing, although the good revision's pass is in the cache.
    with serving(repo, cache) as restarted:
        address = address_of(restarted)
        wait_for(restarted, "policy_revision_refused", revision=broken)
        assert gate_runs(restarted) == [("quanze policy check", broken)]
        assert assert_serves_nothing(address).last_failed_revision == broken
    assert not logged(restarted, "policy_revision_active")
    assert len(verdict_files(cache)) == 1


def test_a_restart_that_cannot_reach_the_repository_serves_nothing_from_the_cache(
    repo: PolicyRepo, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    gated_once(repo, cache)

    # The revision may have been reverted meanwhile: without the source's word, nothing serves.
    repo.remote.rename(repo.remote.with_name("moved.git"))
    with serving(repo, cache) as restarted:
        address = address_of(restarted)
        failed = wait_for(restarted, "policy_source_failed")
        assert str(repo.remote) in failed["error"]
        wait_until(lambda: status(address).source_error != "", "the status says why", WAIT)
        assert str(repo.remote) in assert_serves_nothing(address).source_error
    assert not logged(restarted, "policy_revision_found")
    assert not logged(restarted, "policy_revision_active")


def test_with_a_directory_source_a_restart_gates_neither_part_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    policies = PolicyRepo(tmp_path / "policies")
    directory = DirectoryRepo(tmp_path / "hr", bundled_directory())
    options = (
        "--directory", str(directory.remote),
        "--set", f"directory.subdir={DirectoryRepo.SUBDIR}",
        "--set", "directory.poll_interval_seconds=0.3",
    )  # fmt: skip
    revision = f"{git('rev-parse', 'HEAD', cwd=policies.work)}+directory.{directory.first}"
    with serving(policies, cache, *options) as cold:
        wait_for(cold, "policy_revision_active", revision=revision, gate="gated")
        assert [command for command, _ in gate_runs(cold)] == [
            "quanze policy check",
            "quanze directory check",
        ]
    with serving(policies, cache, *options) as warm:
        wait_for(warm, "policy_revision_active", revision=revision, gate="cached")
        assert gate_runs(warm) == []
        assert sorted(e["part"] for e in logged(warm, "gate_verdict_reused")) == [
            "directory",
            "policies",
        ]
