"""Composition root: builds the sidecar's parts from its configuration.

The policies (and organisation directory) the configuration names, a `Decider` over them, the
decision log and the reloader that follows the policy source. `workers` runs them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path

from quanze.server import __version__
from quanze.server.config import Config
from quanze.server.decider_thread import DeciderSteps, DeciderThread
from quanze.server.decisionlog import records
from quanze.server.decisionlog.mask import Masker
from quanze.server.decisionlog.sink import DecisionLog
from quanze.server.decisionlog.writer import StreamWriter, WriterSettings
from quanze.server.decisions import Decider
from quanze.server.engine.base import DecisionEngine, EngineFactory
from quanze.server.engine.regorus_engine import RegorusEngine, compile_elsewhere
from quanze.server.policy.bundle import PolicyBundle, load_bundle
from quanze.server.policy.cache import cache_root
from quanze.server.policy.candidate import Candidate, PolicySource
from quanze.server.policy.directory import Directory, read_directory
from quanze.server.policy.git_location import is_git_location
from quanze.server.policy.reloader import CombinedGate, Reloader, Worker, command_gate
from quanze.server.policy.routing import Routes
from quanze.server.policy.source import BundledSource, CombinedSource, open_source
from quanze.server.policy.verdicts import VerdictStore
from quanze.server.validation import RequestValidator


def default_engine_factory(config: Config) -> EngineFactory:
    """The engine the configuration asks for."""
    engine = config.engine
    if engine.kind == "opa":
        # Imported only when asked for: it brings an HTTP client stack (~0.2 s to import).
        from quanze.server.engine.opa_engine import OpaEngine  # noqa: PLC0415

        return lambda bundle: OpaEngine(
            engine.opa_url, path=engine.opa_path, timeout_s=engine.timeout_ms / 1000
        )
    return lambda bundle: RegorusEngine(bundle, fast_path=engine.fast_path)


def policy_source(config: Config) -> PolicySource:
    """Where the configured policies come from: bundled, a directory or a git repository."""
    policies = config.policies
    return open_source(
        path=policies.path,
        branch=policies.branch,
        subdir=policies.subdir,
        cache_dir=policies.cache_dir,
        git_timeout_seconds=policies.git_timeout_seconds,
        require_signed_commits=policies.require_signed_commits,
        allowed_signers_file=policies.allowed_signers_file,
        gpg_home=policies.gpg_home,
    )


def directory_source(config: Config) -> PolicySource | None:
    """Where the configured organisation directory comes from; None: the policies' own example."""
    directory = config.directory
    if not directory.path:
        return None
    return open_source(
        section="directory",
        path=directory.path,
        branch=directory.branch,
        subdir=directory.subdir,
        cache_dir=config.policies.cache_dir,
        git_timeout_seconds=config.policies.git_timeout_seconds,
        require_signed_commits=directory.require_signed_commits,
        allowed_signers_file=directory.allowed_signers_file,
        gpg_home=directory.gpg_home,
    )


def load_policies(config: Config) -> PolicyBundle:
    """The configured policies' current revision, read once (any thread may do this).

    A directory is read in place: snapshots are for a sidecar that follows it, not for a
    one-shot command. A git repository has to be fetched and exported either way. So is the
    organisation directory, when one is configured.
    """
    path = config.policies.path
    directory = load_directory(config)
    if not path or not is_git_location(path):
        return load_bundle(Path(path) if path else None, directory=directory)
    candidate = policy_source(config).poll()
    return load_bundle(candidate.path, revision=candidate.revision, directory=directory)


def load_directory(config: Config) -> Directory | None:
    """The configured organisation directory, read once; None for the policies' own example."""
    path = config.directory.path
    if path and not is_git_location(path):
        return read_directory(Path(path))
    source = directory_source(config)
    return None if source is None else candidate_directory(source.poll())


def candidate_directory(candidate: Candidate) -> Directory:
    """The directory `candidate` holds, named by the candidate's revision (git: its commit)."""
    return read_directory(candidate.path, revision=candidate.revision)


def load_candidate(candidate: Candidate) -> PolicyBundle:
    """What `candidate` serves: its policies, with its organisation directory if it has one.

    The bundle's revision is the candidate's, the combination's included.
    """
    if candidate.directory is None:
        return load_bundle(candidate.path, revision=candidate.revision)
    policies = candidate.policy_part
    directory = candidate_directory(candidate.directory)
    return load_bundle(policies.path, revision=policies.revision, directory=directory)


def build_decider(
    config: Config,
    engine_factory: EngineFactory | None = None,
    bundle: PolicyBundle | None = None,
) -> Decider:
    """Build a `Decider` whose engine belongs to the calling thread."""
    bundle = bundle or load_policies(config)
    engine = (engine_factory or default_engine_factory(config))(bundle)
    return _decider(config, bundle, engine)


async def prepare_decider(
    config: Config,
    engine_factory: EngineFactory | None,
    bundle: PolicyBundle,
    deciders: DeciderThread,
    revision: str,
) -> None:
    """Build `bundle`'s Decider on `deciders`' thread, for `commit` as `revision`.

    While a revision serves, what takes long happens elsewhere first: the RVM program compiles
    in a child process (regorus holds the GIL throughout, which would stall the thread and the
    event loop alike) and the request validator on another thread (pure Python, which lets the
    GIL go every few milliseconds). What must happen on the thread that will use the engine is
    done there in short steps, calls being decided between them. The first revision, with
    nothing to hold up, and another engine (the configured OPA, a test's factory) are built
    there at once.
    """
    validator, compiled = None, None
    if deciders.serving and engine_factory is None and config.engine.kind == "regorus":
        validator, compiled = await asyncio.gather(
            asyncio.to_thread(RequestValidator, bundle.schema, bundle.actions),
            compile_elsewhere(bundle),
        )
    await deciders.prepare(
        revision,
        lambda: decider_steps(
            config, engine_factory, bundle, validator=validator, compiled=compiled
        ),
    )


def decider_steps(
    config: Config,
    engine_factory: EngineFactory | None,
    bundle: PolicyBundle,
    *,
    validator: RequestValidator | None = None,
    compiled: tuple[bytes, Routes] | None = None,
) -> DeciderSteps:
    """`build_decider` in short steps, each one call into regorus (a generator returning it).

    `compiled` is the RVM program and routes made elsewhere; without them, compiling is one
    step, and so is planning the routes.
    """
    if engine_factory is not None or config.engine.kind != "regorus":
        return build_decider(config, engine_factory, bundle)
    program, routes = compiled if compiled else (None, None)
    engine, steps = RegorusEngine.in_steps(
        bundle, fast_path=config.engine.fast_path, program=program, routes=routes
    )
    yield from steps
    return _decider(config, bundle, engine, validator)


def _decider(
    config: Config,
    bundle: PolicyBundle,
    engine: DecisionEngine,
    validator: RequestValidator | None = None,
) -> Decider:
    return Decider(
        bundle,
        engine,
        timeout_ms=config.engine.timeout_ms,
        list_timeout_ms=config.engine.list_timeout_ms,
        wall_timeout_ms=config.engine.wall_timeout_ms,
        max_batch_items=config.server.max_batch_items,
        masker=Masker(bundle) if config.decision_log.directory else None,
        validator=validator,
    )


def build_decision_log(config: Config) -> DecisionLog | None:
    """The configured decision log (not yet started), or None when logging is off."""
    settings = config.decision_log
    if not settings.directory:
        return None
    writer = StreamWriter(
        Path(settings.directory),
        settings=WriterSettings(
            fsync=settings.fsync,
            fsync_interval_s=settings.fsync_interval_ms / 1000.0,
            max_file_bytes=settings.max_file_bytes,
            max_file_age_s=settings.max_file_age_seconds,
            retention_files=settings.retention_files,
            retention_days=settings.retention_days,
            compress=settings.compress,
            checkpoint_records=settings.checkpoint_records,
            checkpoint_interval_s=settings.checkpoint_interval_seconds,
            file_mode=settings.file_mode_bits(),
            wait_for_shipping=settings.waits_for_shipping,
        ),
        signer=records.load_signer(
            Path(settings.signing_key_file) if settings.signing_key_file else None
        ),
        labels={"id": str(uuid.uuid4()), "version": __version__},
    )
    return DecisionLog(writer, mode=settings.mode, buffer_records=settings.buffer_records)


def build_reloader(config: Config, workers: Sequence[Worker]) -> Reloader:
    """The reloader for the configured policy source, serving `workers`.

    Verdicts are kept in `policies.cache_dir/verdicts`, so a restart gates only what is new.
    With an organisation directory of its own, it follows both sources as one: each at its
    own poll interval, each part gated only when it is new (`CombinedGate`).
    """
    policies = config.policies
    source = policy_source(config)
    bundled = isinstance(source, BundledSource)
    gate = CombinedGate(
        None if bundled else command_gate(policies.require_tests_pass),
        store=VerdictStore(cache_root(policies.cache_dir) / "verdicts"),
        settings={"require_tests_pass": policies.require_tests_pass},
    )
    directory = directory_source(config)
    if directory is None:
        return Reloader(
            source,
            workers,
            poll_interval_s=policies.poll_interval_seconds,
            gate=gate,
            polls=not bundled,
        )
    # The bundled policies never change: only the directory's interval counts then.
    intervals = (
        config.directory.poll_interval_seconds if bundled else policies.poll_interval_seconds,
        config.directory.poll_interval_seconds,
    )
    return Reloader(
        CombinedSource(source, directory, intervals=intervals),
        workers,
        poll_interval_s=min(intervals),
        gate=gate,
    )
