"""`quanze status`: which revision a running sidecar serves, and what it refused;
`quanze health`: whether it serves, by the standard gRPC health protocol (for probes)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quanze.server import config
from quanze.server.cli import ExitCode, Subcommands
from quanze.server.errors import QuanzeError
from quanze.server.policy.candidate import DIRECTORY_SEPARATOR
from quanze.v1 import decision_service_pb2 as pb
from quanze.v1 import decision_service_pb2_grpc as pb_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DecisionService"].full_name


def register(commands: Subcommands) -> None:
    status = commands.add_parser(
        "status",
        help="show which policy revision a running sidecar serves, and what it refused",
        description="Ask a running sidecar (GetStatus) for its active policy revision, when it "
        "was activated, the last revision it refused and why, and its decision-log counters. "
        "Exit status 0 while a revision serves, 1 otherwise.",
    )
    status.add_argument(
        "--address", default="127.0.0.1:8600", help="HOST:PORT or unix:PATH of the sidecar"
    )
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    _add_tls_options(status)
    status.set_defaults(run=_status)

    health = commands.add_parser(
        "health",
        help="check that a running sidecar serves (standard gRPC health), for probes",
        description="Ask a running sidecar's grpc.health.v1 service whether it serves. Exit "
        "status 0 when every address answers SERVING, 1 otherwise (NOT_SERVING: no policy "
        "revision yet, or shutting down; or unreachable). Without --address, the addresses "
        "come from the configuration (--config, QUANZE_* variables): each worker's socket.",
    )
    health.add_argument("--address", help="HOST:PORT or unix:PATH of the sidecar")
    health.add_argument("--config", metavar="FILE", help="the sidecar's YAML configuration")
    health.add_argument(
        "--service",
        default=SERVICE_NAME,
        help=f'the service whose health to ask ("" for the server; default {SERVICE_NAME})',
    )
    health.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    _add_tls_options(health)
    health.set_defaults(run=_health)


def _add_tls_options(parser: argparse.ArgumentParser) -> None:
    tls = parser.add_argument_group(
        "TLS", "for a sidecar with server.tls.*: any of these turns TLS on"
    )
    tls.add_argument("--tls-ca", metavar="PEM", help="CA that signed the sidecar's certificate")
    tls.add_argument("--tls-cert", metavar="PEM", help="client certificate chain, for mTLS")
    tls.add_argument("--tls-key", metavar="PEM", help="the client certificate's private key")
    tls.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="name to check the sidecar's certificate against, when --address does not carry it",
    )


def _channel(args: argparse.Namespace, address: str) -> grpc.Channel:
    """A channel to the sidecar: plaintext, or TLS (mTLS with --tls-cert and --tls-key)."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise QuanzeError("--tls-cert and --tls-key go together (the certificate and its key)")
    if not (args.tls_ca or args.tls_cert or args.tls_server_name):
        return grpc.insecure_channel(address)
    pem: dict[str, bytes | None] = {}
    for option, name in (
        ("tls_ca", "--tls-ca"),
        ("tls_cert", "--tls-cert"),
        ("tls_key", "--tls-key"),
    ):
        path = getattr(args, option)
        try:
            pem[option] = Path(path).read_bytes() if path else None
        except OSError as exc:
            raise QuanzeError(f"{name}: cannot read {path}: {exc.strerror}") from exc
    credentials = grpc.ssl_channel_credentials(pem["tls_ca"], pem["tls_key"], pem["tls_cert"])
    options = (
        [("grpc.ssl_target_name_override", args.tls_server_name)] if args.tls_server_name else []
    )
    return grpc.secure_channel(address, credentials, options=options)


def _status(args: argparse.Namespace) -> int:
    try:
        with _channel(args, args.address) as channel:
            reply = pb_grpc.DecisionServiceStub(channel).GetStatus(
                pb.GetStatusRequest(), timeout=args.timeout
            )
    except grpc.RpcError as exc:
        raise QuanzeError(
            f"cannot get the status of {args.address}: {exc.code().name}: {exc.details()}; "
            "is `quanze serve` running there? (--address HOST:PORT or unix:PATH; a TLS sidecar "
            "needs --tls-ca, and --tls-cert/--tls-key with mTLS)"
        ) from exc
    status = json_format.MessageToDict(
        reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    if args.format == "json":
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        print(_status_text(status))
    return ExitCode.OK if status["serving"] else ExitCode.FAILED


def _health(args: argparse.Namespace) -> int:
    addresses = [args.address] if args.address else _configured_addresses(args.config)
    serving = True
    for address in addresses:
        state = _health_of(args, address)
        print(f"{address}: {state}")
        serving = serving and state == "SERVING"
    return ExitCode.OK if serving else ExitCode.FAILED


def _configured_addresses(path: str | None) -> list[str]:
    """Where the configured sidecar listens: one TCP address, or each worker's socket."""
    return list(dict.fromkeys(config.load(path).worker_addresses()))


def _health_of(args: argparse.Namespace, address: str) -> str:
    """The health status name (SERVING, NOT_SERVING, ...) or why there is none."""
    try:
        with _channel(args, address) as channel:
            stub: Any = health_pb2_grpc.HealthStub(channel)  # grpc_health ships no types
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
    except grpc.RpcError as exc:
        return f"no answer: {exc.code().name}: {exc.details()}"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


_GATE = {
    "gated": "passed, run by this sidecar",
    "cached": "passed at {} in an earlier run (verdict cache); not run again",
    "policies cached": "passed: the directory check run by this sidecar, the policies' "
    "check and tests at {} in an earlier run (verdict cache)",
    "directory cached": "passed: the policies' gate run by this sidecar, the directory check "
    "at {} in an earlier run (verdict cache)",
}


def _status_text(status: dict[str, Any]) -> str:
    source, _, directory = status["policy_source"].partition(DIRECTORY_SEPARATOR)
    lines = [f"source            {source or '-'}"]
    if directory:
        lines.append(f"directory source  {directory}")
    lines += [
        f"active revision   {status['active_revision'] or 'none (not serving)'}",
        f"activated at      {status['activated_at'] or '-'}",
    ]
    gate = _GATE.get(status["active_gate"])
    if gate and status["active_revision"]:
        lines.append(f"gate              {gate.format(status['active_gate_cached_at'])}")
    lines.append(f"last checked at   {status['last_checked_at'] or '-'}")
    if status["last_failed_revision"] or status["last_error"]:
        lines.append(f"last refused      {status['last_failed_revision'] or '-'}")
        lines.append(f"refused at        {status['last_failed_at'] or '-'}")
        error = status["last_error"].splitlines() or [""]
        lines.append(f"error             {error[0]}")
        lines.extend(f"                  {line}" for line in error[1:])
    if status["source_error"]:
        lines.append(f"source error      {status['source_error'].splitlines()[0]}")
    decision_log = status.get("decision_log") or {}
    if decision_log.get("enabled"):
        lines.append(
            f"decision log      {decision_log['mode']}, stream {decision_log['stream']}: "
            f"{int(decision_log['decisions_logged']):,} logged, "
            f"{int(decision_log['records_lost']):,} lost, "
            f"{int(decision_log['records_refused']):,} refused, "
            f"last checkpoint {decision_log['last_checkpoint_at'] or '-'}"
        )
    else:
        lines.append("decision log      off")
    lines.append(
        f"overload          {int(status['calls_shed']):,} shed, "
        f"{int(status['calls_expired']):,} past their deadline, "
        f"at most {status['max_concurrent_calls']} calls at once"
    )
    lines.append(f"version           {status['version']}")
    return "\n".join(lines)
