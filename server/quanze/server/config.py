"""Configuration: a tree of frozen dataclasses with documented defaults.

Sources, later ones winning: defaults, the YAML file (`--config`), environment variables
(`QUANZE_<SECTION>_<KEY>`, e.g. `QUANZE_SERVER_WORKERS=2`) and `--set section.key=value`.
Every problem across all sources is reported in one `ConfigError`.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import itertools
import os
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import yaml

from quanze.server.errors import ConfigError
from quanze.server.listening import (
    is_loopback,
    listener_problems,
    socket_mode_bits,
    tcp_address_error,
    uses_tls,
)
from quanze.server.policy.source import settings_problems

ENV_PREFIX = "QUANZE_"
LOG_LEVELS = ("debug", "info", "warning", "error")
ENGINE_KINDS = ("regorus", "opa")
DECISION_LOG_MODES = ("required", "best_effort")
FSYNC_POLICIES = ("record", "interval", "none")


@dataclass(frozen=True)
class TlsConfig:
    """TLS for the listener: a certificate for the server and, for mTLS, a CA for its callers."""

    cert: str = ""
    """Server certificate chain (PEM file); with `key`, TCP listeners speak TLS only."""
    key: str = ""
    """The server certificate's private key (PEM file). Both files are reloaded when they change."""
    client_ca: str = ""
    """CA bundle (PEM file) that client certificates must chain to; needs `require_client_cert`."""
    require_client_cert: bool = False
    """mTLS: refuse the handshake of a caller without a certificate signed by `client_ca`."""
    allowed_callers: tuple[str, ...] = ()
    """mTLS: client certificate subjects or SANs that may call; others get PERMISSION_DENIED."""


@dataclass(frozen=True)
class ServerConfig:
    """Where and how the sidecar listens."""

    address: str = "127.0.0.1:8600"
    """`HOST:PORT` (port 0 picks a free port) or `unix:PATH`."""
    workers: int = 0
    """Worker processes sharing the TCP port; 0: one per CPU (a Unix socket: 1, else one each)."""
    max_request_bytes: int = 262_144
    """Largest request message accepted; larger ones get RESOURCE_EXHAUSTED."""
    max_concurrent_calls: int = 32
    """Decision calls one worker holds at once; more are refused at once (RESOURCE_EXHAUSTED)."""
    max_batch_items: int = 100
    """Most items one CheckBatch may carry."""
    shutdown_delay_seconds: float = 1.0
    """After a shutdown signal: health is NOT_SERVING but calls are still answered this long."""
    shutdown_grace_seconds: float = 10.0
    """Then new calls are refused and calls in flight get this long to finish."""
    worker_restart_limit: int = 5
    """Restarts of one worker within the window; its next crash stops the sidecar (0: the first)."""
    worker_restart_window_seconds: float = 60.0
    """The window in which `worker_restart_limit` counts a worker's crashes."""
    tls: TlsConfig = field(default_factory=TlsConfig)
    allow_insecure_remote: bool = False
    """Let a plaintext listener bind a non-loopback address (only behind a mesh that encrypts)."""
    restrict_status: bool = False
    """GetStatus and reflection answer only callers with a client certificate (mTLS)."""
    socket_mode: str = "0660"
    """Octal permissions of a `unix:` socket: 0660 lets the socket's group connect."""
    socket_group: str = ""
    """Group (name or gid) given a `unix:` socket, e.g. one shared with the app's container."""


@dataclass(frozen=True)
class PolicyConfig:
    """Which policies decide."""

    path: str = ""
    """Empty: the bundled policies; a directory; or a git repository (local path or URL)."""
    branch: str = "main"
    """Git: the branch whose tip serves."""
    subdir: str = ""
    """Git: the policy directory inside the repository ("" is its root)."""
    poll_interval_seconds: float = 30.0
    """How often a directory or git source is checked for a new revision."""
    require_tests_pass: bool = True
    """A new revision serves only if `quanze policy test` passes on it (it must always compile)."""
    cache_dir: str = ""
    """Where clones, revision snapshots and gate passes go; empty: `$XDG_CACHE_HOME/quanze`."""
    git_timeout_seconds: float = 60.0
    """Longest time one git command (clone, fetch) may take."""
    require_signed_commits: bool = False
    """Git: serve only commits whose signature `git verify-commit` accepts."""
    allowed_signers_file: str = ""
    """Git: SSH allowed-signers file (`git config gpg.ssh.allowedSignersFile` format)."""
    gpg_home: str = ""
    """Git: GnuPG home whose keyring holds the allowed signers' keys."""


@dataclass(frozen=True)
class DirectoryConfig:
    """The organisation directory the policies check requests against, kept apart from them."""

    path: str = ""
    """Empty: the policies' own example; else a JSON file, a folder of them or a git repository."""
    branch: str = "main"
    """Git: the branch whose tip serves."""
    subdir: str = ""
    """Git: the folder of JSON files inside the repository ("" is its root)."""
    poll_interval_seconds: float = 30.0
    """How often a file, folder or git source is checked for a new revision."""
    require_signed_commits: bool = False
    """Git: serve only commits whose signature `git verify-commit` accepts."""
    allowed_signers_file: str = ""
    """Git: SSH allowed-signers file (`git config gpg.ssh.allowedSignersFile` format)."""
    gpg_home: str = ""
    """Git: GnuPG home whose keyring holds the allowed signers' keys."""


@dataclass(frozen=True)
class EngineConfig:
    """How policies are evaluated."""

    kind: str = "regorus"
    """The engine: `regorus` evaluates in-process; `opa` asks the OPA server at `engine.opa_url`."""
    fast_path: bool = True
    """Serve from the compiled RVM, falling back to the tree-walking engine on any failure."""
    timeout_ms: float = 250.0
    """CPU budget of one decision (Check, batch item): more answers deny (`evaluation_error`)."""
    list_timeout_ms: float = 1000.0
    """CPU budget of one ListAllowedActions evaluation (every catalog action at once)."""
    wall_timeout_ms: float = 5000.0
    """Wall-clock ceiling of any evaluation, however little CPU it used (see Timeout below)."""
    opa_url: str = "http://127.0.0.1:8181"
    """With `engine.kind: opa`: the OPA server as `http(s)://HOST:PORT`, no path."""
    opa_path: str = "quanze/authz"
    """With `engine.kind: opa`: the package whose `decision` and `decisions` rules are queried."""


@dataclass(frozen=True)
class LogConfig:
    """Application log (JSON lines on stderr)."""

    level: str = "info"
    """One of debug, info, warning, error."""


@dataclass(frozen=True)
class ShipConfig:
    """Shipping the decision log into the central store (PostgreSQL) beside the workers."""

    database_url: str = ""
    """`postgresql://USER@HOST:PORT/DB` to ship every record to; empty: no shipping."""
    source: str = ""
    """The name of this sidecar's streams in the database; empty: the host name (the pod's)."""
    batch_records: int = 1000
    """Most records one transaction appends."""
    drain_seconds: float = 10.0
    """At shutdown, how long the shipper may take to ship what the workers wrote last."""


@dataclass(frozen=True)
class DecisionLogConfig:
    """Decision logs: one tamper-evident JSON Lines record per decision (docs/decision-log.md)."""

    directory: str = ""
    """Directory of the decision logs; empty turns them off (`serve --decision-log DIR`)."""
    mode: str = "required"
    """`required`: an unrecorded answer becomes a deny; `best_effort`: it goes out, loss counted."""
    fsync: str = "record"
    """When records reach the disk: `record` (before each answer), `interval`, or `none` (OS)."""
    fsync_interval_ms: float = 1000.0
    """With `fsync: interval`, the longest time between syncs."""
    buffer_records: int = 4096
    """Records waiting to be written; `required` callers wait for room, `best_effort` lose it."""
    max_file_bytes: int = 64 * 1024 * 1024
    """Rotate to a new file once the current one reaches this size."""
    max_file_age_seconds: float = 86_400.0
    """Rotate to a new file once the current one is this old."""
    compress: bool = True
    """Gzip rotated files."""
    retention_files: int = 0
    """Keep at most this many files per stream (at least 2 are kept); 0 keeps all."""
    retention_days: float = 0.0
    """Delete files older than this many days; 0 keeps all."""
    checkpoint_interval_seconds: float = 60.0
    """Write a signed checkpoint at least this often while decisions are logged."""
    checkpoint_records: int = 10_000
    """…and after this many records."""
    signing_key_file: str = ""
    """Key that signs checkpoints: an Ed25519 private key (PEM) or an HMAC secret (≥16 bytes)."""
    file_mode: str = "0600"
    """Octal permissions of log files created; a directory created gets them searchable (0700)."""
    retention_waits_for_shipping: bool = False
    """Retention removes only files already shipped (`.shipped-<stream>.json`); on with `ship`."""
    ship: ShipConfig = field(default_factory=ShipConfig)

    @property
    def waits_for_shipping(self) -> bool:
        """Whether retention keeps the files not yet shipped."""
        return self.retention_waits_for_shipping or bool(self.ship.database_url)

    def file_mode_bits(self) -> int:
        """`file_mode` as permission bits (valid once the configuration has loaded)."""
        return socket_mode_bits(self.file_mode) or 0o600


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics of every worker of the sidecar, over HTTP (docs/operations.md)."""

    address: str = ""
    """`HOST:PORT` serving `/metrics` for Prometheus (e.g. 0.0.0.0:9464); empty: no metrics."""


@dataclass(frozen=True)
class HttpConfig:
    """The AuthZEN 1.0 HTTP API, served by the same workers beside gRPC (docs/api.md)."""

    address: str = ""
    """`HOST:PORT` serving AuthZEN over HTTP (TLS with server.tls.*); empty: no HTTP."""


@dataclass(frozen=True)
class TracingConfig:
    """OpenTelemetry traces: a span per decision call, exported over OTLP/gRPC (off by default)."""

    endpoint: str = ""
    """OTLP/gRPC collector, e.g. `http://otel-collector:4317` (https: TLS); empty: tracing off."""
    sample_ratio: float = 1.0
    """Share of new traces kept (0 to 1); a caller's own choice, kept or not, is followed."""
    service_name: str = "quanze"
    """`service.name` of the spans' resource."""


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    server: ServerConfig = field(default_factory=ServerConfig)
    policies: PolicyConfig = field(default_factory=PolicyConfig)
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    log: LogConfig = field(default_factory=LogConfig)
    decision_log: DecisionLogConfig = field(default_factory=DecisionLogConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)

    def resolved_workers(self) -> int:
        """The number of worker processes to start (a Unix socket: 1 unless set)."""
        if self.server.address.startswith("unix:"):
            return self.server.workers or 1
        return self.server.workers or os.cpu_count() or 1

    def worker_addresses(self) -> list[str]:
        """Where each worker listens: all on the TCP port, or each on a Unix socket of its own.

        One worker on `unix:DIR/NAME.sock` uses that path; N workers use `DIR/NAME-w0.sock` …
        `DIR/NAME-w<N-1>.sock`, since a Unix socket path cannot be shared (the last to bind
        takes it). `client_target` joins them for a round-robin gRPC channel.
        """
        workers, address = self.resolved_workers(), self.server.address
        if not address.startswith("unix:") or workers == 1:
            return [address] * workers
        path = Path(address[len("unix:") :])
        return [f"unix:{path.with_name(f'{path.stem}-w{i}{path.suffix}')}" for i in range(workers)]

    def client_target(self) -> str:
        """The gRPC target that reaches every worker (with `grpc.lb_policy_name: round_robin`)."""
        addresses = self.worker_addresses()
        if len(set(addresses)) == 1:
            return addresses[0]
        return "unix:" + ",".join(a[len("unix:") :] for a in addresses)


def keys() -> dict[str, type]:
    """Every setting as `section.key` (`section.group.key` when nested) with its type."""
    return _keys(Config, "")


def _keys(cls: Any, prefix: str) -> dict[str, type]:
    out: dict[str, type] = {}
    for name, hint in get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            out.update(_keys(hint, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = hint
    return out


def _groups() -> set[str]:
    """Every dotted prefix that is a section or a group inside one (e.g. `server.tls`)."""
    return {key.rsplit(".", 1)[0] for key in keys()} | {key.split(".", 1)[0] for key in keys()}


def env_name(key: str) -> str:
    """The environment variable that sets `key`, e.g. QUANZE_SERVER_WORKERS."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def load(
    path: str | Path | None = None,
    *,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration from all sources, or raise `ConfigError` listing every problem."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_file(Path(path), problems))
    values.update(_from_env(os.environ if environ is None else environ, problems))
    values.update(_from_overrides(overrides, problems))
    config = _build(values, problems)
    problems.extend(_check(config))
    if problems:
        raise ConfigError(problems)
    return config


def _from_file(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        document = _yaml(path.read_text()) or {}
    except OSError as exc:
        problems.append(f"{path}: cannot read the configuration file ({exc.strerror})")
        return {}
    except yaml.YAMLError as exc:
        problems.append(f"{path}: invalid YAML: {exc}")
        return {}
    if not isinstance(document, dict):
        problems.append(f"{path}: the configuration must be a mapping of sections")
        return {}
    flat: dict[str, Any] = {}
    for section, body in document.items():
        if not isinstance(body, dict):
            problems.append(f"{path}: section {section!r} must be a mapping")
            continue
        _flatten(str(section), body, path, flat)
    return flat


def _flatten(prefix: str, body: Mapping[Any, Any], path: Path, flat: dict[str, Any]) -> None:
    """The settings of one (possibly nested) mapping as `prefix.key`, e.g. server.tls.cert."""
    for key, value in body.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict) and name in _groups():
            _flatten(name, value, path, flat)
        else:
            flat[name] = (value, f"{path}: {name}")


def _from_env(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    names = {env_name(k): k for k in keys()}
    flat: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        if name not in names:
            problems.append(
                f"environment variable {name} is not a Quanze setting{_suggest(name, names)}"
            )
            continue
        flat[names[name]] = (_scalar(raw), f"environment {name}")
    return flat


def _from_overrides(overrides: Iterable[str], problems: list[str]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            problems.append(f"--set {item!r}: expected section.key=value")
            continue
        flat[key.strip()] = (_scalar(raw), f"--set {key.strip()}")
    return flat


def _scalar(raw: str) -> Any:
    """Read a string setting the way YAML reads a scalar: '2' is 2, 'true' is True."""
    try:
        value = _yaml(raw)
    except yaml.YAMLError:
        return raw
    return raw if value is None or isinstance(value, (dict, list)) else value


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that 0660 stays the text "0660" rather than octal 432.

    YAML 1.1 reads a leading zero as octal; a file mode is written that way, and nothing else
    here is, so numbers are decimal only and `server.socket_mode` parses its own text.
    """


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


_INT = "tag:yaml.org,2002:int"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _INT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))


def _build(values: Mapping[str, tuple[Any, str]], problems: list[str]) -> Config:
    known = keys()
    settings: dict[str, Any] = {}
    for key, (value, origin) in values.items():
        if key not in known:
            problems.append(f"{origin}: unknown setting {key!r}{_suggest(key, known)}")
            continue
        coerced = _coerce(value, known[key])
        if coerced is None:
            problems.append(f"{origin}: must be {_type_name(known[key])}, got {value!r}")
            continue
        settings[key] = coerced
    config: Config = _construct(Config, settings)
    return config


def _construct(cls: Any, values: Mapping[str, Any]) -> Any:
    """`cls` from its dotted settings: {"tls.cert": x} fills the nested group `tls`."""
    arguments: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        head, dot, rest = name.partition(".")
        if dot:
            nested.setdefault(head, {})[rest] = value
        else:
            arguments[name] = value
    for name, hint in get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            arguments[name] = _construct(hint, nested.get(name, {}))
    return cls(**arguments)


_LIST_OF_TEXT = tuple[str, ...]


def _type_name(wanted: type) -> str:
    return "a list of strings" if wanted == _LIST_OF_TEXT else wanted.__name__


def _coerce(value: Any, wanted: type) -> Any:
    if wanted == _LIST_OF_TEXT:
        return _text_list(value)
    if wanted is bool:
        return value if isinstance(value, bool) else None
    if wanted is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if wanted is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else None
    if wanted is str:
        return (
            value
            if isinstance(value, str)
            else str(value)
            if isinstance(value, (int, float))
            else None
        )
    return None


def _text_list(value: Any) -> tuple[str, ...] | None:
    """A list of strings from YAML, or from text: a YAML flow list (`["a", "b"]`) or one item."""
    if isinstance(value, str):
        try:
            parsed = _yaml(value)
        except yaml.YAMLError:
            parsed = None
        value = parsed if isinstance(parsed, list) else [value] if value.strip() else []
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _check(config: Config) -> list[str]:
    problems = []
    problems.extend(listener_problems(config.server))
    if config.server.workers < 0:
        problems.append("server.workers: must be 0 (one per CPU) or more")
    if config.server.max_request_bytes < 1024:
        problems.append("server.max_request_bytes: must be at least 1024")
    if config.server.max_batch_items < 1:
        problems.append("server.max_batch_items: must be at least 1")
    if config.server.max_concurrent_calls < 1:
        problems.append("server.max_concurrent_calls: must be at least 1")
    if config.server.shutdown_grace_seconds < 0:
        problems.append("server.shutdown_grace_seconds: must not be negative")
    if config.server.shutdown_delay_seconds < 0:
        problems.append("server.shutdown_delay_seconds: must not be negative")
    if config.server.worker_restart_limit < 0:
        problems.append("server.worker_restart_limit: must be 0 (never restart) or more")
    if config.server.worker_restart_window_seconds <= 0:
        problems.append("server.worker_restart_window_seconds: must be greater than 0")
    problems.extend(_policy_problems(config.policies))
    problems.extend(_directory_problems(config.directory))
    if config.directory.path and config.engine.kind == "opa":
        problems.append(
            "directory.path: with engine.kind: opa, OPA decides with the directory in its own "
            "bundle; build that bundle with `quanze policy bundle --directory PATH` instead"
        )
    problems.extend(_engine_problems(config.engine))
    engine = config.engine
    problems.extend(
        f"engine.{name}: must be greater than 0"
        for name in ("timeout_ms", "list_timeout_ms", "wall_timeout_ms")
        if getattr(engine, name) <= 0
    )
    if engine.wall_timeout_ms < max(engine.timeout_ms, engine.list_timeout_ms):
        problems.append(
            "engine.wall_timeout_ms: must be at least engine.timeout_ms and "
            "engine.list_timeout_ms (it is the ceiling above the CPU budgets)"
        )
    if config.log.level not in LOG_LEVELS:
        problems.append(f"log.level: {config.log.level!r} is not one of {', '.join(LOG_LEVELS)}")
    problems.extend(_decision_log_problems(config.decision_log))
    problems.extend(_metrics_problems(config.metrics, config.server))
    problems.extend(_http_problems(config))
    problems.extend(_tracing_problems(config.tracing))
    return problems


def _policy_problems(policies: PolicyConfig) -> list[str]:
    problems = settings_problems(
        path=policies.path,
        subdir=policies.subdir,
        branch=policies.branch,
        git_timeout_seconds=policies.git_timeout_seconds,
        require_signed_commits=policies.require_signed_commits,
        allowed_signers_file=policies.allowed_signers_file,
        gpg_home=policies.gpg_home,
    )
    if policies.poll_interval_seconds <= 0:
        problems.append("policies.poll_interval_seconds: must be greater than 0")
    return problems


def _directory_problems(directory: DirectoryConfig) -> list[str]:
    """The `directory.*` settings; the cache and git timeout are the policies' own."""
    problems = settings_problems(
        section="directory",
        path=directory.path,
        subdir=directory.subdir,
        branch=directory.branch,
        require_signed_commits=directory.require_signed_commits,
        allowed_signers_file=directory.allowed_signers_file,
        gpg_home=directory.gpg_home,
    )
    if directory.poll_interval_seconds <= 0:
        problems.append("directory.poll_interval_seconds: must be greater than 0")
    return problems


def _engine_problems(engine: EngineConfig) -> list[str]:
    problems = []
    if engine.kind not in ENGINE_KINDS:
        problems.append(f"engine.kind: {engine.kind!r} is not one of {', '.join(ENGINE_KINDS)}")
    if engine.kind == "opa":
        # Imported only when asked for: it brings an HTTP client stack (~0.2 s to import).
        from quanze.server.engine.opa_engine import path_error, url_error  # noqa: PLC0415

        for key, problem in (
            ("opa_url", url_error(engine.opa_url)),
            ("opa_path", path_error(engine.opa_path)),
        ):
            if problem:
                problems.append(f"engine.{key}: {problem}")
    return problems


def _decision_log_problems(settings: DecisionLogConfig) -> list[str]:
    problems = []
    if settings.mode not in DECISION_LOG_MODES:
        problems.append(
            f"decision_log.mode: {settings.mode!r} is not one of {', '.join(DECISION_LOG_MODES)}"
        )
    if settings.fsync not in FSYNC_POLICIES:
        problems.append(
            f"decision_log.fsync: {settings.fsync!r} is not one of {', '.join(FSYNC_POLICIES)}"
        )
    positive = (
        "fsync_interval_ms",
        "buffer_records",
        "max_file_bytes",
        "max_file_age_seconds",
        "checkpoint_interval_seconds",
        "checkpoint_records",
    )
    problems.extend(
        f"decision_log.{key}: must be greater than 0"
        for key in positive
        if getattr(settings, key) <= 0
    )
    if settings.retention_files == 1:
        problems.append("decision_log.retention_files: must be 0 (keep all) or at least 2")
    problems.extend(
        f"decision_log.{key}: must be 0 (keep all) or more"
        for key in ("retention_files", "retention_days")
        if getattr(settings, key) < 0
    )
    if settings.signing_key_file and not Path(settings.signing_key_file).is_file():
        problems.append(
            f"decision_log.signing_key_file: {settings.signing_key_file!r} is not a file"
        )
    problems.extend(_file_mode_problems(settings.file_mode))
    problems.extend(_ship_problems(settings))
    return problems


SHIP_SOURCE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}"
"""A source's name: the part before `/` of its streams' names in the central store."""
_SHIP_SOURCE = re.compile(f"^{SHIP_SOURCE_PATTERN}$")


def ship_source_problem(source: str) -> str:
    """Why `source` cannot name a sidecar's streams in the central store ("" when it can)."""
    if _SHIP_SOURCE.match(source):
        return ""
    return (
        f"{source!r} cannot name a source: use letters, digits and . _ : @ - (no /, at most 200 "
        "characters), e.g. the pod name"
    )


def _ship_problems(settings: DecisionLogConfig) -> list[str]:
    """`decision_log.ship.*`: a PostgreSQL URL, and a log directory to ship."""
    ship = settings.ship
    problems = []
    if ship.database_url:
        if not ship.database_url.startswith(("postgresql://", "postgres://")):
            problems.append(
                "decision_log.ship.database_url: not a PostgreSQL URL; write "
                "postgresql://USER@HOST:PORT/DATABASE (a password is better kept in ~/.pgpass "
                "or PGPASSWORD than in the URL)"
            )
        if not settings.directory:
            problems.append(
                "decision_log.ship.database_url: shipping needs a decision log to ship; set "
                "decision_log.directory (or `quanze serve --decision-log DIR`)"
            )
    if ship.source and (problem := ship_source_problem(ship.source)):
        problems.append(f"decision_log.ship.source: {problem}")
    if ship.batch_records < 1:
        problems.append("decision_log.ship.batch_records: must be at least 1")
    if ship.drain_seconds < 0:
        problems.append("decision_log.ship.drain_seconds: must not be negative")
    return problems


def _http_problems(config: Config) -> list[str]:
    """`http.address`: a TCP port of its own, exposed under the same rule as server.address."""
    address, server = config.http.address, config.server
    if not address:
        return []
    problem = tcp_address_error(address, "HOST:PORT (e.g. 127.0.0.1:8680)")
    if problem:
        return [f"http.address: {problem}"]
    if not address.endswith(":0") and address in (server.address, config.metrics.address):
        return [
            f"http.address: {address} is taken by another listener; give HTTP a port of its own"
        ]
    host = address.rsplit(":", 1)[0].strip("[]")
    if uses_tls(server) or server.allow_insecure_remote or is_loopback(host):
        return []
    return [
        f"http.address: {address} is not a loopback address, and without TLS anyone who can "
        "reach it may ask for decisions and read them in clear text; configure server.tls.cert "
        "and server.tls.key, or set server.allow_insecure_remote: true if a mesh in front "
        "encrypts and authenticates callers"
    ]


def _metrics_problems(metrics: MetricsConfig, server: ServerConfig) -> list[str]:
    """`metrics.address`: HTTP on a TCP port of its own."""
    address = metrics.address
    if not address:
        return []
    problem = tcp_address_error(address, "HOST:PORT (e.g. 0.0.0.0:9464; Prometheus scrapes TCP)")
    if problem:
        return [f"metrics.address: {problem}"]
    if address == server.address and not address.endswith(":0"):
        return [f"metrics.address: {address} is server.address too; give metrics a port of its own"]
    return []


def _file_mode_problems(text: str) -> list[str]:
    """`decision_log.file_mode`: octal (as `server.socket_mode`), the sidecar's alone to write."""
    bits = socket_mode_bits(text)
    if bits is None:
        return [f"decision_log.file_mode: {text!r} is not an octal file mode such as 0600"]
    if bits & 0o600 != 0o600 or bits & ~0o644:
        return [
            f"decision_log.file_mode: {text} must give the sidecar read and write access and "
            "anyone else read access at most (0600, 0640 or 0644)"
        ]
    return []


def _tracing_problems(tracing: TracingConfig) -> list[str]:
    problems = []
    if tracing.endpoint:
        try:
            parts = urlsplit(tracing.endpoint)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port:
            problems.append(
                f"tracing.endpoint: {tracing.endpoint!r} is not a collector address such as "
                "http://otel-collector:4317 (http:// plaintext, https:// TLS, with the port)"
            )
        elif parts.path.strip("/") or parts.query or parts.fragment or parts.username:
            problems.append(
                f"tracing.endpoint: {tracing.endpoint!r} must be scheme://host:port only: OTLP "
                "over gRPC takes no path (/v1/traces is OTLP over HTTP, which Quanze does not send)"
            )
    if not 0.0 <= tracing.sample_ratio <= 1.0:
        problems.append(f"tracing.sample_ratio: must be from 0 to 1, got {tracing.sample_ratio}")
    if not tracing.service_name.strip():
        problems.append("tracing.service_name: must not be empty")
    return problems


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def reference() -> list[tuple[str, str, Any, str]]:
    """(key, env var, default, description) for every setting, for docs and `--help`."""
    rows: list[tuple[str, str, Any, str]] = []
    defaults = Config()
    for section in dataclasses.fields(Config):
        _reference_rows(section.name, getattr(defaults, section.name), rows)
    return rows


def _reference_rows(prefix: str, group: Any, rows: list[tuple[str, str, Any, str]]) -> None:
    docs = _attribute_docs(type(group))
    for f in dataclasses.fields(group):
        key, value = f"{prefix}.{f.name}", getattr(group, f.name)
        if dataclasses.is_dataclass(value):
            _reference_rows(key, value, rows)
        else:
            rows.append((key, env_name(key), value, docs.get(f.name, "")))


def _attribute_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal under each field) of a dataclass."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    docs: dict[str, str] = {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = following.value.value
    return docs
