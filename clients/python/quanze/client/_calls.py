"""What the sync and async clients share: arguments, deadlines, errors, the fail-closed rule."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeAlias

import grpc

from quanze.client._connections import DEFAULT_CONNECTIONS, OWN_CONNECTION, check_connections
from quanze.client.answers import Answer, sidecar_unavailable
from quanze.client.errors import (
    DeadlineExceededError,
    QuanzeClientError,
    SidecarError,
    UnavailableError,
    error_for_status,
)

Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]
ChannelOptions = Sequence[tuple[str, str | int]]
# PEM content as bytes, or the path of a PEM file as str or Path.
PemSource: TypeAlias = bytes | str | os.PathLike[str]

# Failures of the sidecar, not of the caller: check_or_deny turns these into a deny.
FAIL_CLOSED: tuple[type[QuanzeClientError], ...] = (
    UnavailableError,
    DeadlineExceededError,
    SidecarError,
)

log = logging.getLogger("quanze.client")


def check_target(target: str) -> str:
    """`target` if it is a usable address ("host:port" or "unix:/path")."""
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"target must be 'host:port' or 'unix:/path', got {target!r}")
    return target


def channel_credentials(
    channel: object,
    root_certificates: PemSource | None,
    certificate_chain: PemSource | None,
    private_key: PemSource | None,
) -> grpc.ChannelCredentials | None:
    """TLS credentials when any of the three is given (mTLS with chain and key), else None.

    Without `root_certificates` the system's trusted CAs verify the sidecar. The files are
    read here, so a missing one fails now rather than at the first call. A `channel` passed
    in carries its own credentials: TLS arguments beside it are refused.
    """
    pem = (root_certificates, certificate_chain, private_key)
    if channel is not None and any(p is not None for p in pem):
        raise ValueError("pass TLS files or a channel, not both: the channel has its credentials")
    if (certificate_chain is None) != (private_key is None):
        raise ValueError("certificate_chain and private_key go together (mTLS needs both)")
    if root_certificates is None and certificate_chain is None:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(root_certificates, "root_certificates"),
        private_key=_pem(private_key, "private_key"),
        certificate_chain=_pem(certificate_chain, "certificate_chain"),
    )


def _pem(source: PemSource | None, name: str) -> bytes | None:
    if source is None or isinstance(source, bytes):
        return source
    if isinstance(source, str | os.PathLike):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise ValueError(f"{name}: cannot read {os.fspath(source)!r}: {exc.strerror}") from exc
    raise TypeError(f"{name} must be PEM bytes or a file path, got {type(source).__name__}")


def check_timeout(timeout: float) -> float:
    """`timeout` if it is a usable deadline in seconds."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def deadline(default: float, override: float | None) -> float:
    """The deadline of one call: the per-call `timeout=` or else the client's default."""
    return default if override is None else check_timeout(override)


def translate(exc: grpc.RpcError, target: str) -> QuanzeClientError:
    """The client error for a failed gRPC call."""
    if isinstance(exc, grpc.Call | grpc.aio.AioRpcError):
        code, details = exc.code(), exc.details()
        name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
        return error_for_status(name, details or "", target)
    return error_for_status("UNKNOWN", str(exc), target)


def deny_for(error: QuanzeClientError) -> Answer:
    """The fail-closed deny for a sidecar failure; logged, since the caller sees only a deny."""
    log.warning("quanze sidecar failed (%s), answering deny: %s", error.code, error)
    return sidecar_unavailable()


def connection_count(connections: int | None, channel: object) -> int:
    """How many connections a client opens: `connections`, by default 4; 1 with a `channel`."""
    if channel is not None:
        if connections not in (None, 1):
            raise ValueError("pass connections or a channel, not both: the channel is one")
        return 1
    return check_connections(DEFAULT_CONNECTIONS if connections is None else connections)


def connection_options(options: ChannelOptions, connections: int) -> list[tuple[str, str | int]]:
    """The channel options of each connection: each its own, when there are several."""
    return [*options, OWN_CONNECTION] if connections > 1 else list(options)
