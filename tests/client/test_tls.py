"""The client over TLS and mTLS: PEM as bytes or paths, or a channel passed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from quanze.client import AsyncClient, CheckRequest, Client, UnavailableError
from quanze.server.config import Config, ServerConfig, TlsConfig
from quanze.server.testing import running_server
from tests.integration.certs import CertificateAuthority, Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificateAuthority, Issued]:
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    return ca, ca.client("app", common_name="app", dns=("app.quanze.test",))


@pytest.fixture(scope="module")
def mtls_sidecar(pki: tuple[CertificateAuthority, Issued]) -> Iterator[str]:
    ca, _ = pki
    server = ca.server()
    tls = TlsConfig(
        cert=str(server.cert),
        key=str(server.key),
        client_ca=str(ca.cert),
        require_client_cert=True,
    )
    config = Config(server=ServerConfig(shutdown_delay_seconds=0.0, tls=tls))
    with running_server(config) as address:
        yield f"localhost:{address.rsplit(':', 1)[1]}"


@pytest.mark.parametrize("form", ["bytes", "paths"])
def test_mtls_with_pem_as_bytes_or_paths(
    mtls_sidecar: str, pki: tuple[CertificateAuthority, Issued], guided: CheckRequest, form: str
) -> None:
    ca, app = pki
    pem = (ca.cert_pem, app.cert_pem, app.key_pem)
    paths = (str(ca.cert), app.cert, app.key)  # str or Path
    root, chain, key = pem if form == "bytes" else paths
    with Client(
        mtls_sidecar,
        timeout=5,
        root_certificates=root,
        certificate_chain=chain,
        private_key=key,
    ) as client:
        assert client.check(guided).allowed


def test_mtls_without_a_certificate_fails_closed(
    mtls_sidecar: str, pki: tuple[CertificateAuthority, Issued], guided: CheckRequest
) -> None:
    ca, _ = pki
    with Client(mtls_sidecar, timeout=5, root_certificates=ca.cert) as client:
        with pytest.raises(UnavailableError):
            client.check(guided)
        assert client.check_or_deny(guided).allowed is False


async def test_async_client_over_mtls(
    mtls_sidecar: str, pki: tuple[CertificateAuthority, Issued], guided: CheckRequest
) -> None:
    ca, app = pki
    async with AsyncClient(
        mtls_sidecar,
        timeout=5,
        root_certificates=ca.cert,
        certificate_chain=app.cert,
        private_key=app.key,
    ) as client:
        assert (await client.check(guided)).allowed


def test_a_channel_passed_in_is_used_and_left_open(
    mtls_sidecar: str, pki: tuple[CertificateAuthority, Issued], guided: CheckRequest
) -> None:
    ca, app = pki
    credentials = grpc.ssl_channel_credentials(ca.cert_pem, app.key_pem, app.cert_pem)
    with grpc.secure_channel(mtls_sidecar, credentials) as channel:
        with Client(mtls_sidecar, timeout=5, channel=channel) as client:
            assert client.check(guided).allowed
        with Client(mtls_sidecar, timeout=5, channel=channel) as again:
            assert again.check(guided).allowed  # the first client did not close it


def test_tls_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="certificate_chain and private_key go together"):
        Client("localhost:1", certificate_chain=b"pem")
    with pytest.raises(ValueError, match="root_certificates: cannot read"):
        Client("localhost:1", root_certificates=tmp_path / "absent.pem")
    with (
        grpc.insecure_channel("localhost:1") as channel,
        pytest.raises(ValueError, match="not both"),
    ):
        Client("localhost:1", channel=channel, root_certificates=b"pem")
