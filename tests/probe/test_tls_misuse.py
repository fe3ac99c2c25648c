"""TLS misuse against real sidecars: every misuse is refused with the right status, no decision
is made and nothing is logged.

Sidecars: mTLS with an allow-list (the case application's SPIFFE id), plaintext, and TLS with
an expired server certificate, each with a decision log. Each misuse sends Check, CheckBatch and
ListAllowedActions with a request the policies allow; a handshake that fails is UNAVAILABLE, a
certificate not on the allow-list PERMISSION_DENIED. The sidecars' logs hold the records of the
well-behaved control calls and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from quanze.v1 import decision_service_pb2 as pb
from tests.integration.certs import CertificateAuthority, Issued
from tests.integration.load import Sidecar
from tests.probe.report import Probe
from tests.probe.sidecars import call, decision_ids, raw_stub, sidecar
from tests.probe.wire import EXAMPLE

pytestmark = pytest.mark.probe

CASE_APP = "spiffe://quanze.test/ns/cases/sa/case-app"
HANDSHAKE_REFUSED = {"UNAVAILABLE"}


@dataclass(frozen=True)
class Pki:
    ca: CertificateAuthority
    other_ca: CertificateAuthority  # trusted by nobody
    server: Issued
    expired_server: Issued
    case_app: Issued  # on the allow-list
    expired_case_app: Issued
    intruder: Issued  # the right CA, not on the allow-list
    forged_case_app: Issued  # the case application's identity, from the other CA


def make_pki(directory: Path) -> Pki:
    ca = CertificateAuthority(directory)
    other = CertificateAuthority(directory, name="Other CA")
    app: dict[str, Any] = {"common_name": "case-app", "uris": (CASE_APP,)}
    return Pki(
        ca,
        other,
        ca.server(),
        ca.server("expired-server", expired=True),
        ca.client("case-app", **app),
        ca.client("expired-case-app", expired=True, **app),
        ca.client("intruder", common_name="intruder", dns=("intruder.quanze.test",)),
        other.client("forged-case-app", **app),
    )


@dataclass
class Sidecars:
    mtls: Sidecar
    plaintext: Sidecar
    expired: Sidecar
    logs: dict[str, Path]


def tls_port(found: Sidecar) -> str:
    return f"localhost:{found.address.rsplit(':', 1)[1]}"


def tls_channel(
    found: Sidecar,
    root: CertificateAuthority,
    client: Issued | None = None,
    name: str | None = None,
) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root.cert_pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    options: list[tuple[str, Any]] = [("grpc.use_local_subchannel_pool", 1)]
    if name:
        options.append(("grpc.ssl_target_name_override", name))
    return grpc.secure_channel(tls_port(found), credentials, options=options)


def plain_channel(found: Sidecar) -> grpc.Channel:
    return grpc.insecure_channel(found.address, options=[("grpc.use_local_subchannel_pool", 1)])


@contextlib.contextmanager
def serving(pki: Pki, directory: Path) -> Iterator[Sidecars]:
    def tls(server: Issued, **more: Any) -> dict[str, Any]:
        return {"tls": {"cert": str(server.cert), "key": str(server.key), **more}}

    mtls = tls(
        pki.server,
        client_ca=str(pki.ca.cert),
        require_client_cert=True,
        allowed_callers=[CASE_APP],
    )
    logs = {name: directory / name / "log" for name in ("mtls", "plaintext", "expired")}
    configs = {"mtls": mtls, "plaintext": {}, "expired": tls(pki.expired_server)}
    with contextlib.ExitStack() as stack:
        started = {}
        for name, server in configs.items():
            (directory / name).mkdir()
            settings = {"server": server, "decision_log": {"directory": str(logs[name])}}
            started[name] = stack.enter_context(sidecar(directory / name, settings))
        yield Sidecars(started["mtls"], started["plaintext"], started["expired"], logs)


def misuses(pki: Pki, s: Sidecars) -> list[tuple[str, str, Callable[[], grpc.Channel], set[str]]]:
    """(misuse, sidecar, channel, the statuses that refuse it rightly)."""
    return [
        (
            "plaintext_client_to_a_tls_port",
            "mtls",
            lambda: plain_channel(s.mtls),
            HANDSHAKE_REFUSED,
        ),
        (
            "tls_client_to_a_plaintext_port",
            "plaintext",
            lambda: tls_channel(s.plaintext, pki.ca, pki.case_app),
            HANDSHAKE_REFUSED,
        ),
        (
            "client_trusts_another_ca",
            "mtls",
            lambda: tls_channel(s.mtls, pki.other_ca, pki.case_app),
            HANDSHAKE_REFUSED,
        ),
        (
            "expired_client_certificate",
            "mtls",
            lambda: tls_channel(s.mtls, pki.ca, pki.expired_case_app),
            HANDSHAKE_REFUSED,
        ),
        (
            "expired_server_certificate",
            "expired",
            lambda: tls_channel(s.expired, pki.ca),
            HANDSHAKE_REFUSED,
        ),
        (
            "client_certificate_missing",
            "mtls",
            lambda: tls_channel(s.mtls, pki.ca),
            HANDSHAKE_REFUSED,
        ),
        (
            "client_certificate_from_another_ca",
            "mtls",
            lambda: tls_channel(s.mtls, pki.ca, pki.forged_case_app),
            HANDSHAKE_REFUSED,
        ),
        (
            "client_not_on_the_allow_list",
            "mtls",
            lambda: tls_channel(s.mtls, pki.ca, pki.intruder),
            {"PERMISSION_DENIED"},
        ),
        (
            "server_certificate_for_another_name",
            "mtls",
            lambda: tls_channel(s.mtls, pki.ca, pki.case_app, name="other.quanze.test"),
            HANDSHAKE_REFUSED,
        ),
        (
            "server_certificate_as_client_certificate",
            "mtls",
            lambda: tls_channel(s.mtls, pki.ca, pki.server),
            HANDSHAKE_REFUSED | {"PERMISSION_DENIED"},
        ),
    ]


def messages() -> dict[str, Any]:
    listing = {k: v for k, v in EXAMPLE.items() if k != "action"}
    return {
        "Check": json_format.ParseDict(EXAMPLE, pb.CheckRequest()),
        "CheckBatch": json_format.ParseDict(
            {**EXAMPLE, "evaluations": [{}, {"action": {"name": "record.take"}}]},
            pb.CheckBatchRequest(),
        ),
        "ListAllowedActions": json_format.ParseDict(listing, pb.ListAllowedActionsRequest()),
    }


def test_tls_misuse_is_refused_and_nothing_is_decided(tmp_path: Path, probe: Probe) -> None:
    pki = make_pki(tmp_path)
    control: dict[str, set[str]] = {"mtls": set(), "plaintext": set(), "expired": set()}
    seen: dict[str, dict[str, str]] = {}
    with serving(pki, tmp_path) as s:
        for name, where, channel, refused in misuses(pki, s):
            for method, message in messages().items():
                with channel() as opened:
                    status, answer, details = call(raw_stub(opened, method), message, timeout=10)
                probe.answered(
                    {"misuse": name, "rpc": method}, status, allowed=_allows(answer), invalid=True
                )
                seen.setdefault(name, {})[method] = status
                if status not in refused:
                    probe.fail(
                        f"{name}_got_{status}",
                        {"misuse": name, "sidecar": where, "rpc": method},
                        {"status": status, "details": details[:300], "wanted": sorted(refused)},
                    )
        # Well-behaved callers are answered (and only their calls are recorded).
        for where, channel in (
            ("mtls", lambda: tls_channel(s.mtls, pki.ca, pki.case_app)),
            ("plaintext", lambda: plain_channel(s.plaintext)),
        ):
            with channel() as opened:
                status, answer, details = call(raw_stub(opened, "Check"), messages()["Check"])
            if status != "OK" or not answer.decision:
                probe.fail("control_call_not_allowed", {"sidecar": where}, [status, details])
            else:
                control[where].add(answer.decision_id)
        logged = {name: decision_ids(log) for name, log in s.logs.items()}
    probe.fact("statuses_by_misuse", seen)
    probe.fact("control_calls", {k: len(v) for k, v in control.items()})
    for name, ids in logged.items():
        if ids != control[name]:
            probe.fail(
                "decision_logged_for_a_refused_caller",
                {"sidecar": name},
                {"records": len(ids), "of_control_calls": len(ids & control[name])},
            )
    probe.verdict()


def _allows(answer: Any) -> bool:
    if answer is None:
        return False
    if isinstance(answer, pb.CheckResponse):
        return answer.decision
    if isinstance(answer, pb.CheckBatchResponse):
        return any(item.answer.decision for item in answer.evaluations)
    return any(a.answer.decision for a in answer.actions)
