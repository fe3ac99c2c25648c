"""Configuration layering (defaults < file < env < --set); one error lists every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanze.server import config, listening
from quanze.server.errors import ConfigError
from scripts import config_reference


def test_defaults_need_no_configuration() -> None:
    loaded = config.load(environ={})
    assert loaded.server.address == "127.0.0.1:8600"
    assert loaded.server.workers == 0
    assert loaded.resolved_workers() >= 1
    assert loaded.policies.path == ""
    assert loaded.engine.fast_path is True


def test_layers_override_in_order(tmp_path: Path) -> None:
    file = tmp_path / "quanze.yaml"
    file.write_text("server:\n  workers: 3\n  max_batch_items: 10\nlog:\n  level: debug\n")
    environ = {"QUANZE_SERVER_WORKERS": "4", "QUANZE_ENGINE_FAST_PATH": "false", "HOME": "/root"}
    loaded = config.load(file, environ=environ, overrides=["server.workers=5"])
    assert loaded.server.workers == 5
    assert loaded.server.max_batch_items == 10
    assert loaded.engine.fast_path is False
    assert loaded.log.level == "debug"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    file = tmp_path / "quanze.yaml"
    file.write_text("server:\n  workers: many\n  adress: x\nengine:\n  kind: wasm\n")
    with pytest.raises(ConfigError) as caught:
        config.load(
            file,
            environ={"QUANZE_SERVER_WORKER": "2"},
            overrides=["log.level=loud", "server.address=localhost", "nonsense"],
        )
    text = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 7, text
    assert "server.workers: must be int, got 'many'" in text
    assert "unknown setting 'server.adress'; did you mean server.address?" in text
    assert (
        "QUANZE_SERVER_WORKER is not a Quanze setting; did you mean QUANZE_SERVER_WORKERS?" in text
    )
    assert "engine.kind: 'wasm' is not one of regorus, opa" in text
    assert "log.level: 'loud' is not one of" in text
    assert "server.address: 'localhost' is not HOST:PORT or unix:PATH" in text
    assert "--set 'nonsense': expected section.key=value" in text


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("127.0.0.1:0", True),
        ("[::1]:8600", True),
        ("unix:/run/q.sock", True),
        ("unix:", False),
        ("host:99999", False),
        ("8600", False),
    ],
)
def test_address_forms(address: str, ok: bool) -> None:
    assert (listening.address_error(address) == "") is ok


def test_unix_socket_runs_one_worker_unless_told_then_one_socket_each() -> None:
    one = config.load(environ={}, overrides=["server.address=unix:/run/q/quanze.sock"])
    assert one.resolved_workers() == 1
    assert one.worker_addresses() == ["unix:/run/q/quanze.sock"]
    assert one.client_target() == "unix:/run/q/quanze.sock"
    three = config.load(
        environ={}, overrides=["server.address=unix:/run/q/quanze.sock", "server.workers=3"]
    )
    assert three.resolved_workers() == 3
    assert three.worker_addresses() == [
        "unix:/run/q/quanze-w0.sock",
        "unix:/run/q/quanze-w1.sock",
        "unix:/run/q/quanze-w2.sock",
    ]
    assert three.client_target() == (
        "unix:/run/q/quanze-w0.sock,/run/q/quanze-w1.sock,/run/q/quanze-w2.sock"
    )
    tcp = config.load(environ={}, overrides=["server.workers=2"])
    assert tcp.worker_addresses() == ["127.0.0.1:8600", "127.0.0.1:8600"]


def test_evaluation_budgets_must_be_positive_and_under_the_wall_clock_ceiling() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={},
            overrides=[
                "engine.list_timeout_ms=0",
                "engine.timeout_ms=300",
                "engine.wall_timeout_ms=200",
            ],
        )
    assert caught.value.problems == [
        "engine.list_timeout_ms: must be greater than 0",
        "engine.wall_timeout_ms: must be at least engine.timeout_ms and engine.list_timeout_ms "
        "(it is the ceiling above the CPU budgets)",
    ]


def test_worker_restart_settings_are_checked_from_the_environment_too() -> None:
    loaded = config.load(environ={"QUANZE_SERVER_WORKER_RESTART_LIMIT": "0"})
    assert loaded.server.worker_restart_limit == 0
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={"QUANZE_SERVER_WORKER_RESTART_LIMIT": "-1"},
            overrides=["server.worker_restart_window_seconds=0"],
        )
    assert caught.value.problems == [
        "server.worker_restart_limit: must be 0 (never restart) or more",
        "server.worker_restart_window_seconds: must be greater than 0",
    ]


def test_missing_policy_directory_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is neither a directory nor a git repository"):
        config.load(environ={}, overrides=[f"policies.path={tmp_path / 'nope'}"])


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        config.load(tmp_path / "absent.yaml", environ={})


def test_reference_documents_every_setting() -> None:
    rows = config.reference()
    assert {r[0] for r in rows} == set(config.keys())
    assert all(r[3] for r in rows), [r[0] for r in rows if not r[3]]


def test_configuration_doc_table_is_current() -> None:
    doc = config_reference.DOC.read_text()
    assert config_reference.render(doc) == doc, "run: python scripts/config_reference.py"
    for key, env, _, _ in config.reference():
        assert f"`{key}`" in doc, key
        assert f"`{env}`" in doc, env


def test_policy_source_and_engine_settings_are_checked_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={},
            overrides=[
                "engine.kind=opa",
                "engine.opa_url=ftp://opa",
                "policies.path=https://git.example.org/policies.git",
                "policies.require_signed_commits=true",
                "policies.poll_interval_seconds=0",
            ],
        )
    text = "\n".join(caught.value.problems)
    assert "engine.opa_url:" in text
    assert "policies.require_signed_commits: needs policies.allowed_signers_file" in text
    assert "policies.poll_interval_seconds: must be greater than 0" in text


def test_a_git_url_is_a_valid_policy_source() -> None:
    loaded = config.load(
        environ={}, overrides=["policies.path=https://git.example.org/policies.git"]
    )
    assert loaded.policies.path.endswith("policies.git")
    assert loaded.policies.require_tests_pass is True


def test_the_directory_section_takes_a_file_folder_or_repository(tmp_path: Path) -> None:
    file = tmp_path / "directory.json"
    file.write_text("{}")
    loaded = config.load(environ={"QUANZE_DIRECTORY_PATH": str(file)})
    assert loaded.directory.path == str(file)
    assert loaded.directory.poll_interval_seconds == 30.0
    assert config.load(environ={}, overrides=[f"directory.path={tmp_path}"]).directory.path
    remote = config.load(
        environ={"QUANZE_DIRECTORY_PATH": "https://git.example.org/hr/directory.git"},
        overrides=["directory.subdir=directory", "directory.branch=published"],
    )
    assert (remote.directory.subdir, remote.directory.branch) == ("directory", "published")
    assert config.load(environ={}).directory.path == ""


def test_directory_problems_name_the_directory_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={},
            overrides=[
                f"directory.path={tmp_path / 'nowhere.json'}",
                "directory.subdir=hr",
                "directory.poll_interval_seconds=0",
                f"directory.gpg_home={tmp_path}",
                "engine.kind=opa",
            ],
        )
    problems = caught.value.problems
    assert problems == [
        f"directory.path: {str(tmp_path / 'nowhere.json')!r} is neither a JSON file, a directory "
        "nor a git repository (a URL, user@host:path, a name ending in .git or a local repository)",
        "directory.subdir: applies to git repositories only; point directory.path at the "
        "directory holding the organisation directory instead",
        "directory.gpg_home: is set but directory.require_signed_commits is false, so no "
        "signature would be checked; set directory.require_signed_commits: true",
        "directory.poll_interval_seconds: must be greater than 0",
        "directory.path: with engine.kind: opa, OPA decides with the directory in its own bundle; "
        "build that bundle with `quanze policy bundle --directory PATH` instead",
    ]


def test_tls_settings_nest_under_server_from_every_source(tmp_path: Path) -> None:
    file = tmp_path / "quanze.yaml"
    pem = tmp_path / "pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n")
    file.write_text(
        f"server:\n  socket_mode: 0640\n  tls:\n    cert: {pem}\n    allowed_callers:\n"
        "      - O=Case Office,CN=case-app\n      - spiffe://example/case-app\n"
    )
    loaded = config.load(
        file,
        environ={"QUANZE_SERVER_TLS_KEY": str(pem), "QUANZE_SERVER_TLS_CLIENT_CA": str(pem)},
        overrides=["server.tls.require_client_cert=true"],
    )
    assert loaded.server.tls == config.TlsConfig(
        cert=str(pem),
        key=str(pem),
        client_ca=str(pem),
        require_client_cert=True,
        allowed_callers=("O=Case Office,CN=case-app", "spiffe://example/case-app"),
    )
    # YAML 1.1 would read 0640 as the number 416: the mode keeps its octal text.
    assert loaded.server.socket_mode == "0640"
    assert listening.socket_mode_bits(loaded.server.socket_mode) == 0o640


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("O=Case Office,CN=case-app", ("O=Case Office,CN=case-app",)),
        (
            '["O=Case Office,CN=case-app", "spiffe://x"]',
            ("O=Case Office,CN=case-app", "spiffe://x"),
        ),
    ],
)
def test_allowed_callers_from_text_is_one_identity_or_a_yaml_list(
    raw: str, expected: tuple[str, ...], tmp_path: Path
) -> None:
    pem = tmp_path / "pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n")
    loaded = config.load(
        environ={"QUANZE_SERVER_TLS_ALLOWED_CALLERS": raw},
        overrides=[
            f"server.tls.cert={pem}",
            f"server.tls.key={pem}",
            f"server.tls.client_ca={pem}",
            "server.tls.require_client_cert=true",
        ],
    )
    assert loaded.server.tls.allowed_callers == expected


@pytest.mark.parametrize(("text", "bits"), [("0660", 0o660), ("660", 0o660), ("0o600", 0o600)])
def test_socket_mode_forms(text: str, bits: int) -> None:
    assert listening.socket_mode_bits(text) == bits


def test_tls_and_socket_problems_are_reported_together(tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={},
            overrides=[
                f"server.tls.cert={tmp_path / 'absent.pem'}",
                f"server.tls.client_ca={not_pem}",
                "server.tls.allowed_callers=CN=x",
                "server.socket_mode=0999",
                "server.socket_group=no-such-group-here",
            ],
        )
    text = "\n".join(caught.value.problems)
    assert "server.tls.cert: needs server.tls.key too" in text
    assert "server.tls.client_ca: needs server.tls.cert and server.tls.key" in text
    assert "server.tls.client_ca: set server.tls.require_client_cert: true as well" in text
    assert "server.tls.allowed_callers: needs mTLS" in text
    assert "server.tls.cert: cannot read" in text
    assert "server.tls.client_ca: " + repr(str(not_pem)) + " holds no PEM block" in text
    assert "server.socket_mode: '0999' is not an octal file mode" in text
    assert "server.socket_group: there is no group named 'no-such-group-here'" in text


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1:8600", False),
        ("127.0.0.2:8600", False),
        ("[::1]:8600", False),
        ("localhost:8600", False),
        ("unix:/run/quanze.sock", False),
        ("0.0.0.0:8600", True),
        ("[::]:8600", True),
        ("10.1.2.3:8600", True),
        ("quanze.internal:8600", True),
    ],
)
def test_plaintext_is_refused_off_loopback(address: str, refused: bool) -> None:
    overrides = [f"server.address={address}"]
    if refused:
        with pytest.raises(ConfigError, match=r"server\.allow_insecure_remote: true"):
            config.load(environ={}, overrides=overrides)
        overrides.append("server.allow_insecure_remote=true")
    assert config.load(environ={}, overrides=overrides).server.address == address


@pytest.mark.parametrize(
    ("source", "bits"),
    [
        ({}, 0o600),
        ({"QUANZE_DECISION_LOG_FILE_MODE": "0640"}, 0o640),
        ({"QUANZE_DECISION_LOG_FILE_MODE": "644"}, 0o644),
    ],
)
def test_decision_log_file_mode_is_octal_like_the_socket_mode(
    source: dict[str, str], bits: int
) -> None:
    assert config.load(environ=source).decision_log.file_mode_bits() == bits


def test_decision_log_file_mode_from_a_file_stays_octal(tmp_path: Path) -> None:
    path = tmp_path / "quanze.yaml"
    path.write_text("decision_log:\n  file_mode: 0640\n")
    assert config.load(path, environ={}).decision_log.file_mode_bits() == 0o640


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rw-------", "'rw-------' is not an octal file mode such as 0600"),
        ("0666", "0666 must give the sidecar read and write access and anyone else read access"),
        ("0400", "0400 must give the sidecar read and write access"),
        ("0700", "0700 must give the sidecar read and write access"),
    ],
)
def test_decision_log_file_mode_problems_name_the_setting(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(overrides=[f"decision_log.file_mode={text}"], environ={})
    assert f"decision_log.file_mode: {message}" in str(caught.value)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("9464", "metrics.address: '9464' is not HOST:PORT (e.g. 0.0.0.0:9464"),
        ("unix:/run/quanze/metrics.sock", "Prometheus scrapes TCP"),
        ("0.0.0.0:70000", "metrics.address: port 70000 is out of range"),
        ("127.0.0.1:8600", "metrics.address: 127.0.0.1:8600 is server.address too"),
    ],
)
def test_metrics_address_is_a_tcp_port_of_its_own(address: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(environ={"QUANZE_METRICS_ADDRESS": address})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_metrics_are_off_unless_an_address_is_given() -> None:
    assert config.load(environ={}).metrics.address == ""
    loaded = config.load(environ={}, overrides=["metrics.address=[::]:9464"])
    assert loaded.metrics.address == "[::]:9464"


def test_tracing_is_off_by_default_and_set_from_the_environment() -> None:
    assert config.load(environ={}).tracing == config.TracingConfig()
    assert config.TracingConfig().endpoint == ""
    loaded = config.load(
        environ={
            "QUANZE_TRACING_ENDPOINT": "https://otel-collector.observability:4317",
            "QUANZE_TRACING_SAMPLE_RATIO": "0.25",
            "QUANZE_TRACING_SERVICE_NAME": "quanze-cases",
        }
    )
    assert loaded.tracing == config.TracingConfig(
        endpoint="https://otel-collector.observability:4317",
        sample_ratio=0.25,
        service_name="quanze-cases",
    )


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("otel-collector:4317", "is not a collector address such as http://otel-collector:4317"),
        ("grpc://otel-collector:4317", "is not a collector address"),
        ("http://otel-collector", "is not a collector address"),
        ("http://otel-collector:port", "is not a collector address"),
        ("http://otel-collector:4318/v1/traces", "/v1/traces is OTLP over HTTP"),
        ("https://user@otel-collector:4317", "must be scheme://host:port only"),
    ],
)
def test_tracing_endpoint_problems_name_the_setting(endpoint: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(overrides=[f"tracing.endpoint={endpoint}"], environ={})
    (problem,) = caught.value.problems
    assert problem.startswith(f"tracing.endpoint: {endpoint!r}")
    assert message in problem


def test_tracing_ratio_and_service_name_are_checked_together() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(overrides=["tracing.sample_ratio=1.5", "tracing.service_name= "], environ={})
    assert caught.value.problems == [
        "tracing.sample_ratio: must be from 0 to 1, got 1.5",
        "tracing.service_name: must not be empty",
    ]


def test_shipping_settings_are_checked_naming_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            environ={"QUANZE_DECISION_LOG_SHIP_DATABASE_URL": "mysql://db/audit"},
            overrides=[
                "decision_log.ship.source=pods/7f9c",
                "decision_log.ship.batch_records=0",
            ],
        )
    assert caught.value.problems == [
        "decision_log.ship.database_url: not a PostgreSQL URL; write "
        "postgresql://USER@HOST:PORT/DATABASE (a password is better kept in ~/.pgpass or "
        "PGPASSWORD than in the URL)",
        "decision_log.ship.database_url: shipping needs a decision log to ship; set "
        "decision_log.directory (or `quanze serve --decision-log DIR`)",
        "decision_log.ship.source: 'pods/7f9c' cannot name a source: use letters, digits and "
        ". _ : @ - (no /, at most 200 characters), e.g. the pod name",
        "decision_log.ship.batch_records: must be at least 1",
    ]


def test_shipping_makes_retention_wait_for_it() -> None:
    assert not config.load(environ={}).decision_log.waits_for_shipping
    waiting = config.load(environ={}, overrides=["decision_log.retention_waits_for_shipping=true"])
    assert waiting.decision_log.waits_for_shipping
    shipping = config.load(
        environ={
            "QUANZE_DECISION_LOG_DIRECTORY": "/var/log/quanze/decisions",
            "QUANZE_DECISION_LOG_SHIP_DATABASE_URL": "postgresql://quanze@db:5432/audit",
        }
    )
    assert shipping.decision_log.ship.database_url == "postgresql://quanze@db:5432/audit"
    assert shipping.decision_log.waits_for_shipping
