"""The reloader's decisions, isolated with a scripted source, gate and workers.

Real git, real gates and real servers: tests/integration/test_policy_reload.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quanze.server.errors import QuanzeError, UnsignedRevisionError
from quanze.server.policy import reloader as reloader_module
from quanze.server.policy.candidate import Candidate, combine
from quanze.server.policy.reloader import (
    CACHED,
    GATED,
    CombinedGate,
    PolicyStatus,
    Reloader,
    Verdict,
)
from quanze.server.policy.verdicts import VerdictStore, build_identity


class ScriptedSource:
    description = "scripted"

    def __init__(self) -> None:
        self.next: Candidate | BaseException = candidate("r1")

    def poll(self) -> Candidate:
        if isinstance(self.next, BaseException):
            raise self.next
        return self.next


class RecordingWorker:
    def __init__(self) -> None:
        self.serving = ""
        self.prepare_problem = ""
        self.status = PolicyStatus()

    async def prepare(self, candidate: Candidate) -> str:
        return self.prepare_problem

    async def commit(self, revision: str) -> None:
        self.serving = revision

    async def abort(self, revision: str) -> None:
        pass

    async def publish(self, status: PolicyStatus) -> None:
        self.status = status


_SNAPSHOTS: list[Path] = []  # this test's folder of snapshots


@pytest.fixture(autouse=True)
def snapshots(tmp_path: Path) -> Iterator[Path]:
    _SNAPSHOTS.append(tmp_path / "snapshots")
    yield _SNAPSHOTS[-1]
    _SNAPSHOTS.pop()


def candidate(revision: str) -> Candidate:
    """A snapshot of one file whose content is the revision (the gate's verdicts key on it)."""
    path = _SNAPSHOTS[-1] / revision
    path.mkdir(parents=True, exist_ok=True)
    (path / "policy.rego").write_text(f"package revision_{revision}\n")
    return Candidate(revision, path, f"scripted {revision}")


class CountingGate:
    def __init__(self) -> None:
        self.verdicts: dict[str, str | BaseException] = {}
        self.calls: list[str] = []

    async def __call__(self, c: Candidate) -> str:
        self.calls.append(c.revision)
        verdict = self.verdicts.get(c.revision, "")
        if isinstance(verdict, BaseException):
            raise verdict
        return verdict


def reloader(
    source: ScriptedSource, workers: list[RecordingWorker], gate: CountingGate
) -> Reloader:
    return Reloader(source, workers, poll_interval_s=0.01, gate=CombinedGate(gate))


async def test_a_revision_serves_on_every_worker_only_when_all_prepared_it() -> None:
    source, gate = ScriptedSource(), CountingGate()
    workers = [RecordingWorker(), RecordingWorker()]
    workers[1].prepare_problem = "too many open files"
    subject = reloader(source, workers, gate)
    assert await subject.poll_once() is False
    assert [w.serving for w in workers] == ["", ""]
    assert workers[0].status.last_error == "too many open files"
    workers[1].prepare_problem = ""  # the passing cause is gone: retried, not gated again
    assert await subject.poll_once() is True
    assert [w.serving for w in workers] == ["r1", "r1"]
    assert gate.calls == ["r1"]
    assert workers[0].status.last_failed_revision == ""


async def test_a_revision_the_gate_refused_is_never_gated_again_but_a_timeout_is() -> None:
    source, gate = ScriptedSource(), CountingGate()
    worker = RecordingWorker()
    subject = reloader(source, [worker], gate)
    await subject.poll_once()
    source.next = candidate("r2")
    gate.verdicts["r2"] = "`quanze policy test` failed"
    for _ in range(3):
        assert await subject.poll_once() is False
    assert gate.calls == ["r1", "r2"]
    assert worker.serving == "r1"
    source.next = candidate("r3")
    gate.verdicts["r3"] = QuanzeError("did not finish within 600 s")
    assert await subject.poll_once() is False
    del gate.verdicts["r3"]
    assert await subject.poll_once() is True
    assert worker.serving == "r3"


async def test_an_unsigned_commit_is_admitted_once_its_key_is_allowed() -> None:
    source, gate = ScriptedSource(), CountingGate()
    worker = RecordingWorker()
    subject = reloader(source, [worker], gate)
    await subject.poll_once()
    source.next = UnsignedRevisionError("r2", "r2 is not signed by an allowed key")
    assert await subject.poll_once() is False
    assert worker.status.last_failed_revision == "r2"
    source.next = candidate("r2")  # the key was added to the allowed signers
    assert await subject.poll_once() is True
    assert worker.serving == "r2"


async def test_any_failure_to_read_the_source_keeps_serving_and_polling() -> None:
    source, gate = ScriptedSource(), CountingGate()
    worker = RecordingWorker()
    subject = reloader(source, [worker], gate)
    await subject.poll_once()
    source.next = OSError(28, "No space left on device")
    stop = asyncio.Event()
    polling = asyncio.create_task(subject.run(stop))
    await asyncio.sleep(0.05)
    assert "No space left on device" in worker.status.source_error
    source.next = candidate("r2")
    await asyncio.sleep(0.05)
    stop.set()
    await polling
    assert worker.serving == "r2"
    assert worker.status.source_error == ""


async def test_reloads_applied_and_refused_and_the_last_good_poll_are_kept_for_metrics() -> None:
    source, gate = ScriptedSource(), CountingGate()
    subject = reloader(source, [RecordingWorker()], gate)
    assert subject.polled_at is None
    started = time.time()
    await subject.poll_once()  # r1 serves
    source.next = candidate("r2")
    gate.verdicts["r2"] = "`quanze policy test` failed"
    await subject.poll_once()
    await subject.poll_once()  # the refused revision is not looked at again
    polled = subject.polled_at
    source.next = OSError(113, "No route to host")
    await subject.poll_once()  # a poll that did not reach the source
    assert (subject.reloads_applied, subject.reloads_refused) == (1, 1)
    assert polled is not None
    assert started <= polled <= time.time()
    assert subject.polled_at == polled


# ============================================= policies with a directory of their own


class CountingDirectoryGate:
    def __init__(self) -> None:
        self.verdicts: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, directory: Candidate, policies: Candidate) -> str:
        self.calls.append((policies.revision, directory.revision))
        return self.verdicts.get(directory.revision, "")


def pair(policies: str, directory: str) -> Candidate:
    return combine(candidate(policies), candidate(directory))


async def test_a_directory_change_is_gated_without_the_policy_tests() -> None:
    source, policy_gate, directory_gate = ScriptedSource(), CountingGate(), CountingDirectoryGate()
    worker = RecordingWorker()
    subject = Reloader(
        source,
        [worker],
        poll_interval_s=0.01,
        gate=CombinedGate(policy_gate, directory_gate),
    )
    source.next = pair("p1", "d1")
    assert await subject.poll_once() is True
    assert worker.serving == "p1+directory.d1"

    source.next = pair("p1", "d2")  # HR changed the directory
    directory_gate.verdicts["d2"] = "`quanze directory check` failed"
    assert await subject.poll_once() is False
    source.next = pair("p1", "d3")
    assert await subject.poll_once() is True

    assert policy_gate.calls == ["p1"]  # the policy tests ran once
    assert directory_gate.calls == [("p1", "d1"), ("p1", "d2"), ("p1", "d3")]
    assert worker.serving == "p1+directory.d3"
    assert worker.status.last_failed_revision == "p1+directory.d2"
    assert worker.status.last_error == "`quanze directory check` failed"


async def verdict_on(gate: CombinedGate, c: Candidate) -> str:
    """The problem the gate finds with `c` ("" when it may serve)."""
    return (await gate(c)).problem


async def test_new_policies_check_the_serving_directory_again() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    gate = CombinedGate(policy_gate, directory_gate)
    assert await verdict_on(gate, pair("p1", "d1")) == ""
    assert await verdict_on(gate, pair("p2", "d1")) == ""  # p2 may have changed the schema
    assert await verdict_on(gate, pair("p1", "d1")) == ""  # back again: both verdicts remembered
    assert policy_gate.calls == ["p1", "p2"]
    assert directory_gate.calls == [("p1", "d1"), ("p2", "d1")]


async def test_refused_policies_are_not_checked_with_the_directory() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    policy_gate.verdicts["p2"] = "`quanze policy test` failed"
    gate = CombinedGate(policy_gate, directory_gate)
    assert await verdict_on(gate, pair("p2", "d1")) == "`quanze policy test` failed"
    assert await verdict_on(gate, pair("p2", "d2")) == "`quanze policy test` failed"
    assert policy_gate.calls == ["p2"]
    assert directory_gate.calls == []


async def test_a_gate_without_a_verdict_is_asked_again_and_verdicts_are_bounded() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    policy_gate.verdicts["p1"] = QuanzeError("did not finish within 600 s")
    gate = CombinedGate(policy_gate, directory_gate, remembered=2)
    with pytest.raises(QuanzeError):
        await gate(pair("p1", "d1"))
    del policy_gate.verdicts["p1"]
    assert await verdict_on(gate, pair("p1", "d1")) == ""
    assert policy_gate.calls == ["p1", "p1"]
    await gate(pair("p2", "d1"))  # two verdicts kept, the latest used: p2's and (p2, d1)'s
    await gate(pair("p1", "d1"))
    assert policy_gate.calls == ["p1", "p1", "p2", "p1"]


async def test_without_a_directory_of_its_own_the_policy_gate_decides_alone() -> None:
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    gate = CombinedGate(policy_gate, directory_gate)
    assert await gate(candidate("r1")) == Verdict(how=GATED)
    assert await gate(candidate("r1")) == Verdict(how=GATED)
    assert policy_gate.calls == ["r1"]
    assert directory_gate.calls == []


async def test_without_a_policy_gate_nothing_is_gated_but_the_directory() -> None:
    directory_gate = CountingDirectoryGate()
    gate = CombinedGate(None, directory_gate)
    assert await gate(candidate("bundled")) == Verdict(how="")
    assert await gate(pair("bundled", "d1")) == Verdict(how=GATED)
    assert directory_gate.calls == [("bundled", "d1")]


# ============================================================ verdicts kept on disk


def store(tmp_path: Path) -> VerdictStore:
    return VerdictStore(tmp_path / "cache" / "verdicts")


async def test_a_pass_outlives_the_process_and_a_failure_does_not(tmp_path: Path) -> None:
    first_gate = CountingGate()
    first_gate.verdicts["r2"] = "`quanze policy test` failed"
    first = CombinedGate(first_gate, store=store(tmp_path))
    assert await first(candidate("r1")) == Verdict(how=GATED)
    assert (await first(candidate("r2"))).problem == "`quanze policy test` failed"

    restarted_gate = CountingGate()  # a restart: nothing in memory, the same cache
    restarted_gate.verdicts["r2"] = "`quanze policy test` failed"
    restarted = CombinedGate(restarted_gate, store=store(tmp_path))
    reused = await restarted(candidate("r1"))
    assert (reused.problem, reused.how) == ("", CACHED)
    assert reused.cached_at.startswith("20")
    assert (await restarted(candidate("r2"))).problem == "`quanze policy test` failed"
    assert restarted_gate.calls == ["r2"]  # r1's pass was kept; r2's failure was not


async def test_changed_files_settings_or_build_are_gated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"require_tests_pass": True}
    await CombinedGate(CountingGate(), store=store(tmp_path), settings=settings)(candidate("r1"))

    without_tests = CountingGate()
    await CombinedGate(
        without_tests, store=store(tmp_path), settings={"require_tests_pass": False}
    )(candidate("r1"))
    assert without_tests.calls == ["r1"]

    same = CountingGate()
    await CombinedGate(same, store=store(tmp_path), settings=settings)(candidate("r1"))
    assert same.calls == []

    changed = candidate("r1")
    (changed.path / "policy.rego").write_text("package edited_after_the_gate\n")
    edited = CountingGate()
    await CombinedGate(edited, store=store(tmp_path), settings=settings)(changed)
    assert edited.calls == ["r1"]

    newer = {**build_identity(), "quanze": "9.9.9"}
    monkeypatch.setattr(reloader_module, "build_identity", lambda: newer)
    upgraded = CountingGate()
    await CombinedGate(upgraded, store=store(tmp_path), settings=settings)(changed)
    assert upgraded.calls == ["r1"]


async def test_a_directory_pass_is_kept_by_the_pair_of_revisions(tmp_path: Path) -> None:
    await CombinedGate(CountingGate(), CountingDirectoryGate(), store=store(tmp_path))(
        pair("p1", "d1")
    )
    policy_gate, directory_gate = CountingGate(), CountingDirectoryGate()
    restarted = CombinedGate(policy_gate, directory_gate, store=store(tmp_path))
    assert (await restarted(pair("p1", "d1"))).how == CACHED
    first_cached = (await restarted(pair("p1", "d1"))).cached_at
    both_new = await restarted(pair("p1", "d2"))  # the policies' pass reused, d2 gated
    assert (both_new.problem, both_new.how) == ("", "policies cached")
    assert both_new.cached_at == first_cached
    assert (await restarted(pair("p2", "d1"))).how == GATED
    assert policy_gate.calls == ["p2"]
    assert directory_gate.calls == [("p1", "d2"), ("p2", "d1")]
    without_tests = CombinedGate(
        CountingGate(), CountingDirectoryGate(), store=store(tmp_path), settings={"tests": False}
    )  # the policies' gate differs, the directory check is the same
    assert (await without_tests(pair("p1", "d1"))).how == "directory cached"


async def test_the_status_says_which_revision_passed_on_a_kept_verdict(tmp_path: Path) -> None:
    source, worker = ScriptedSource(), RecordingWorker()
    first = Reloader(
        source,
        [worker],
        poll_interval_s=0.01,
        gate=CombinedGate(CountingGate(), store=store(tmp_path)),
    )
    assert await first.poll_once() is True
    assert (worker.status.active_gate, worker.status.active_gate_cached_at) == (GATED, "")

    restarted_gate = CountingGate()
    restarted = Reloader(
        source,
        [worker],
        poll_interval_s=0.01,
        gate=CombinedGate(restarted_gate, store=store(tmp_path)),
    )
    assert await restarted.poll_once() is True
    assert worker.serving == "r1"
    assert restarted_gate.calls == []
    assert worker.status.active_gate == CACHED
    assert worker.status.active_gate_cached_at <= worker.status.activated_at
    source.next = candidate("r2")
    assert await restarted.poll_once() is True
    assert (worker.status.active_gate, restarted_gate.calls) == (GATED, ["r2"])
