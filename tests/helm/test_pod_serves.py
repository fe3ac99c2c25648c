"""The rendered configuration runs: a real `quanze serve` started as the pod would start it.

What the chart renders (config.yaml and health.py from its ConfigMap, the probes' commands, the
git environment) is laid out in a folder as the kubelet would mount it (tests/helm/pod.py), with
container paths moved under that folder. The server and the probes run as this test's user:
the image's uid 10001 cannot run the interpreter of this checkout (Python lives under /root,
mode 0700, here). Who may reach the socket is checked with a connect() by a child that drops to
the application's uid, in the pod's fsGroup, and to a stranger's. Giving the socket group 10001
and dropping to other users needs root, as CI and these machines run tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from quanze.client import Client
from quanze.server import config as quanze_config
from tests.helm.conftest import render_example
from tests.helm.pod import (
    atomic_writer,
    config_map,
    config_of,
    container,
    empty_dir,
    probe_command,
    quanze_pod,
    rewrite,
    secret_file,
)
from tests.helm.render import CHART, EXAMPLES, ROOT, app_chart, template
from tests.integration.certs import CertificateAuthority
from tests.support import CONTRACT_EXAMPLE, environment_without_quanze_settings, free_port

QUANZE_UID = 10001  # the image's user and the pod's fsGroup
APP_UID = 20000  # the application's container: another user, in the fsGroup
STRANGER_UID = 30000  # a user outside the fsGroup
VENV_BIN = Path(sys.executable).parent
DIRECTORY = ROOT / "policies" / "quanze" / "directory" / "data.json"


def connects(path: Path, uid: int, groups: tuple[int, ...] = ()) -> bool:
    """Whether `uid` (with supplementary `groups`) may connect to the Unix socket `path`."""
    pid = os.fork()
    if pid == 0:  # the child only drops privileges and connects: no gRPC after the fork
        code = 1
        try:
            os.setgroups(list(groups))
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(str(path))
            code = 0
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 13), f"connecting to {path} as uid {uid} failed otherwise (exit {code})"
    return code == 0


@pytest.fixture
def pod_root() -> Iterator[Path]:
    """A folder other users can traverse (pytest's own temp folders are root's alone)."""
    assert os.geteuid() == 0, "the socket's group is gid 10001 and other users connect: run as root"
    root = Path(tempfile.mkdtemp(prefix="quanze-pod-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def lay_out(rendered: Any, root: Path) -> dict[str, Any]:
    """What the quanze container would see, under `root`; its configuration, rewritten."""
    data = config_map(rendered)
    config = rewrite(config_of(rendered), root)
    etc = root / "etc" / "quanze"
    etc.mkdir(parents=True)
    (etc / "config.yaml").write_text(yaml.safe_dump(config))
    (etc / "health.py").write_text(data["health.py"])
    for path in (etc, etc / "config.yaml", etc / "health.py"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    empty_dir(root / "var" / "cache" / "quanze", memory=True, fs_group=QUANZE_UID)
    empty_dir(root / "var" / "log" / "quanze", fs_group=QUANZE_UID)
    empty_dir(root / "run" / "quanze", fs_group=QUANZE_UID)
    return config


def serve(
    root: Path, config: dict[str, Any], extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = environment_without_quanze_settings() | {"HOME": str(root / "tmp")} | (extra_env or {})
    empty_dir(root / "tmp")
    return subprocess.Popen(
        [str(VENV_BIN / "quanze"), "serve", "--config", str(root / "etc/quanze/config.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
        env=env,
    )


def probe_until_serving(
    command: list[str], process: subprocess.Popen[str]
) -> subprocess.CompletedProcess[str]:
    """Run the probe as the kubelet would (every second here) until it passes; at most 120 s."""
    deadline = time.monotonic() + 120
    while True:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode == 0:
            return result
        if process.poll() is not None:
            raise AssertionError(f"quanze serve exited {process.returncode}:\n{stop(process)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the probe never passed; last: {result.stderr}\n{stop(process)}")
        time.sleep(1)


def stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.stderr is not None
    with process.stderr:
        return process.stderr.read()


def test_the_sidecar_serves_on_the_socket_the_probe_and_the_application_use(
    pod_root: Path, tmp_path: Path
) -> None:
    """The case-app chart with Quanze as a sidecar: two workers, the directory from a ConfigMap."""
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "quanze": {
                    "server": {"workers": 2},
                    "directory": {"source": "configMap", "configMap": {"name": "hr-directory"}},
                }
            }
        )
    )
    rendered = template(app_chart(tmp_path), values, release="cases", work=tmp_path)
    pod = quanze_pod(rendered)
    config = lay_out(rendered, pod_root)
    # HR's ConfigMap, mounted with `items` as the kubelet does: the file is a link through ..data.
    mount = next(m for m in container(pod)["volumeMounts"] if m["name"] == "quanze-directory")
    atomic_writer(
        Path(rewrite(mount["mountPath"], pod_root)),
        {"directory.json": DIRECTORY.read_text()},
        fs_group=QUANZE_UID,
    )
    assert Path(config["directory"]["path"]).is_symlink()

    process = serve(pod_root, config)
    try:
        command = probe_command(container(pod)["readinessProbe"], pod_root, VENV_BIN)
        probe_until_serving(command, process)
        for probe in ("startupProbe", "livenessProbe"):
            again = probe_command(container(pod)[probe], pod_root, VENV_BIN)
            assert subprocess.run(again, check=False).returncode == 0

        app = container(pod, "case-app")
        target = next(e["value"] for e in app["env"] if e["name"] == "QUANZE_TARGET")
        sockets = [Path(rewrite(s, pod_root)) for s in target[len("unix:") :].split(",")]
        assert len(sockets) == 2
        for path in sockets:
            status = path.stat()
            assert stat.S_ISSOCK(status.st_mode)
            assert stat.S_IMODE(status.st_mode) == int(config["server"]["socket_mode"], 8)
            assert status.st_gid == int(config["server"]["socket_group"]) == QUANZE_UID
            # The application's user gets in through the pod's fsGroup; a stranger does not.
            assert connects(path, APP_UID, (QUANZE_UID,))
            assert not connects(path, STRANGER_UID)

        address = f"unix:{sockets[0]}"
        status = subprocess.run(
            [str(VENV_BIN / "quanze"), "status", "--format", "json", "--address", address],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        answer = yaml.safe_load(status.stdout)
        assert "+directory." in answer["active_revision"], answer
        assert answer["decision_log"]["enabled"] is True
    finally:
        log = stop(process)
    assert process.returncode == 0, log
    assert '"event": "policy_revision_active"' in log


def test_the_service_serves_mtls_and_its_probe_gets_through(pod_root: Path, tmp_path: Path) -> None:
    """service-mtls.yaml: the server's certificate from the Secret, the probe presenting it."""
    example = next(e for e in EXAMPLES if e.stem == "service-mtls")
    rendered = render_example(example, tmp_path)
    pod = quanze_pod(rendered)
    config = lay_out(rendered, pod_root)
    port = free_port()
    config["server"]["address"] = config["server"]["address"].replace(":8600", f":{port}")
    (pod_root / "etc/quanze/config.yaml").write_text(yaml.safe_dump(config))

    authority = CertificateAuthority(tmp_path)
    fullname = rendered.one("Deployment")["metadata"]["name"]
    server = authority.server(
        "server", dns=(f"{fullname}.cases.svc",), client_auth=True
    )  # what the chart's cert-manager Certificate asks for: server auth and client auth
    tls = Path(config["server"]["tls"]["cert"]).parent
    secret_file(tls / "tls.crt", server.cert_pem, fs_group=QUANZE_UID)
    secret_file(tls / "tls.key", server.key_pem, fs_group=QUANZE_UID)
    secret_file(tls / "ca.crt", authority.cert_pem, fs_group=QUANZE_UID)
    assert config["server"]["tls"]["client_ca"] == str(tls / "ca.crt")

    process = serve(pod_root, config)
    try:
        command = probe_command(container(pod)["readinessProbe"], pod_root, VENV_BIN)
        command = [c.replace(":8600", f":{port}") for c in command]
        probe_until_serving(command, process)
        plaintext = command[:3] + command[-1:]  # the same probe without TLS
        refused = subprocess.run(plaintext, capture_output=True, text=True, check=False)
        assert refused.returncode != 0
        assert "UNAVAILABLE" in refused.stderr
    finally:
        log = stop(process)
    assert process.returncode == 0, log


def test_the_sidecar_ships_its_decision_log_into_postgresql(
    pod_root: Path, tmp_path: Path, database_url: str
) -> None:
    """decisionLog.ship: the pod's records reach a real PostgreSQL, under the pod's name, and
    the last ones are drained into it when the pod stops."""
    values = tmp_path / "values.yaml"
    ship = {"databaseUrl": database_url, "password": {"secretName": "audit-db"}}
    values.write_text(yaml.safe_dump({"quanze": {"decisionLog": {"ship": ship}}}))
    rendered = template(app_chart(tmp_path), values, release="cases", work=tmp_path)
    pod = quanze_pod(rendered)
    config = lay_out(rendered, pod_root)
    assert config["decision_log"]["ship"] == {"database_url": database_url, "drain_seconds": 10}
    password = next(e for e in container(pod)["env"] if e["name"] == "PGPASSWORD")
    assert password["valueFrom"] == {"secretKeyRef": {"name": "audit-db", "key": "password"}}

    # The kubelet would resolve the Secret; the test server trusts local connections anyway.
    process = serve(pod_root, config, {"PGPASSWORD": "from-the-secret"})
    try:
        probe_until_serving(
            probe_command(container(pod)["readinessProbe"], pod_root, VENV_BIN), process
        )
        app = container(pod, "case-app")
        target = next(e["value"] for e in app["env"] if e["name"] == "QUANZE_TARGET")
        with Client(rewrite(target, pod_root), timeout=10) as client:
            answer = client.check(json.loads(CONTRACT_EXAMPLE))
    finally:
        log = stop(process)
    assert process.returncode == 0, log
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT stream FROM quanze.decisions WHERE decision_id = %s", (answer.decision_id,)
        ).fetchall()
    # One record, in the stream of the worker that answered, named by the pod (its host name).
    assert len(rows) == 1, rows
    assert rows[0][0] in {f"{socket.gethostname()}/w{i}" for i in range(2)}, log


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_examples_configuration_loads(example: Path, tmp_path: Path) -> None:
    """config.yaml as rendered is a valid Quanze configuration (files it names laid out)."""
    rendered = render_example(example, tmp_path)
    root = tmp_path / "pod"
    config = rewrite(config_of(rendered), root)
    authority = CertificateAuthority(tmp_path)
    issued = authority.server("server")
    for key, pem in (
        ("cert", issued.cert_pem),
        ("key", issued.key_pem),
        ("client_ca", authority.cert_pem),
    ):
        if key in config["server"].get("tls", {}):
            path = Path(config["server"]["tls"][key])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pem)
    for section in ("policies", "directory", "decision_log"):
        for key in ("allowed_signers_file", "signing_key_file"):
            if key in config.get(section, {}):
                Path(config[section][key]).parent.mkdir(parents=True, exist_ok=True)
                Path(config[section][key]).write_text("placeholder\n")
    directory = config.get("directory", {}).get("path", "")
    if directory.startswith(str(root)):
        Path(directory).parent.mkdir(parents=True, exist_ok=True)
        Path(directory).write_text(DIRECTORY.read_text())
    file = tmp_path / "config.yaml"
    file.write_text(yaml.safe_dump(config))
    quanze_config.load(file, environ={})


def test_git_credentials_reach_git(pod_root: Path, tmp_path: Path) -> None:
    """The token goes to git through the credential helper; SSH gets the key and known_hosts."""
    token_example = next(e for e in EXAMPLES if e.stem == "service-cert-manager")
    env = rewrite(env_of(render_example(token_example, tmp_path)), pod_root)
    secret_file(pod_root / "etc/quanze/git/token", b"s3cret-token\n", fs_group=QUANZE_UID)
    fill = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=git.procuratorate.example\n\n",
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(pod_root), "GIT_TERMINAL_PROMPT": "0", **env},
        check=True,
    )
    assert "username=quanze-reader\n" in fill.stdout
    assert "password=s3cret-token\n" in fill.stdout

    ssh_example = next(e for e in EXAMPLES if e.stem == "sidecar-git")
    (tmp_path / "ssh").mkdir()
    env = rewrite(env_of(render_example(ssh_example, tmp_path / "ssh")), pod_root)
    for name in ("ssh-privatekey", "known_hosts"):  # ssh lists an identity file only if it exists
        secret_file(pod_root / "etc/quanze/git" / name, b"placeholder\n", fs_group=QUANZE_UID)
    shown = subprocess.run(
        ["sh", "-c", env["GIT_SSH_COMMAND"] + " -G git.procuratorate.example"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    settings = set(shown.stdout.splitlines())
    assert f"identityfile {pod_root}/etc/quanze/git/ssh-privatekey" in settings
    assert f"userknownhostsfile {pod_root}/etc/quanze/git/known_hosts" in settings
    assert {"stricthostkeychecking true", "batchmode yes", "identitiesonly yes"} <= settings


def env_of(rendered: Any) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(quanze_pod(rendered)).get("env", [])}


def test_a_configmap_folder_of_links_is_refused_so_the_chart_mounts_one_file(
    tmp_path: Path,
) -> None:
    """Why `items` and directory.path to the file: the same volume named as a folder is refused."""
    folder = tmp_path / "directory"
    atomic_writer(folder, {"directory.json": DIRECTORY.read_text()})
    result = subprocess.run(
        [str(VENV_BIN / "quanze"), "directory", "check", str(folder)],
        capture_output=True, text=True, env=environment_without_quanze_settings(), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "symbolic link" in result.stdout + result.stderr
    single = subprocess.run(
        [str(VENV_BIN / "quanze"), "directory", "check", str(folder / "directory.json")],
        capture_output=True, text=True, env=environment_without_quanze_settings(), check=False,
    )  # fmt: skip
    assert single.returncode == 0, single.stdout + single.stderr


def test_a_disk_empty_dir_cannot_hold_the_cache_so_the_chart_uses_memory(
    pod_root: Path, tmp_path: Path
) -> None:
    """Quanze refuses a cache under a folder others may write that is not sticky (0777)."""
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump({"directory": {"source": "configMap", "configMap": {"name": "hr"}}})
    )
    rendered = template(CHART, values, work=tmp_path)
    config = lay_out(rendered, pod_root)
    atomic_writer(
        Path(config["directory"]["path"]).parent, {"directory.json": DIRECTORY.read_text()}
    )
    empty_dir(pod_root / "var/cache/quanze", memory=False, fs_group=QUANZE_UID)  # 2777
    process = serve(pod_root, config)
    assert process.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        "can be written by other accounts" in line for line in lines
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    reader.join(timeout=10)
    process.stderr.close()
    log = "".join(lines)
    assert "can be written by other accounts" in log, log
