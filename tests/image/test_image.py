"""The container image: built by scripts/build-image, run by podman with a read-only root.

Opt-in (minutes, needs podman and mmdebstrap as root):
    CONTAINERS_CONF=deploy/image/containers.conf .venv/bin/pytest -m image tests/image
(CONTAINERS_CONF only on hosts that refuse podman's defaults; see that file.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quanze.client import Client
from tests.integration.certs import CertificateAuthority
from tests.integration.support import wait_serving
from tests.support import CONTRACT_EXAMPLE, environment_without_quanze_settings

pytestmark = pytest.mark.image

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/quanze:pytest"
CONFIG = "/etc/quanze/config.yaml"
UID = 10001
MAX_IMAGE_BYTES = 400_000_000  # measured 316 MB (docs/deploy-image.md); more is unexplained growth


def podman_environment() -> dict[str, str]:
    environment = environment_without_quanze_settings()
    if environment.get("CONTAINERS_CONF"):  # podman's helpers resolve it from elsewhere
        environment["CONTAINERS_CONF"] = str(Path(environment["CONTAINERS_CONF"]).resolve())
    return environment


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=podman_environment(),
    )
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr}"
    return result


def quanze(*args: str) -> subprocess.CompletedProcess[str]:
    """This checkout's `quanze` on the host, outside the container."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("quanze")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment_without_quanze_settings(),
    )


@pytest.fixture(scope="module")
def image() -> Iterator[dict[str, Any]]:
    """Build the image as the docs say, once for the module; its `podman image inspect`."""
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-image"), "--tag", TAG],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env=podman_environment(),
        cwd=ROOT,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    try:
        yield json.loads(podman("image", "inspect", TAG).stdout)[0]
    finally:
        podman("rmi", "--force", TAG, check=False)


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"quanze-pytest-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def in_image(script: str) -> str:
    """Run a shell script in the image as its user; its output."""
    return podman("run", "--rm", "--no-healthcheck", "--entrypoint", "sh", TAG, "-c", script).stdout


def test_image_is_non_root_serve_with_volumes_and_health(image: dict[str, Any]) -> None:
    settings = image["Config"]
    assert settings["User"] == f"{UID}:{UID}"
    assert settings["Entrypoint"] == ["quanze", "serve", "--config", CONFIG]
    assert set(settings["Volumes"]) == {"/run/quanze", "/var/cache/quanze", "/var/log/quanze"}
    assert set(settings["ExposedPorts"]) == {"8600/tcp", "9464/tcp"}
    assert image["Healthcheck"]["Test"] == ["CMD", "quanze", "health", "--config", CONFIG]
    assert settings["StopSignal"] == "SIGTERM"
    assert image["Size"] < MAX_IMAGE_BYTES, image["Size"]


def test_final_stage_has_no_compiler_no_pip_and_code_the_user_cannot_change(
    image: dict[str, Any],
) -> None:
    found = in_image(
        "for tool in gcc cc c++ g++ clang make ld as pip pip3 pip3.11; do"
        "  command -v $tool; done; ls /opt/quanze/bin | grep -i pip;"
        # Nothing but the volumes is the user's; nothing is anyone's to write but sticky
        # folders such as /tmp, where each may delete only their own files.
        f"  find / -xdev ! -type l \\( -user {UID} -o -perm -o+w ! -perm -1000 \\)"
        "  | grep -v -x -e /run/quanze -e /var/cache/quanze -e /var/log/quanze"
        "  -e /var/log/quanze/decisions; exit 0"  # grep -v selecting nothing exits 1
    )
    assert found == ""
    owners = in_image(f"id -u; id -g; stat -c '%u %a %n' /opt/quanze {CONFIG} /run/quanze")
    assert owners.splitlines() == [
        str(UID),
        str(UID),
        "0 755 /opt/quanze",
        f"0 644 {CONFIG}",
        f"{UID} 750 /run/quanze",
    ]


def test_serves_decides_logs_and_stops_cleanly_on_a_read_only_root(
    image: dict[str, Any], container_name: str, tmp_path: Path
) -> None:
    run, logs = tmp_path / "run", tmp_path / "log"
    run.mkdir()
    logs.mkdir()
    podman(
        "run", "--detach", "--name", container_name, "--read-only",
        # :U gives the host folders to the image's user, as a volume's owner would.
        "--volume", f"{run}:/run/quanze:U", "--volume", f"{logs}:/var/log/quanze:U",
        TAG,
    )  # fmt: skip
    address = f"unix:{run / 'quanze.sock'}"
    wait_serving(address, timeout=120)
    with Client(address, timeout=10) as client:
        answer = client.check(json.loads(CONTRACT_EXAMPLE))
    assert answer.decision is True
    # The image's own health check, as podman runs it, and the command it runs.
    assert podman("healthcheck", "run", container_name, check=False).returncode == 0
    health = podman("exec", container_name, "quanze", "health", "--config", CONFIG)
    assert health.stdout == "unix:/run/quanze/quanze.sock: SERVING\n"
    writes = podman("exec", container_name, "sh", "-c", "touch /opt/quanze/x /x", check=False)
    assert writes.stderr.count("Read-only file system") == 2
    podman("stop", "--time", "30", container_name, timeout=60)
    state = json.loads(podman("inspect", container_name).stdout)[0]["State"]
    assert state["ExitCode"] == 0, podman("logs", container_name).stderr
    verified = quanze("logs", "verify", "--format", "json", str(logs / "decisions"))
    report = json.loads(verified.stdout)
    assert report["verdict"] == "intact", verified.stdout
    assert report["streams"]["w0"]["records"] >= 1
    assert report["streams"]["w0"]["closed"] is True


def test_plaintext_tcp_off_loopback_is_refused_by_default(image: dict[str, Any]) -> None:
    result = podman(
        "run", "--rm", "--no-healthcheck", "--read-only",
        "--env", "QUANZE_SERVER_ADDRESS=0.0.0.0:8600", TAG,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "server.allow_insecure_remote" in result.stderr


def test_serves_mtls_over_tcp_with_certificates_from_a_volume(
    image: dict[str, Any], container_name: str, tmp_path: Path
) -> None:
    """The service shape: TCP port 8600, mTLS, settings from the environment."""
    tls = tmp_path / "tls"
    tls.mkdir()
    ca = CertificateAuthority(tls)
    server, caller = ca.server(), ca.client("case-app", common_name="case-app")
    inside = "/etc/quanze/tls"
    podman(
        "run", "--detach", "--name", container_name, "--read-only",
        "--volume", f"{tls}:{inside}:ro,U", "--publish", "127.0.0.1::8600",
        "--env", "QUANZE_SERVER_ADDRESS=0.0.0.0:8600",
        "--env", f"QUANZE_SERVER_TLS_CERT={inside}/{server.cert.name}",
        "--env", f"QUANZE_SERVER_TLS_KEY={inside}/{server.key.name}",
        "--env", f"QUANZE_SERVER_TLS_CLIENT_CA={inside}/{ca.cert.name}",
        "--env", "QUANZE_SERVER_TLS_REQUIRE_CLIENT_CERT=true",
        TAG,
    )  # fmt: skip
    port = podman("port", container_name, "8600").stdout.strip().rsplit(":", 1)[1]
    address = f"127.0.0.1:{port}"
    mtls = ["--tls-ca", str(ca.cert), "--tls-cert", str(caller.cert), "--tls-key", str(caller.key)]
    deadline = time.monotonic() + 120
    while True:
        health = quanze("health", "--address", address, *mtls)
        if health.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert health.stdout == f"{address}: SERVING\n", podman("logs", container_name).stderr
    with Client(
        address,
        timeout=10,
        root_certificates=ca.cert_pem,
        certificate_chain=caller.cert_pem,
        private_key=caller.key_pem,
    ) as client:
        assert client.check(json.loads(CONTRACT_EXAMPLE)).decision is True
    without_certificate = quanze(
        "health", "--address", address, "--tls-ca", str(ca.cert), "--timeout", "5"
    )
    assert without_certificate.returncode == 1
    assert "SERVING" not in without_certificate.stdout
