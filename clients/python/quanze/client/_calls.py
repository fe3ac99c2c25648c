"""What the sync and async clients share: arguments, deadlines, errors, the fail-closed rule."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Literal

import grpc

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
