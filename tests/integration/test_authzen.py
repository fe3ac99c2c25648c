"""AuthZEN 1.0 over HTTP against real `quanze serve` processes, with a real HTTP client.

Every answer is compared with what gRPC answers the same sidecar: the HTTP binding must be
the same decision service, not a second one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from quanze.client import Client, InvalidRequestError
from quanze.server.decisionlog import records
from quanze.server.policy.bundle import load_bundle
from quanze.server.policy.testing import load_decision_table
from tests.integration.certs import CertificateAuthority, Issued, serial_of
from tests.integration.load import DENIED, Sidecar, sidecar, worker_pids
from tests.integration.otlp import ReceivedSpan, Receiver
from tests.integration.support import start, wait_event, wait_until
from tests.integration.test_metrics import listening_ports
from tests.integration.test_transport import finish, served_serial
from tests.server.decisionlog.support import records_in

CASES = load_decision_table(load_bundle().root)
UNGUIDED = DENIED  # examples/assistant-unguided.json
# The parts of an answer both bindings must give alike (the decision id is per call).
SAME = ("reasons", "obligations", "escalate_to", "accountable", "policy_revision")

# The specification's own examples (AuthZEN 1.0, "HTTPS Binding"): their vocabulary is not
# ours, so each is refused as bad input naming the field, or denied per item; never allowed.
SPEC_EVALUATION = {
    "subject": {"type": "user", "id": "alice@acmecorp.com"},
    "resource": {"type": "todo", "id": "1"},
    "action": {"name": "can_read"},
    "context": {"time": "1985-10-26T01:22-07:00"},
}
SPEC_EVALUATIONS = {
    "subject": {"type": "user", "id": "alice@acmecorp.com"},
    "context": {"time": "2024-05-31T15:22-07:00"},
    "action": {"name": "can_read"},
    "evaluations": [
        {"resource": {"type": "document", "id": "boxcarring.md"}},
        {"resource": {"type": "document", "id": "subject-search.md"}},
        {"action": {"name": "can_edit"}, "resource": {"type": "document", "id": "x.md"}},
    ],
}
SPEC_SEARCH_ACTION = {
    "subject": {"type": "user", "id": "alice@acmecorp.com"},
    "resource": {"type": "account", "id": "123"},
    "context": {"time": "2024-10-26T01:22-07:00"},
}


def post(
    base: str,
    path: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of a POST; `body` bytes are sent as they are."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the test's own http(s) URLs
        base + path,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:  # noqa: S310
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def ours(answer: dict[str, Any]) -> dict[str, Any]:
    """An AuthZEN evaluation answer as the contract's answer (ours sit in its context)."""
    return {"decision": answer["decision"], **answer["context"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sidecar, str, Path]]:
    """Two workers with HTTP on, a decision log: (sidecar, HTTP base URL, log directory)."""
    where = tmp_path_factory.mktemp("authzen")
    log_dir = where / "decisions"
    with sidecar(
        where,
        "--workers=2",
        f"--decision-log={log_dir}",
        "--set=http.address=127.0.0.1:0",
    ) as server:
        http = server.wait_event("http_listening")["address"]
        yield server, f"http://{http}", log_dir


def test_every_decision_case_answers_as_grpc_check(served: tuple[Sidecar, str, Path]) -> None:
    server, base, _ = served
    with Client(server.address, timeout=60) as grpc_client:
        for case in CASES:
            status, answer, _ = post(base, "/access/v1/evaluation", case.request)
            assert status == 200, (case.name, answer)
            assert set(answer) == {"decision", "context"}
            http_answer = ours(answer)
            assert case.mismatches(http_answer) == [], case.name
            grpc_answer = grpc_client.check(case.request).to_dict()
            assert http_answer["decision"] is grpc_answer["decision"], case.name
            for key in SAME:
                assert http_answer[key] == grpc_answer[key], (case.name, key)


def test_evaluations_defaults_merge_and_results_keep_their_order(
    served: tuple[Sidecar, str, Path],
) -> None:
    server, base, _ = served
    cases = CASES[:40]
    batch = {"evaluations": [c.request for c in cases]}
    status, answer, _ = post(base, "/access/v1/evaluations", batch)
    assert status == 200, answer
    assert [a["decision"] for a in answer["evaluations"]] == [c.decision for c in cases]
    for case, item in zip(cases, answer["evaluations"], strict=True):
        assert case.mismatches(ours(item)) == [], case.name

    # Defaults: the subject, resource and context once; each item names its action.
    request = UNGUIDED
    actions = sorted(load_bundle().actions)[:12]
    defaults = {k: request[k] for k in ("subject", "resource", "context")}
    status, answer, _ = post(
        base,
        "/access/v1/evaluations",
        {**defaults, "evaluations": [{"action": {"name": a}} for a in actions]},
    )
    assert status == 200, answer
    with Client(server.address, timeout=60) as grpc_client:
        for action, item in zip(actions, answer["evaluations"], strict=True):
            single = grpc_client.check({**request, "action": {"name": action}}).to_dict()
            assert ours(item)["decision"] is single["decision"], action
            assert ours(item)["reasons"] == single["reasons"], action


@pytest.mark.parametrize("semantic", ["deny_on_first_deny", "permit_on_first_permit"])
def test_evaluations_stop_where_the_semantic_says(
    served: tuple[Sidecar, str, Path], semantic: str
) -> None:
    _, base, _ = served
    allowed = next(c for c in CASES if c.decision)
    denied = next(c for c in CASES if not c.decision)
    first, stopper = (allowed, denied) if semantic == "deny_on_first_deny" else (denied, allowed)
    items = [first.request, stopper.request, first.request, stopper.request]
    status, answer, _ = post(
        base,
        "/access/v1/evaluations",
        {"evaluations": items, "options": {"evaluations_semantic": semantic, "other": 1}},
    )
    assert status == 200, answer
    assert [a["decision"] for a in answer["evaluations"]] == [first.decision, stopper.decision]
    status, answer, _ = post(base, "/access/v1/evaluations", {"evaluations": items})
    assert status == 200, answer  # execute_all by default: every item, in order
    assert [a["decision"] for a in answer["evaluations"]] == [i.decision for i in (
        first, stopper, first, stopper)]  # fmt: skip
    status, answer, _ = post(
        base,
        "/access/v1/evaluations",
        {"evaluations": items, "options": {"evaluations_semantic": "all_at_once"}},
    )
    assert status == 400
    assert answer["error"]["field"] == "options.evaluations_semantic"


def test_search_action_is_list_allowed_actions(served: tuple[Sidecar, str, Path]) -> None:
    server, base, _ = served
    with Client(server.address, timeout=60) as grpc_client:
        for case in CASES[::25]:
            request = {k: v for k, v in case.request.items() if k != "action"}
            status, answer, _ = post(base, "/access/v1/search/action", request)
            assert status == 200, (case.name, answer)
            listed = grpc_client.allowed_actions(
                request["subject"], request["resource"], request.get("context", {})
            )
            expected = [{"name": d.action} for d in listed if d.answer.allowed]
            assert answer["results"] == expected, case.name
            assert answer["page"] == {"next_token": ""}
            assert answer["context"]["policy_revision"] == listed[0].answer.policy_revision


def grpc_refusal(client: Client, call: Any) -> str:
    """The message gRPC refuses a call with (INVALID_ARGUMENT), as "field: message"."""
    with pytest.raises(InvalidRequestError) as refused:
        call(client)
    return str(refused.value)


def test_the_specifications_examples(served: tuple[Sidecar, str, Path]) -> None:
    server, base, _ = served
    headers = {"X-Request-ID": "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"}
    status, answer, sent = post(base, "/access/v1/evaluation", SPEC_EVALUATION, headers=headers)
    assert sent["X-Request-ID"] == headers["X-Request-ID"]
    with Client(server.address, timeout=60) as grpc_client:
        # Its vocabulary is not ours: refused as gRPC refuses it, with the same words.
        expected = grpc_refusal(grpc_client, lambda c: c.check(SPEC_EVALUATION))
        assert status == 400, answer
        assert answer["error"]["message"] == expected
        assert expected.startswith(answer["error"]["field"] + ": ")

        status, answer, _ = post(base, "/access/v1/evaluations", SPEC_EVALUATIONS)
        assert status == 200, answer
        batch = grpc_client.check_batch(
            SPEC_EVALUATIONS["evaluations"],
            defaults={k: v for k, v in SPEC_EVALUATIONS.items() if k != "evaluations"},
        )
        assert [a["decision"] for a in answer["evaluations"]] == [False, False, False]
        assert [a["context"]["error"]["field"] for a in answer["evaluations"]] == [
            item.error.field for item in batch
        ]

        status, answer, _ = post(base, "/access/v1/search/action", SPEC_SEARCH_ACTION)
        expected = grpc_refusal(
            grpc_client,
            lambda c: c.allowed_actions(
                SPEC_SEARCH_ACTION["subject"],
                SPEC_SEARCH_ACTION["resource"],
                SPEC_SEARCH_ACTION["context"],
            ),
        )
        assert status == 400, answer
        assert answer["error"]["message"] == expected

    with urllib.request.urlopen(base + "/.well-known/authzen-configuration", timeout=60) as got:  # noqa: S310
        assert got.headers["Content-Type"].startswith("application/json")
        metadata = json.loads(got.read())
    assert metadata == {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }


MALFORMED: list[tuple[str, bytes | Any, str, int, str]] = [
    # (what, body, content type, status, the field named ("" for the body as a whole))
    ("not JSON", b'{"subject": ', "application/json", 400, ""),
    ("NaN", b'{"subject": {"type": "user", "id": "a", "properties": {"x": NaN}}}',
     "application/json", 400, ""),
    ("an array", [UNGUIDED], "application/json", 400, ""),
    ("id a number", {**UNGUIDED, "subject": {**UNGUIDED["subject"], "id": 7}},
     "application/json", 400, "subject.id"),
    ("properties a string", {**UNGUIDED, "resource": {"type": "case", "properties": "x"}},
     "application/json", 400, "resource.properties"),
    ("an unknown field", {**UNGUIDED, "verdict": True}, "application/json", 400, "verdict"),
    ("no action", {k: v for k, v in UNGUIDED.items() if k != "action"},
     "application/json", 400, "action"),
    ("no subject id", {**UNGUIDED, "subject": {"type": "user"}}, "application/json", 400,
     "subject.id"),
    ("a role of the wrong type", {**UNGUIDED, "subject": {**UNGUIDED["subject"], "properties": {
        **UNGUIDED["subject"]["properties"], "senior_stage": "yes"}}},
     "application/json", 400, "subject.properties.senior_stage"),
    ("huge", {**UNGUIDED, "context": {"pad": "x" * 300_000}}, "application/json", 413, ""),
    ("form-encoded", b"subject=x", "application/x-www-form-urlencoded", 415, ""),
]  # fmt: skip


def test_malformed_requests_are_refused_naming_the_field_and_never_logged_as_allow(
    served: tuple[Sidecar, str, Path],
) -> None:
    _, base, log_dir = served
    for what, body, content_type, status, field in MALFORMED:
        request_id = f"malformed-{what}"
        got, answer, headers = post(
            base,
            "/access/v1/evaluation",
            body,
            headers={"Content-Type": content_type, "X-Request-ID": request_id},
        )
        assert got == status, (what, answer)
        assert set(answer) == {"error"}, (what, answer)
        assert answer["error"]["status"] == status
        assert answer["error"].get("field", "") == field, (what, answer)
        if field:
            assert answer["error"]["message"].startswith(field), (what, answer)
        assert headers["X-Request-ID"] == request_id
    logged = records_in(log_dir, records.DECISION)
    assert not [r for r in logged if r.get("trace", {}).get("request_id", "").startswith(
        "malformed-")]  # fmt: skip


def test_decisions_are_logged_with_the_http_rpc_and_request_id(
    served: tuple[Sidecar, str, Path],
) -> None:
    _, base, log_dir = served
    request_id = "logged-evaluation-1"
    status, answer, headers = post(
        base, "/access/v1/evaluation", UNGUIDED, headers={"X-Request-ID": request_id}
    )
    assert status == 200
    assert headers["X-Request-ID"] == request_id
    logged = [
        r
        for r in records_in(log_dir, records.DECISION)
        if r.get("trace", {}).get("request_id") == request_id
    ]
    assert [r["decision_id"] for r in logged] == [answer["context"]["decision_id"]]
    assert logged[0]["rpc"] == "AuthZEN.evaluation"
    assert logged[0]["caller"]["peer"].startswith("ipv4:127.0.0.1:")


def test_without_http_address_nothing_but_grpc_listens(tmp_path: Path) -> None:
    with sidecar(tmp_path, "--workers=2") as server:
        grpc_port = int(server.address.rsplit(":", 1)[1])
        for pid in worker_pids(server).values():
            assert listening_ports(pid) == {grpc_port}
        assert not [e for e in list(server.events) if e["event"] == "http_listening"]


# ---------------------------------------------------------------------------- mTLS


def tls_context(ca: CertificateAuthority, who: Issued | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert))
    if who is not None:
        context.load_cert_chain(str(who.cert), str(who.key))
    return context


def test_mtls_answers_an_allowed_caller_and_refuses_others(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    server_certificate = ca.server()
    allowed = ca.client(
        "case-app", common_name="case-app", uris=("spiffe://quanze.test/ns/cases/sa/case-app",)
    )
    intruder = ca.client("intruder", common_name="intruder")
    tls = {
        "cert": str(server_certificate.cert),
        "key": str(server_certificate.key),
        "client_ca": str(ca.cert),
        "require_client_cert": True,
        "allowed_callers": ["spiffe://quanze.test/ns/cases/sa/case-app"],
    }
    config = tmp_path / "quanze.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"address": "127.0.0.1:0", "workers": 1, "tls": tls},
                "http": {"address": "127.0.0.1:0"},
            }
        )
    )
    process = start("--config", str(config), cwd=tmp_path)
    try:
        port = str(wait_event(process, "http_listening")["address"]).rsplit(":", 1)[1]
        wait_event(process, "policies_loaded")
        base = f"https://localhost:{port}"
        status, answer, _ = post(
            base, "/access/v1/evaluation", UNGUIDED, context=tls_context(ca, allowed)
        )
        assert status == 200, answer
        assert answer["decision"] is False
        assert answer["context"]["reasons"][0]["code"] == "assistant_requires_guidance"
        status, answer, _ = post(
            base, "/access/v1/evaluation", UNGUIDED, context=tls_context(ca, intruder)
        )
        assert status == 403, answer
        assert "server.tls.allowed_callers" in answer["error"]["message"]
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            post(base, "/access/v1/evaluation", UNGUIDED, context=tls_context(ca, None))
    finally:
        assert finish(process) == 0


def test_a_rotated_certificate_reaches_new_https_connections(tmp_path: Path) -> None:
    """As over gRPC: the files replaced one after the other, new connections get the new one."""
    ca = CertificateAuthority(tmp_path)
    first = ca.server()
    mounted = tmp_path / "mounted"  # where the sidecar reads them, as a secret volume
    mounted.mkdir()
    cert, key = mounted / "server.pem", mounted / "server-key.pem"
    shutil.copy(first.cert, cert)
    shutil.copy(first.key, key)
    config = tmp_path / "quanze.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {
                    "address": "127.0.0.1:0",
                    "workers": 1,
                    "tls": {"cert": str(cert), "key": str(key)},
                },
                "http": {"address": "127.0.0.1:0"},
            }
        )
    )
    process = start("--config", str(config), cwd=tmp_path)
    try:
        port = int(str(wait_event(process, "http_listening")["address"]).rsplit(":", 1)[1])
        wait_event(process, "policies_loaded")
        assert served_serial(port, ca.cert) == serial_of(first.cert_pem)
        rotated = ca.server("rotated", common_name="quanze-sidecar-rotated")
        for source, target in ((rotated.key, key), (rotated.cert, cert)):
            shutil.copy(source, mounted / "incoming")
            os.replace(mounted / "incoming", target)
        wait_until(
            lambda: served_serial(port, ca.cert) == serial_of(rotated.cert_pem),
            "new HTTPS connections are shown the rotated certificate",
            30,
        )
        status, answer, _ = post(
            f"https://localhost:{port}", "/access/v1/evaluation", UNGUIDED,
            context=ssl.create_default_context(cafile=str(ca.cert)),
        )  # fmt: skip
        assert status == 200, answer
    finally:
        assert finish(process) == 0


# ---------------------------------------------------------------------------- refusals


def test_calls_over_the_workers_limit_are_shed_with_429_and_not_logged(tmp_path: Path) -> None:
    log_dir = tmp_path / "decisions"
    allowed = next(c for c in CASES if c.decision).request
    with sidecar(
        tmp_path,
        "--workers=1",
        f"--decision-log={log_dir}",
        "--set=http.address=127.0.0.1:0",
        "--set=server.max_concurrent_calls=1",
    ) as server:
        base = f"http://{server.wait_event('http_listening')['address']}"
        outcomes: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        with ThreadPoolExecutor(24) as pool:
            for _ in range(5):  # how many calls overlap depends on the machine's load
                outcomes += pool.map(
                    lambda _: post(base, "/access/v1/evaluation", allowed), range(96)
                )
                if any(status == 429 for status, _, _ in outcomes):
                    break
    statuses = Counter(status for status, _, _ in outcomes)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429], statuses
    for status, answer, headers in outcomes:
        if status == 429:
            assert "server.max_concurrent_calls" in answer["error"]["message"]
            assert headers["Retry-After"] == "1"
        else:
            assert answer["decision"] is True
    assert len(records_in(log_dir, records.DECISION)) == statuses[200]


def test_no_policy_serving_is_503_never_an_answer(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text("package quanze.decision\n\ndecision := {\n")
    process = start(
        "--workers=1",
        "--address=127.0.0.1:0",
        f"--policies={policies}",
        "--set=http.address=127.0.0.1:0",
        cwd=tmp_path,
    )
    try:
        base = f"http://{wait_event(process, 'http_listening')['address']}"
        wait_event(process, "policy_revision_refused")
        status, answer, _ = post(base, "/access/v1/evaluation", UNGUIDED)
        assert status == 503, answer
        assert set(answer) == {"error"}
        status, answer, _ = post(base, "/access/v1/search/action", {"subject": {}})
        assert status in (400, 503), answer
        assert "results" not in answer
    finally:
        finish(process)


# ---------------------------------------------------------------------------- tracing


def test_an_evaluation_is_a_server_span_continuing_the_callers_trace(tmp_path: Path) -> None:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    with (
        Receiver() as receiver,
        sidecar(
            tmp_path,
            "--workers=1",
            "--set=http.address=127.0.0.1:0",
            f"--set=tracing.endpoint={receiver.endpoint}",
        ) as server,
    ):
        base = f"http://{server.wait_event('http_listening')['address']}"
        status, answer, _ = post(
            base,
            "/access/v1/evaluation",
            UNGUIDED,
            headers={"traceparent": f"00-{trace_id}-{parent}-01"},
        )
        assert status == 200, answer

        def ours() -> list[ReceivedSpan]:
            return [s for s in receiver.spans() if s.trace_id == trace_id]

        wait_until(ours, "the evaluation's span reached the receiver", 120)
        (span,) = ours()
    assert span.parent_span_id == parent
    assert span.span.name == "POST /access/v1/evaluation"
    assert span.span.kind == span.span.SPAN_KIND_SERVER
    assert span.attributes["rpc.method"] == "AuthZEN.evaluation"
    assert span.attributes["quanze.decision_id"] == answer["context"]["decision_id"]
    assert span.attributes["quanze.decision"] == "deny"
