"""Where and how the sidecar listens: the address, TLS files, exposure off loopback, socket files.

The checks `config.load` runs on `server.*`, and the helpers the transport shares with them.
"""

from __future__ import annotations

import grp
import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quanze.server.config import ServerConfig


def listener_problems(server: ServerConfig) -> list[str]:
    """Every problem of the listener's settings: address, exposure, TLS, socket file."""
    problems = []
    address_problem = address_error(server.address)
    if address_problem:
        problems.append(f"server.address: {address_problem}")
    else:
        problems.extend(_exposure_problems(server))
    problems.extend(_tls_problems(server))
    problems.extend(_socket_problems(server))
    return problems


def _exposure_problems(server: ServerConfig) -> list[str]:
    """A plaintext listener off loopback, unless explicitly allowed."""
    if server.address.startswith("unix:") or uses_tls(server) or server.allow_insecure_remote:
        return []
    host = server.address.rsplit(":", 1)[0].strip("[]")
    if is_loopback(host):
        return []
    return [
        f"server.address: {server.address} is not a loopback address, and without TLS anyone "
        "who can reach it may ask for decisions and read them in clear text; configure "
        "server.tls.cert and server.tls.key (with server.tls.client_ca for mTLS), or set "
        "server.allow_insecure_remote: true if a mesh in front encrypts and authenticates callers"
    ]


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an IP address, without brackets) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def uses_tls(server: ServerConfig) -> bool:
    """Whether the listener speaks TLS (a certificate and key are configured)."""
    return bool(server.tls.cert and server.tls.key)


def _tls_problems(server: ServerConfig) -> list[str]:
    tls = server.tls
    problems = []
    if bool(tls.cert) != bool(tls.key):
        given, missing = ("cert", "key") if tls.cert else ("key", "cert")
        problems.append(
            f"server.tls.{given}: needs server.tls.{missing} too (a certificate and its key)"
        )
    if tls.client_ca and not uses_tls(server):
        problems.append(
            "server.tls.client_ca: needs server.tls.cert and server.tls.key (mTLS is TLS first)"
        )
    if tls.client_ca and not tls.require_client_cert:
        problems.append(
            "server.tls.client_ca: set server.tls.require_client_cert: true as well; grpcio cannot "
            "ask for an optional client certificate, so without it none would be checked"
        )
    if tls.require_client_cert and not tls.client_ca:
        problems.append(
            "server.tls.require_client_cert: needs server.tls.client_ca, the CA bundle that "
            "client certificates must chain to"
        )
    if tls.allowed_callers and not tls.require_client_cert:
        problems.append(
            "server.tls.allowed_callers: needs mTLS (server.tls.client_ca and "
            "server.tls.require_client_cert: true); without a client certificate no caller has "
            "an identity to allow"
        )
    for key, marker in (
        ("cert", b"-----BEGIN CERTIFICATE-----"),
        ("key", b"PRIVATE KEY-----"),
        ("client_ca", b"-----BEGIN CERTIFICATE-----"),
    ):
        file = getattr(tls, key)
        if file:
            problem = pem_file_error(file, marker)
            if problem:
                problems.append(f"server.tls.{key}: {problem}")
    return problems


def pem_file_error(file: str, marker: bytes) -> str:
    """Why `file` cannot serve as a PEM file holding `marker`, or "" when it can."""
    try:
        content = Path(file).read_bytes()
    except OSError as exc:
        return f"cannot read {file!r} ({exc.strerror})"
    if marker not in content:
        return f"{file!r} holds no PEM block with {marker.decode().strip('-')}"
    return ""


def _socket_problems(server: ServerConfig) -> list[str]:
    problems = []
    if socket_mode_bits(server.socket_mode) is None:
        problems.append(
            f"server.socket_mode: {server.socket_mode!r} is not an octal file mode such as 0660"
        )
    if server.socket_group and socket_gid(server.socket_group) is None:
        problems.append(
            f"server.socket_group: there is no group named {server.socket_group!r} "
            "(give a group name or a numeric gid)"
        )
    return problems


def socket_mode_bits(text: str) -> int | None:
    """The permission bits `text` (e.g. "0660", "660", "0o660") stands for, or None."""
    match = re.fullmatch(r"(?:0o?)?([0-7]{3})", text.strip())
    return int(match[1], 8) if match else None


def socket_gid(group: str) -> int | None:
    """The gid of `group` (a name or a number), or None when there is no such group."""
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:\s]+):(?P<port>\d+)$")


def address_error(address: str) -> str:
    """Why `address` is not `HOST:PORT` or `unix:PATH`, or "" when it is fine."""
    if address.startswith("unix:"):
        return (
            ""
            if address[len("unix:") :]
            else "unix: needs a socket path, e.g. unix:/run/quanze.sock"
        )
    return tcp_address_error(address, "HOST:PORT or unix:PATH (e.g. 127.0.0.1:8600)")


def tcp_address_error(address: str, expected: str) -> str:
    """Why `address` is not `HOST:PORT` (saying it is not `expected`), or "" when it is fine."""
    match = _HOST_PORT.match(address)
    if not match:
        return f"{address!r} is not {expected}"
    if int(match["port"]) > 65535:
        return f"port {match['port']} is out of range 0-65535"
    return ""
