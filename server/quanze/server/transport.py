"""Who may reach the sidecar: TLS credentials that follow their files, caller identities,
the allow-list, and Unix socket files (permissions, group, stale ones).

grpcio asks `CertificateFiles.fetch` for the certificate configuration at every new
connection's handshake; it rereads the files only when one of them changed, so a rotated
certificate serves new connections without a restart while existing ones keep theirs.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import ssl
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from quanze.server.config import ServerConfig, TlsConfig
from quanze.server.errors import QuanzeError
from quanze.server.listening import socket_gid, socket_mode_bits

log = structlog.get_logger("quanze.transport")
_T = TypeVar("_T")

HEALTH_PREFIX = "/grpc.health.v1.Health/"
# Methods that say how the sidecar runs rather than decide: `server.restrict_status`.
STATUS_METHODS = ("/quanze.v1.DecisionService/GetStatus",)
REFLECTION_PREFIX = "/grpc.reflection."


@dataclass(frozen=True)
class CallerIdentity:
    """The verified client certificate of a call (mTLS); empty on any other channel."""

    subject: str = ""
    sans: tuple[str, ...] = ()

    @property
    def authenticated(self) -> bool:
        return bool(self.subject or self.sans)

    def describe(self) -> str:
        if not self.authenticated:
            return "a caller without a client certificate"
        sans = f" (SANs: {', '.join(self.sans)})" if self.sans else ""
        return f"the caller {self.subject or '(no subject)'!r}{sans}"


def caller_identity(context: Any) -> CallerIdentity:
    """The subject and subject alternative names of the caller's certificate, as gRPC saw it."""
    auth = context.auth_context() or {}

    def texts(key: str) -> tuple[str, ...]:
        return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in auth.get(key, ()))

    subject = texts("x509_subject") or texts("x509_common_name")
    return CallerIdentity(subject[0] if subject else "", texts("x509_subject_alternative_name"))


class _FollowedFiles:
    """server.tls.* files, reread only when one changed (inode, size or modification time).

    A reading that fails — half-written during a rotation, a key that does not match, a file
    gone — keeps the last good one and is tried again at the next look.
    """

    def __init__(self, tls: TlsConfig) -> None:
        self._tls = tls
        self._paths = [Path(p) for p in (tls.cert, tls.key, tls.client_ca) if p]
        self._seen = _signature(self._paths)

    def reread(self, read: Callable[[], _T], listener: str) -> _T | None:
        """`read()` when a file changed since the last good reading, else None."""
        try:
            signature = _signature(self._paths)
            if signature == self._seen:
                return None
            result = read()
        except (OSError, ssl.SSLError, QuanzeError) as exc:
            log.warning("tls_reload_failed", error=str(exc), hint="serving the previous one")
            return None
        self._seen = signature
        log.info("tls_certificate_reloaded", cert=self._tls.cert, listener=listener)
        return result

    def checked_pair(self) -> tuple[bytes, bytes]:
        """The certificate and key, refused when they do not belong together."""
        tls = self._tls
        cert, key = Path(tls.cert).read_bytes(), Path(tls.key).read_bytes()
        _check_pair(cert, key, tls)
        return cert, key


class CertificateFiles(_FollowedFiles):
    """The server's certificate, key and client CA as grpcio wants them, reread on change."""

    def __init__(self, tls: TlsConfig) -> None:
        super().__init__(tls)
        self.initial = self._read()

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials whose certificate follows the files."""
        # grpcio's stub says the fetcher always returns a configuration; None means "unchanged".
        fetch: Callable[[], Any] = self.fetch
        return grpc.dynamic_ssl_server_credentials(
            self.initial,
            fetch,
            require_client_authentication=self._tls.require_client_cert,
        )

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when a file changed since the last look (grpcio asks at every
        handshake); None keeps the current."""
        return self.reread(self._read, "grpc")

    def _read(self) -> grpc.ServerCertificateConfiguration:
        cert, key = self.checked_pair()
        client_ca = Path(self._tls.client_ca).read_bytes() if self._tls.client_ca else None
        return grpc.ssl_server_certificate_configuration([(key, cert)], client_ca)


class FollowedSslContext(_FollowedFiles):
    """server.tls.* as an `ssl.SSLContext` (for the AuthZEN HTTP listener) that follows the
    files as `CertificateFiles` does for gRPC: `refresh` reloads them into the same context, so
    new handshakes get the new certificate.
    """

    def __init__(self, tls: TlsConfig) -> None:
        super().__init__(tls)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if tls.require_client_cert:
            self.context.verify_mode = ssl.CERT_REQUIRED
        self._load()

    def refresh(self) -> None:
        self.reread(self._load, "http")

    def _load(self) -> bool:
        # The pair checked first: OpenSSL would take a new certificate with the old key.
        self.checked_pair()
        self.context.load_cert_chain(self._tls.cert, self._tls.key)
        if self._tls.client_ca:
            self.context.load_verify_locations(self._tls.client_ca)
        return True


def _signature(paths: list[Path]) -> tuple[tuple[int, int, int], ...]:
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in (p.stat() for p in paths))


def _check_pair(cert: bytes, key: bytes, tls: TlsConfig) -> None:
    """Refuse a certificate and key that do not belong together (e.g. mid-rotation)."""
    try:
        public = x509.load_pem_x509_certificates(cert)[0].public_key()
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:
        raise QuanzeError(f"{tls.cert} / {tls.key}: not a PEM certificate and key: {exc}") from exc
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if public.public_bytes(der, spki) != private.public_key().public_bytes(der, spki):
        raise QuanzeError(f"the key in {tls.key} does not belong to the certificate in {tls.cert}")


Behaviour = Callable[..., Any]
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]  # generic in the stubs only


class AccessControl(grpc.aio.ServerInterceptor):
    """`server.tls.allowed_callers` and `server.restrict_status`, before any handler runs.

    Health is always answered (probes rarely hold a client certificate); everything else
    is refused to a caller outside the allow-list with PERMISSION_DENIED. With
    `restrict_status`, GetStatus and reflection answer only callers with a client certificate.
    """

    def __init__(self, allowed_callers: tuple[str, ...], *, restrict_status: bool) -> None:
        self._allowed = frozenset(allowed_callers)
        self._restrict_status = restrict_status

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(HEALTH_PREFIX):
            return handler
        status = method in STATUS_METHODS or method.startswith(REFLECTION_PREFIX)
        if not self._allowed and not (status and self._restrict_status):
            return handler
        return _guarded(handler, lambda context: self._refuse(context, method, status=status))

    async def _refuse(self, context: Any, method: str, *, status: bool) -> None:
        caller = caller_identity(context)
        if status and self._restrict_status and not caller.authenticated:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"{method} answers only callers with a client certificate "
                "(server.restrict_status: true); call over mTLS, or set it to false",
            )
        refused = refusal(self._allowed, caller)
        if refused:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, refused)


def refusal(allowed: frozenset[str], caller: CallerIdentity) -> str:
    """Why `server.tls.allowed_callers` refuses `caller` ("" when it may call, or no list)."""
    if not allowed or allowed.intersection((caller.subject, *caller.sans)):
        return ""
    return (
        f"{caller.describe()} is not allowed to call this sidecar; add its subject or "
        "one of its SANs to server.tls.allowed_callers"
    )


@functools.lru_cache(maxsize=64)
def certificate_identity(der: bytes | None) -> CallerIdentity:
    """A verified peer certificate (DER) as gRPC names it: RFC 4514 subject, then the SANs.
    Cached: a caller's every request over a kept-alive connection brings the same one."""
    if not der:
        return CallerIdentity()
    certificate = x509.load_der_x509_certificate(der)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans: tuple[str, ...] = ()
    else:
        sans = tuple(str(name.value) for name in names)
    return CallerIdentity(certificate.subject.rfc4514_string(), sans)


def _guarded(handler: Handler, check: Callable[[Any], Awaitable[None]]) -> Handler:
    """`handler` with `check(context)` (which aborts to refuse) run before it."""
    kind = ("unary" if not handler.request_streaming else "stream") + (
        "_unary" if not handler.response_streaming else "_stream"
    )
    inner: Behaviour = getattr(handler, kind)
    if handler.response_streaming:

        async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
            await check(context)
            async for response in inner(request, context):
                yield response

        behaviour: Behaviour = streaming
    else:

        async def unary(request: Any, context: Any) -> Any:
            await check(context)
            return await inner(request, context)

        behaviour = unary
    make = getattr(grpc, f"{kind}_rpc_method_handler")
    wrapped: Handler = make(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return wrapped


def socket_path(address: str) -> Path | None:
    """The file of a `unix:` address, None for TCP."""
    return Path(address[len("unix:") :]) if address.startswith("unix:") else None


def clear_stale_socket(address: str) -> None:
    """Remove a Unix socket file left by a stopped server; refuse anything else at that path.

    A socket someone answers on is live (another sidecar: refused); one that refuses the
    connection is stale (removed); a file that is not a socket is never deleted.
    """
    path = socket_path(address)
    if path is None:
        return
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise QuanzeError(
            f"cannot listen on {address}: {path} exists and is not a socket; it was left alone. "
            "Remove it yourself if it is not needed, or choose another --address unix:PATH"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        path.unlink()  # nobody listens: left by a process that did not stop cleanly
        log.info("stale_socket_removed", path=str(path))
        return
    except OSError as exc:
        raise QuanzeError(
            f"cannot listen on {address}: cannot tell whether {path} is in use "
            f"({errno.errorcode.get(exc.errno or 0, exc.errno)}: {exc.strerror}); it was left alone"
        ) from exc
    finally:
        probe.close()
    raise QuanzeError(
        f"cannot listen on {address}: another process (a running sidecar?) answers on {path}. "
        "Stop it first, or choose another --address unix:PATH"
    )


def prepare_socket(server: ServerConfig) -> int | None:
    """Give a freshly bound Unix socket its mode and group; its inode, None for TCP."""
    path = socket_path(server.address)
    if path is None:
        return None
    mode = socket_mode_bits(server.socket_mode)
    gid = socket_gid(server.socket_group) if server.socket_group else None
    try:
        if gid is not None:
            os.chown(path, -1, gid)
        if mode is not None:
            os.chmod(path, mode)
    except OSError as exc:
        raise QuanzeError(
            f"cannot give {path} mode {server.socket_mode} and group "
            f"{server.socket_group or '(unchanged)'}: {exc.strerror}; the sidecar must own the "
            "socket and be a member of server.socket_group"
        ) from exc
    return path.stat().st_ino


def remove_socket(address: str, inode: int | None) -> None:
    """Delete our socket file at shutdown, unless another process has replaced it since."""
    path = socket_path(address)
    if path is None or inode is None:
        return
    try:
        if path.lstat().st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass
