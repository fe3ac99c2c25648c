"""The decision log's on-disk format: file names, record serialisation, the hash chain, signing.

Everything that writes or reads a decision log agrees through this module, so the format is
defined once. A log directory holds one or more *streams* (one per writer process); each stream
is a sequence of files whose records form one hash chain:

- every record is one line of compact JSON (UTF-8) with `seq` (1, 2, 3, … per stream) and
  `prev_hash`, the SHA-256 (hex) of the previous record's line without its newline;
- the first record of a new stream has `prev_hash` = `GENESIS_HASH`;
- the chain continues across rotated files and across restarts of the writer;
- `checkpoint` records are signed: the signature covers the stream, `seq`, `prev_hash` (and so,
  through the chain, every record before it), the timestamp and `retained_from_seq`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from quanze.server.errors import QuanzeError

GENESIS_HASH = "0" * 64
FORMAT_VERSION = 1

# Record types.
START = "start"
DECISION = "decision"
CHECKPOINT = "checkpoint"
RECORD_TYPES = (START, DECISION, CHECKPOINT)

_FILE_NAME = re.compile(
    r"^decisions-(?P<stream>[a-z0-9]+)-(?P<number>\d{6,})-(?P<started>\d{8}T\d{6}Z)"
    r"\.jsonl(?P<gz>\.gz)?$"
)


def dumps(record: dict[str, Any]) -> str:
    """One record as the exact line written (without the newline)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def line_hash(line: bytes) -> str:
    """The chain hash of one record line (bytes without the trailing newline)."""
    return hashlib.sha256(line).hexdigest()


def parse_timestamp(text: str) -> datetime:
    """Read a record timestamp (or any ISO 8601 time; naive means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, order=True)
class LogFile:
    """One file of a stream; files of a stream sort by `number`."""

    stream: str
    number: int
    started: str
    path: Path

    @property
    def compressed(self) -> bool:
        return self.path.suffix == ".gz"

    def as_found(self) -> list[LogFile]:
        """Where to look for this file on a live log: as listed, then (for a plain file) as
        the `.gz` that rotation turns it into between listing and opening."""
        if self.compressed:
            return [self]
        gzipped = self.path.with_name(self.path.name + ".gz")
        return [self, LogFile(self.stream, self.number, self.started, gzipped)]


def file_name(stream: str, number: int, started: datetime) -> str:
    """`decisions-<stream>-<number>-<UTC start>.jsonl`: names of a stream sort in order."""
    return f"decisions-{stream}-{number:06d}-{started.astimezone(UTC):%Y%m%dT%H%M%SZ}.jsonl"


def parse_file_name(path: Path) -> LogFile | None:
    """The `LogFile` a path names, or None if it is not a decision-log file."""
    match = _FILE_NAME.match(path.name)
    if not match:
        return None
    return LogFile(match["stream"], int(match["number"]), match["started"], path)


def list_streams(directory: Path) -> dict[str, list[LogFile]]:
    """Every stream in `directory` with its files in order (a `.jsonl` wins over its `.gz`)."""
    if not directory.is_dir():
        raise QuanzeError(f"{directory} is not a directory of decision logs")
    by_key: dict[tuple[str, int], LogFile] = {}
    for path in directory.iterdir():
        log_file = parse_file_name(path)
        if log_file is None:
            continue
        key = (log_file.stream, log_file.number)
        # During compression both may exist for a moment; the uncompressed one is complete.
        if key not in by_key or not log_file.compressed:
            by_key[key] = log_file
    streams: dict[str, list[LogFile]] = {}
    for log_file in sorted(by_key.values()):
        streams.setdefault(log_file.stream, []).append(log_file)
    return streams


# ---------------------------------------------------------------------------- signing


def checkpoint_message(record: dict[str, Any], stream: str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    fields = (
        "quanze-checkpoint-v1",
        stream,
        str(record["seq"]),
        str(record["prev_hash"]),
        str(record["timestamp"]),
        str(record.get("retained_from_seq", 1)),
    )
    return "\n".join(fields).encode()


class Signer:
    """Signs checkpoints with an HMAC-SHA256 secret or an Ed25519 private key."""

    def __init__(self, algorithm: str, key: Any, key_id: str) -> None:
        self.algorithm = algorithm
        self._key = key
        self.key_id = key_id

    def sign(self, message: bytes) -> dict[str, str]:
        if self.algorithm == "none":
            return {"alg": "none", "key_id": "", "value": ""}
        if self.algorithm == "hmac-sha256":
            raw = hmac.new(self._key, message, hashlib.sha256).digest()
        else:
            raw = self._key.sign(message)
        return {
            "alg": self.algorithm,
            "key_id": self.key_id,
            "value": base64.b64encode(raw).decode(),
        }


UNSIGNED = Signer("none", None, "")


def load_signer(path: Path | None) -> Signer:
    """The signer for a key file: an Ed25519 private key (PEM) or an HMAC secret (any bytes)."""
    if path is None:
        return UNSIGNED
    data = _read_key(path)
    if b"PRIVATE KEY" in data:
        private = _ed25519_private(data, path)
        return Signer("ed25519", private, _ed25519_key_id(private.public_key()))
    if b"PUBLIC KEY" in data:
        raise QuanzeError(
            f"{path} holds a public key; the writer needs the Ed25519 private key "
            "(verify with the public one)"
        )
    secret = data.strip()
    if len(secret) < 16:
        raise QuanzeError(f"{path}: an HMAC secret must be at least 16 bytes")
    return Signer("hmac-sha256", secret, _hmac_key_id(secret))


class SignatureChecker:
    """Checks checkpoint signatures with an HMAC secret or an Ed25519 public/private key."""

    def __init__(self, path: Path) -> None:
        data = _read_key(path)
        self._hmac: bytes | None = None
        self._public: Any = None
        if b"PRIVATE KEY" in data:
            self._public = _ed25519_private(data, path).public_key()
        elif b"PUBLIC KEY" in data:
            public = serialization.load_pem_public_key(data)
            if not isinstance(public, ed25519.Ed25519PublicKey):
                raise QuanzeError(f"{path} is not an Ed25519 public key")
            self._public = public
        else:
            self._hmac = data.strip()
        self.key_id = (
            _hmac_key_id(self._hmac) if self._hmac is not None else _ed25519_key_id(self._public)
        )

    def problem(self, signature: Any, message: bytes) -> str:
        """Why `signature` does not sign `message` with this key, or "" when it does."""
        if not isinstance(signature, dict):
            return "the checkpoint has no signature"
        algorithm = signature.get("alg")
        if algorithm == "none":
            return "the checkpoint is unsigned"
        if signature.get("key_id") != self.key_id:
            return f"signed with key {signature.get('key_id')!r}, not {self.key_id!r}"
        try:
            raw = base64.b64decode(str(signature.get("value", "")), validate=True)
        except ValueError:
            return "the signature is not base64"
        if algorithm == "hmac-sha256" and self._hmac is not None:
            expected = hmac.new(self._hmac, message, hashlib.sha256).digest()
            return "" if hmac.compare_digest(raw, expected) else "the signature does not match"
        if algorithm == "ed25519" and self._public is not None:
            try:
                self._public.verify(raw, message)
            except InvalidSignature:
                return "the signature does not match"
            return ""
        return f"signature algorithm {algorithm!r} does not fit the given key"


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise QuanzeError(f"cannot read the key file {path}: {exc.strerror}") from exc


def _ed25519_private(data: bytes, path: Path) -> Any:
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise QuanzeError(f"{path}: cannot read the private key ({exc})") from exc
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise QuanzeError(f"{path}: only Ed25519 private keys are supported")
    return private


def _ed25519_key_id(public: Any) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def _hmac_key_id(secret: bytes) -> str:
    # A hash of a hash: identifies the key without helping anyone guess it.
    return "hmac:" + hashlib.sha256(hashlib.sha256(secret).digest()).hexdigest()[:16]
