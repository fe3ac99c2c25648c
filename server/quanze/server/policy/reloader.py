"""Hot reload: poll a policy source, gate each new revision, then switch every worker to it.

A new revision serves only after it compiles and — with `require_tests_pass` — its own Rego
tests and decision tables pass (`quanze policy check` and `quanze policy test`, run in a child
process so the gate never competes with serving for the GIL). Every worker then *prepares* it
(loads and compiles its own engine) and only when all have, every worker *commits* (one
assignment swaps the Decider), so the switch never leaves a worker without policies. Any failure
keeps the last good revision serving; the failure is kept in the status and logged.

With an organisation directory of its own source, a revision is a combination of the two
(`Candidate.policies`, `Candidate.directory`) and `CombinedGate` gates it part by part: the
policies' check and tests only for a policy revision not gated before, `quanze directory check`
for a pairing of policies and directory not gated before — so an HR change costs seconds, not
the policy test suite. With a `VerdictStore`, passes outlive the process: a restarted sidecar
whose source still points at a revision that passed serves it without gating it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from quanze.server.children import communicate_or_kill
from quanze.server.clock import timestamp
from quanze.server.errors import QuanzeError, UnsignedRevisionError
from quanze.server.policy.candidate import Candidate, PolicySource
from quanze.server.policy.verdicts import (
    Key,
    VerdictStore,
    build_identity,
    file_name,
    snapshot_digest,
)

log = structlog.get_logger("quanze.reloader")

_GATE_OUTPUT_LINES = 30
_GATE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PolicyStatus:
    """What serves and what was refused: for the Status RPC, `quanze status` and health."""

    source: str = ""
    active_revision: str = ""
    activated_at: str = ""
    last_failed_revision: str = ""
    last_failed_at: str = ""
    last_error: str = ""
    last_checked_at: str = ""
    source_error: str = ""
    active_gate: str = ""
    """How the active revision passed its gate: `Verdict.how`."""
    active_gate_cached_at: str = ""
    """With a pass reused from the cache: when the earliest reused pass was reached."""


GATED = "gated"
"""Every gate ran in this process."""
CACHED = "cached"
"""Every part's pass was kept on disk by an earlier run; no gate ran. When only one part of a
combination was, `how` names it: `policies cached` (the directory check ran here) or
`directory cached`."""


@dataclass(frozen=True)
class Verdict:
    """What the gates say of a candidate."""

    problem: str = ""
    """"" when it may serve, else why not."""
    how: str = GATED
    """GATED, CACHED, `<part> cached`, or "" when no gate applies (the bundled policies)."""
    cached_at: str = ""
    """With a pass reused from the cache: when the earliest reused pass was reached (RFC 3339)."""


class Worker(Protocol):
    """One serving worker, in this process or behind a pipe."""

    async def prepare(self, candidate: Candidate) -> str:
        """Load and compile `candidate`; "" when ready, else why not."""

    async def commit(self, revision: str) -> None:
        """Serve the prepared `revision` from now on."""

    async def abort(self, revision: str) -> None:
        """Forget a prepared `revision`."""

    async def publish(self, status: PolicyStatus) -> None:
        """Tell the worker the current status."""


Gate = Callable[[Candidate], Awaitable[str]]
"""Checks a candidate's policies: "" when they may serve, else why not."""
DirectoryGate = Callable[[Candidate, Candidate], Awaitable[str]]
"""Checks a directory candidate against a policies candidate: "" when it may serve."""
Gatekeeper = Callable[[Candidate], Awaitable[Verdict]]
"""Gives the verdict on a whole candidate (`CombinedGate`); raises `QuanzeError` for none."""


class Reloader:
    """Polls `source`; gates, prepares and commits each new revision on every worker."""

    def __init__(
        self,
        source: PolicySource,
        workers: Sequence[Worker],
        *,
        poll_interval_s: float,
        gate: Gatekeeper,
        polls: bool = True,
    ) -> None:
        self.source = source
        # A source that cannot change (the bundled policies) is read once, not polled.
        self.polls = polls
        self.workers = list(workers)
        self.poll_interval_s = poll_interval_s
        self._gate = gate
        self.status = PolicyStatus(source=source.description)
        # The gate's verdict on a revision never changes: a refused one is not looked at again
        # until the source moves (the gate remembers passes: a prepare that failed for a
        # passing reason, say a full disk, is retried at the next poll without a gate).
        self._refused_by_gate = ""
        # For metrics: revisions put into service and refused, and when the source last answered.
        self.reloads_applied = 0
        self.reloads_refused = 0
        self.polled_at: float | None = None

    async def follow(self, stop: asyncio.Event) -> None:
        """Read the source once, or — when it can change — poll it until `stop`."""
        if self.polls:
            await self.run(stop)
        else:
            await self.poll_once()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; the first poll happens at once. Never dies of an error."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                # The serving revision stays; the next poll tries again.
                log.exception("policy_reload_failed", source=self.source.description)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval_s)

    async def poll_once(self) -> bool:
        """One poll: True when a new revision was activated."""
        try:
            candidate = await asyncio.to_thread(self.source.poll)
        except UnsignedRevisionError as exc:
            # Checked again at every poll: allowing the key admits the same commit.
            if exc.revision != self.status.last_failed_revision:
                await self._failed(exc.revision, str(exc))
            self.polled_at = time.time()
            await self._set(last_checked_at=timestamp(), source_error="")
            return False
        except Exception as exc:  # any failure to read the source is a source error
            problem = str(exc) if isinstance(exc, QuanzeError) else f"{type(exc).__name__}: {exc}"
        else:
            self.polled_at = time.time()
            await self._set(last_checked_at=timestamp(), source_error="")
            if candidate.revision in (self.status.active_revision, self._refused_by_gate):
                return False
            return await self.activate(candidate)
        # The source is unreachable: the serving revision stays; this is not a revision.
        log.error("policy_source_failed", source=self.source.description, error=problem)
        await self._set(last_checked_at=timestamp(), source_error=problem)
        return False

    async def activate(self, candidate: Candidate) -> bool:
        """Gate `candidate`, prepare it everywhere, then commit it everywhere."""
        started = time.perf_counter()
        log.info("policy_revision_found", revision=candidate.revision, source=candidate.description)
        try:
            verdict = await self._gate(candidate)
        except QuanzeError as exc:
            # The gate could not give a verdict (e.g. it timed out): try again next poll.
            await self._failed(candidate.revision, str(exc))
            return False
        if verdict.problem:
            self._refused_by_gate = candidate.revision
            await self._failed(candidate.revision, verdict.problem)
            return False
        problems = await asyncio.gather(*(w.prepare(candidate) for w in self.workers))
        failed = [p for p in problems if p]
        if failed:
            await asyncio.gather(*(w.abort(candidate.revision) for w in self.workers))
            await self._failed(candidate.revision, failed[0])
            return False
        await asyncio.gather(*(w.commit(candidate.revision) for w in self.workers))
        self.reloads_applied += 1
        await self._set(
            active_revision=candidate.revision,
            activated_at=timestamp(),
            active_gate=verdict.how,
            active_gate_cached_at=verdict.cached_at,
            # A revision that now serves is no longer the failure to report.
            **(
                {"last_failed_revision": "", "last_failed_at": "", "last_error": ""}
                if self.status.last_failed_revision == candidate.revision
                else {}
            ),
        )
        log.info(
            "policy_revision_active",
            revision=candidate.revision,
            seconds=round(time.perf_counter() - started, 2),
            workers=len(self.workers),
            gate=verdict.how or "none",
            **({"gate_passed_at": verdict.cached_at} if verdict.cached_at else {}),
        )
        return True

    async def _failed(self, revision: str, error: str) -> None:
        self.reloads_refused += 1
        log.error(
            "policy_revision_refused",
            revision=revision,
            error=error,
            serving=self.status.active_revision or "nothing",
        )
        await self._set(last_failed_revision=revision, last_failed_at=timestamp(), last_error=error)

    async def _set(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)
        await asyncio.gather(*(w.publish(self.status) for w in self.workers))


def command_gate(require_tests_pass: bool) -> Gate:
    """The gate: `quanze policy check`, then `quanze policy test` when tests must pass."""

    async def gate(candidate: Candidate) -> str:
        commands = [["policy", "check", str(candidate.path)]]
        if require_tests_pass:
            commands.append(["policy", "test", str(candidate.path)])
        for command in commands:
            problem = await _run_command(command, candidate.revision, _GATE_TIMEOUT_S)
            if problem:
                return problem
        return ""

    return gate


async def directory_gate(directory: Candidate, policies: Candidate) -> str:
    """`quanze directory check` of the directory snapshot against the policies snapshot."""
    command = ["directory", "check", str(directory.path), "--policies", str(policies.path)]
    return await _run_command(command, directory.revision, _GATE_TIMEOUT_S)


class CombinedGate:
    """Gates a candidate part by part, remembering every verdict; with a `store`, on disk too.

    A policy verdict depends only on the policies, so it is kept by policy revision; a directory
    verdict depends on the policies it is checked against too (their schema, their catalog of
    actions), so it is kept by the pair. Every key also holds a digest of the files the gate
    read and the build that ran it (`build_identity`), and a policy key the gate's `settings`
    (e.g. `require_tests_pass`). `policies` None: the policies need no gate (the bundled ones).
    Passes go to the store, failures stay in memory (see `verdicts`); `remembered` bounds the
    verdicts kept in memory (oldest forgotten first).
    """

    def __init__(
        self,
        policies: Gate | None,
        directory: DirectoryGate = directory_gate,
        *,
        store: VerdictStore | None = None,
        settings: Mapping[str, object] | None = None,
        remembered: int = 64,
    ) -> None:
        self._policies = policies
        self._directory = directory
        self._store = store
        self._settings = dict(settings or {})
        self._remembered = remembered
        self._verdicts: OrderedDict[str, Verdict] = OrderedDict()

    async def __call__(self, candidate: Candidate) -> Verdict:
        directory = candidate.directory
        policies = candidate.policy_part
        verdict = Verdict(how="")
        if self._policies is not None:
            gate = self._policies
            verdict = await self._verdict(
                {"part": "policies", "policies": policies.revision, "settings": self._settings},
                {"policies": policies},
                lambda: gate(policies),
            )
        if directory is None or verdict.problem:
            return verdict
        return _together(
            verdict,
            await self._verdict(
                {
                    "part": "directory",
                    "policies": policies.revision,
                    "directory": directory.revision,
                },
                {"policies": policies, "directory": directory},
                lambda: self._directory(directory, policies),
            ),
        )

    async def _verdict(
        self,
        key: dict[str, object],
        snapshots: Mapping[str, Candidate],
        gate: Callable[[], Awaitable[str]],
    ) -> Verdict:
        """The verdict on `key`: from memory, from the store, or from `gate` (whose errors
        give no verdict)."""
        key = {**key, "files": await _digests(snapshots), "build": await _build()}
        name = file_name(key)
        part, revision = str(key["part"]), _revisions(key)
        if name in self._verdicts:
            self._verdicts.move_to_end(name)
            log.info("gate_verdict_reused", part=part, revision=revision, kept="memory")
            return self._verdicts[name]
        passed_at = await asyncio.to_thread(self._store.passed_at, key) if self._store else ""
        if passed_at:
            verdict = Verdict(how=CACHED, cached_at=passed_at)
            log.info(
                "gate_verdict_reused",
                part=part,
                revision=revision,
                kept="disk",
                passed_at=passed_at,
            )
        else:
            verdict = Verdict(problem=await gate())
            if not verdict.problem and self._store is not None:
                await asyncio.to_thread(self._store.keep_pass, key, timestamp())
        self._verdicts[name] = verdict
        while len(self._verdicts) > self._remembered:
            self._verdicts.popitem(last=False)
        return verdict


def _together(policies: Verdict, directory: Verdict) -> Verdict:
    """The verdict on a combination whose policies passed with `policies`."""
    if directory.problem or policies.how == "":
        return directory
    parts = (("policies", policies), ("directory", directory))
    cached = {part: verdict.cached_at for part, verdict in parts if verdict.how == CACHED}
    if not cached:
        return Verdict(how=GATED)
    how = CACHED if len(cached) == len(parts) else f"{next(iter(cached))} cached"
    return Verdict(how=how, cached_at=min(cached.values()))


async def _digests(snapshots: Mapping[str, Candidate]) -> dict[str, str]:
    """The digest of each snapshot's files; a snapshot that cannot be read gives no verdict."""
    digests = {}
    for name, candidate in snapshots.items():
        try:
            digests[name] = await asyncio.to_thread(snapshot_digest, candidate.path)
        except OSError as exc:
            raise QuanzeError(
                f"cannot read the snapshot {candidate.path}: {exc.strerror or exc}; it is "
                "exported again at the next poll if it is gone"
            ) from exc
    return digests


async def _build() -> dict[str, str]:
    return await asyncio.to_thread(build_identity)


def _revisions(key: Key) -> str:
    return "+".join(str(key[part]) for part in ("policies", "directory") if part in key)


async def _run_command(arguments: list[str], revision: str, timeout_s: float) -> str:
    """Run `quanze ARGS` in a child process: "" on success, else its last output lines.

    The child is killed if this is cancelled (shutdown) or takes longer than `timeout_s`, which
    raises `QuanzeError`: no verdict, so the revision is tried again later.
    """
    name = f"quanze {arguments[0]} {arguments[1]}"
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quanze.server.cli",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await communicate_or_kill(child, None, timeout_s)
    except TimeoutError as exc:
        raise QuanzeError(f"`{name}` did not finish within {timeout_s:.0f} s") from exc
    log.info(
        "gate_command_finished",
        command=name,
        revision=revision,
        exit=child.returncode,
        seconds=round(time.perf_counter() - started, 2),
    )
    if child.returncode == 0:
        return ""
    lines = output.decode(errors="replace").strip().splitlines()
    tail = "\n".join(lines[-_GATE_OUTPUT_LINES:])
    return f"`{name}` failed (exit {child.returncode}):\n{tail}"
