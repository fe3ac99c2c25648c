"""The OPA engine: real HTTP to an OPA-compatible server; the same answers; fail closed.

`FakeOpa` answers as OPA's REST Data API documents, deciding with the bundled policies through
RegorusEngine on one dedicated thread (regorus engines are thread-bound). Tests can make it
misbehave in each way a real OPA or the network can.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from quanze.server.decisions import Decider
from quanze.server.engine.opa_engine import OpaEngine, path_error, url_error
from quanze.server.engine.regorus_engine import RegorusEngine
from quanze.server.errors import ConfigError, EvaluationError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.policy.testing import DecisionCase
from tests.support import free_port

TIMEOUT_S = 10.0  # generous: these tests check answers, not speed, on a loaded machine


@dataclass(frozen=True)
class Reply:
    """A scripted HTTP answer; `stall_s` pauses after the headers and half the body;
    `drop` closes the connection without answering."""

    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    stall_s: float = 0.0
    content_type: str = "application/json"
    drop: bool = False


class FakeOpa:
    """A real HTTP/1.1 server on 127.0.0.1 that answers like OPA's Data API."""

    def __init__(self, bundle: PolicyBundle, package: str = "quanze/authz") -> None:
        self.package = package
        self.revision: str | None = None  # what `?provenance=true` reports
        self.reply: Reply | None = None  # set to misbehave on every request
        self.replies: list[Reply] = []  # or on the next few, first to last
        self.connections = 0
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, parsed body)
        self._local = threading.local()

        def build() -> None:
            self._local.engine = RegorusEngine(bundle)

        # One thread builds and uses the engine, whichever handler thread asks. Built now: a
        # compile inside the first request would count against the client's timeout.
        self._regorus = ThreadPoolExecutor(1, "fake-opa-regorus", initializer=build)
        self._regorus.submit(lambda: None).result()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def evaluate(self, rule_path: str, input_doc: Any) -> Any:
        """The document at `rule_path` for `input_doc`; `_UNDEFINED` when it is undefined."""
        return self._regorus.submit(self._evaluate, rule_path, input_doc).result()

    def _evaluate(self, rule_path: str, input_doc: Any) -> Any:
        engine: RegorusEngine = self._local.engine
        try:
            if rule_path == f"{self.package}/decision":
                return engine.decide(input_doc)
            if rule_path == f"{self.package}/decisions":
                return engine.decide_all(input_doc)
        except EvaluationError as exc:
            if "undefined" in str(exc):
                return _UNDEFINED
            raise
        return _UNDEFINED

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        # Garbage of this thread's regorus objects (e.g. a module fixture's) dropped here first:
        # the collection on the fake's thread below would otherwise drop them there, and fail.
        gc.collect()

        def drop() -> None:
            # regorus objects must be dropped on the thread that built them.
            del self._local.engine
            gc.collect()

        self._regorus.submit(drop).result()
        self._regorus.shutdown()


_UNDEFINED = object()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpa

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not a test failure


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as OPA (Go net/http) does
    disable_nagle_algorithm = True  # as Go does: no 40 ms Nagle/delayed-ACK stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            fake.requests.append(("POST", url.path, None))
            self._send(400, {"code": "invalid_parameter", "message": f"malformed body: {exc}"})
            return
        fake.requests.append(("POST", url.path, body))
        scripted = fake.replies.pop(0) if fake.replies else fake.reply
        if scripted is not None:
            self._send_scripted(scripted)
            return
        if not url.path.startswith("/v1/data/"):
            self._send(404, {"code": "resource_not_found", "message": "not found"})
            return
        try:
            result = fake.evaluate(url.path[len("/v1/data/") :], body.get("input"))
        except EvaluationError as exc:
            self._send(500, {"code": "internal_error", "message": str(exc)})
            return
        answer: dict[str, Any] = {} if result is _UNDEFINED else {"result": result}
        if parse_qs(url.query).get("provenance") == ["true"]:
            bundles = {"quanze": {"revision": fake.revision}} if fake.revision else {}
            answer["provenance"] = {"version": "fake", "bundles": bundles}
        self._send(200, answer)

    def _send(self, status: int, document: Any) -> None:
        self._send_scripted(Reply(status, json.dumps(document, ensure_ascii=False).encode()))

    def _send_scripted(self, reply: Reply) -> None:
        time.sleep(reply.delay_s)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        half = len(reply.body) // 2
        self.wfile.write(reply.body[:half])
        self.wfile.flush()
        time.sleep(reply.stall_s)
        self.wfile.write(reply.body[half:])


@pytest.fixture(scope="module")
def fake_opa(bundle: PolicyBundle) -> Iterator[FakeOpa]:
    fake = FakeOpa(bundle)
    yield fake
    fake.close()


@pytest.fixture
def opa(fake_opa: FakeOpa) -> Iterator[FakeOpa]:
    """The shared fake, well-behaved at the start of each test."""
    fake_opa.reply = None
    fake_opa.replies = []
    fake_opa.revision = None
    yield fake_opa
    fake_opa.reply = None
    fake_opa.replies = []


@pytest.fixture
def engine(opa: FakeOpa) -> Iterator[OpaEngine]:
    opa_engine = OpaEngine(opa.url, timeout_s=TIMEOUT_S)
    yield opa_engine
    opa_engine.close()


@pytest.fixture(scope="module")
def regorus_decider(bundle: PolicyBundle) -> Decider:
    return Decider(bundle, RegorusEngine(bundle))


def sample(cases: list[DecisionCase]) -> list[DecisionCase]:
    """Every ninth case (about 40): allows and denies from every case file."""
    return cases[::9]


def without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "decision_id"}


def list_request(case: DecisionCase) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in case.request.items() if k != "action"}


# ---------------------------------------------------------------------- same answers


def test_sample_covers_allows_and_denies(decision_cases: list[DecisionCase]) -> None:
    decided = {c.decision for c in sample(decision_cases)}
    assert decided == {True, False}
    assert len(sample(decision_cases)) >= 40


def test_check_answers_match_in_process_regorus(
    bundle: PolicyBundle,
    engine: OpaEngine,
    regorus_decider: Decider,
    decision_cases: list[DecisionCase],
) -> None:
    over_opa = Decider(bundle, engine)
    for case in sample(decision_cases):
        answer = over_opa.check(copy.deepcopy(case.request))
        assert case.mismatches(answer) == [], case.name
        assert without_ids(answer) == without_ids(regorus_decider.check(case.request)), case.name


def test_list_allowed_actions_matches_in_process_regorus(
    bundle: PolicyBundle,
    engine: OpaEngine,
    regorus_decider: Decider,
    decision_cases: list[DecisionCase],
) -> None:
    over_opa = Decider(bundle, engine)
    for case in sample(decision_cases)[::8]:
        listed = over_opa.allowed_actions(list_request(case))
        expected = regorus_decider.allowed_actions(list_request(case))
        assert [(a, without_ids(x)) for a, x in listed] == [
            (a, without_ids(x)) for a, x in expected
        ], case.name
        assert not any(x["reasons"][0]["code"] == "evaluation_error" for _, x in listed)


def test_queries_the_documented_data_api(
    opa: FakeOpa, engine: OpaEngine, decision_cases: list[DecisionCase]
) -> None:
    request = decision_cases[0].request
    opa.requests.clear()
    engine.decide(request)
    engine.decide_all(list_request(decision_cases[0]))
    assert opa.requests == [
        ("POST", "/v1/data/quanze/authz/decision", {"input": request}),
        ("POST", "/v1/data/quanze/authz/decisions", {"input": list_request(decision_cases[0])}),
    ]


def test_connections_are_kept_alive(
    bundle: PolicyBundle, opa: FakeOpa, decision_cases: list[DecisionCase]
) -> None:
    opa_engine = OpaEngine(opa.url, timeout_s=TIMEOUT_S)
    try:
        before = opa.connections
        for case in decision_cases[:20]:
            opa_engine.decide(case.request)
        assert opa.connections - before == 1
    finally:
        opa_engine.close()


def test_engine_is_not_bound_to_a_thread(
    engine: OpaEngine, regorus_decider: Decider, decision_cases: list[DecisionCase]
) -> None:
    cases = sample(decision_cases)[:8]
    expected = [without_ids(regorus_decider.check(c.request)) for c in cases]
    decider = Decider(regorus_decider.bundle, engine)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda c: decider.check(copy.deepcopy(c.request)), cases * 4))
    assert [without_ids(a) for a in answers] == expected * 4


def test_dotted_package_path_queries_the_same_document(opa: FakeOpa) -> None:
    opa_engine = OpaEngine(opa.url, path="quanze.authz", timeout_s=TIMEOUT_S)
    try:
        opa.requests.clear()
        opa_engine.decide({"action": {"name": "record.take"}})
        assert opa.requests[0][1] == "/v1/data/quanze/authz/decision"
    finally:
        opa_engine.close()


# ---------------------------------------------------------------------- revision


def test_revision_comes_from_provenance(opa: FakeOpa, engine: OpaEngine) -> None:
    opa.revision = "3ea62729cc3a"
    assert engine.revision() == "3ea62729cc3a"
    assert opa.requests[-1][1] == "/v1/data/quanze/authz/decision"


def test_revision_is_none_without_a_bundle_revision(opa: FakeOpa, engine: OpaEngine) -> None:
    assert engine.revision() is None


@pytest.mark.parametrize(
    ("provenance", "expected"),
    [
        ({"bundles": {"b": {"revision": "r2"}, "a": {"revision": "r1"}}}, "a=r1,b=r2"),
        ({"bundles": {"a": {"revision": ""}, "b": {"revision": "r2"}}}, "r2"),
        ({"revision": "legacy-7"}, "legacy-7"),
        ({"version": "1.0.0"}, None),
    ],
)
def test_revision_reads_every_provenance_form(
    opa: FakeOpa, engine: OpaEngine, provenance: dict[str, Any], expected: str | None
) -> None:
    opa.reply = Reply(200, json.dumps({"result": {}, "provenance": provenance}).encode())
    assert engine.revision() == expected


# ---------------------------------------------------------------------- failing closed


OPA_ERROR = {
    "code": "internal_error",
    "message": "error(s) occurred while evaluating",
    "errors": [{"code": "eval_conflict_error", "message": "functions must not produce multiple"}],
}

FAILURES = {
    "timeout": (
        Reply(200, b'{"result": {}}', delay_s=1.0),
        r"did not answer data\.quanze\.authz\.decision within 200 ms \(engine\.timeout_ms\)",
    ),
    "stall-mid-body": (
        Reply(200, b'{"result": {"decision": true}}', stall_s=1.0),
        r"did not answer data\.quanze\.authz\.decision within 200 ms",
    ),
    "500-opa-error": (
        Reply(500, json.dumps(OPA_ERROR).encode()),
        r"HTTP 500 to data\.quanze\.authz\.decision: internal_error: error\(s\) occurred while "
        r"evaluating \(functions must not produce multiple\); OPA failed while evaluating",
    ),
    "400": (
        Reply(400, b'{"code": "invalid_parameter", "message": "body contains malformed input"}'),
        r"HTTP 400 to data\.quanze\.authz\.decision: invalid_parameter: body contains malformed",
    ),
    "502-from-a-proxy": (
        Reply(502, b"<html>Bad Gateway</html>", content_type="text/html"),
        r"HTTP 502 .*not an OPA error \('<html>Bad Gateway</html>'\); OPA, or a proxy",
    ),
    "undefined": (
        Reply(200, b"{}"),
        r"answered no result: the document is undefined at data\.quanze\.authz\.decision: "
        r"is the bundle loaded in OPA",
    ),
    "malformed-json": (
        Reply(200, b'{"result": {"decision": tru'),
        r"with a body that is not JSON \('\{\"result\": \{\"decision\": tru'\)",
    ),
    "not-an-object-body": (
        Reply(200, b"[true]"),
        r"with an array, not an OPA response object",
    ),
    "result-wrong-type": (
        Reply(200, b'{"result": "allow"}'),
        r"answered data\.quanze\.authz\.decision with a string, not a decision object",
    ),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_failure_raises_evaluation_error_naming_the_fix(opa: FakeOpa, failure: str) -> None:
    reply, message = FAILURES[failure]
    opa.reply = reply
    opa_engine = OpaEngine(opa.url, timeout_s=0.2)
    try:
        with pytest.raises(EvaluationError, match=message) as caught:
            opa_engine.decide({"action": {"name": "record.take"}})
        assert str(caught.value).startswith(f"OPA at {opa.url} ")
    finally:
        opa_engine.close()


@pytest.mark.parametrize("failure", [*FAILURES, "result-wrong-shape"])
def test_failure_is_a_deny_with_evaluation_error(
    bundle: PolicyBundle, opa: FakeOpa, decision_cases: list[DecisionCase], failure: str
) -> None:
    opa.reply = (
        Reply(200, b'{"result": {"decision": "yes", "reasons": []}}')
        if failure == "result-wrong-shape"
        else FAILURES[failure][0]
    )
    allowed = next(c for c in decision_cases if c.decision)
    opa_engine = OpaEngine(opa.url, timeout_s=0.2)
    try:
        decider = Decider(bundle, opa_engine, timeout_ms=200)
        answer = decider.check(copy.deepcopy(allowed.request))
        assert answer["decision"] is False
        assert [r["code"] for r in answer["reasons"]] == ["evaluation_error"]
        listed = decider.allowed_actions(list_request(allowed))
        assert len(listed) == len(bundle.actions)
        assert all(a["decision"] is False for _, a in listed)
        assert {a["reasons"][0]["code"] for _, a in listed} == {"evaluation_error"}
    finally:
        opa_engine.close()


def test_decide_all_of_the_wrong_type_is_an_evaluation_error(
    opa: FakeOpa, engine: OpaEngine
) -> None:
    opa.reply = Reply(200, b'{"result": [1, 2]}')
    with pytest.raises(EvaluationError, match=r"decisions with an array, not an object of action"):
        engine.decide_all({})


def test_revision_failure_is_an_evaluation_error(opa: FakeOpa, engine: OpaEngine) -> None:
    opa.reply = Reply(503, b'{"code": "unavailable", "message": "server not ready"}')
    with pytest.raises(EvaluationError, match=r"HTTP 503 .*unavailable: server not ready"):
        engine.revision()


def test_unreachable_opa_is_an_evaluation_error_and_a_deny(
    bundle: PolicyBundle, decision_cases: list[DecisionCase]
) -> None:
    # A bound but not listening port refuses connections, and nobody else can take it.
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{reserved.getsockname()[1]}"
        opa_engine = OpaEngine(url, timeout_s=0.2)
        try:
            with pytest.raises(
                EvaluationError,
                match=rf"^OPA at {url} is unreachable \(connection refused\): is OPA running\?",
            ):
                opa_engine.decide(decision_cases[0].request)
            answer = Decider(bundle, opa_engine).check(copy.deepcopy(decision_cases[0].request))
            assert answer["decision"] is False
            assert [r["code"] for r in answer["reasons"]] == ["evaluation_error"]
        finally:
            opa_engine.close()


def test_connection_closed_without_an_answer_is_tried_once_more(
    opa: FakeOpa, engine: OpaEngine, decision_cases: list[DecisionCase]
) -> None:
    engine.decide(decision_cases[0].request)  # a kept-alive connection, then OPA drops it
    opa.requests.clear()
    opa.replies = [Reply(drop=True)]
    assert isinstance(engine.decide(decision_cases[0].request)["decision"], bool)
    assert len(opa.requests) == 2


def test_connection_closed_twice_is_an_evaluation_error(
    opa: FakeOpa, engine: OpaEngine, decision_cases: list[DecisionCase]
) -> None:
    opa.requests.clear()
    opa.reply = Reply(drop=True)
    with pytest.raises(
        EvaluationError, match=r"is unreachable \(the connection was closed without an answer\)"
    ):
        engine.decide(decision_cases[0].request)
    assert len(opa.requests) == 2, "one retry, no more"


def test_engine_recovers_after_failures(
    opa: FakeOpa, engine: OpaEngine, decision_cases: list[DecisionCase]
) -> None:
    opa.reply = FAILURES["500-opa-error"][0]
    with pytest.raises(EvaluationError):
        engine.decide(decision_cases[0].request)
    opa.reply = None
    assert isinstance(engine.decide(decision_cases[0].request)["decision"], bool)


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8181", ""),
        ("https://opa.internal", ""),
        ("http://[::1]:8181/", ""),
        ("127.0.0.1:8181", "is not an http(s) URL"),
        ("ftp://opa:21", "is not an http(s) URL"),
        ("http://opa:8181/v1/data", "no path, query or credentials"),
        ("http://opa:99999", "is not a URL"),
        ("http://opa:0", "port 0"),
    ],
)
def test_url_error(url: str, problem: str) -> None:
    assert problem in url_error(url)
    assert bool(url_error(url)) == bool(problem)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("quanze/authz", True),
        ("quanze.authz", True),
        ("/a/b_2/", True),
        ("a//b", False),
        ("a-b", False),
    ],
)
def test_path_error(path: str, ok: bool) -> None:
    assert (path_error(path) == "") is ok


def test_bad_settings_are_a_config_error_naming_each() -> None:
    with pytest.raises(ConfigError) as caught:
        OpaEngine("localhost:8181", path="quanze authz", timeout_s=0)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "engine.opa_url",
        "engine.opa_path",
        "engine.timeout_ms",
    ]


# ---------------------------------------------------------------------- a real OPA


def _wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"opa exited with {process.returncode}")
        connection = http.client.HTTPConnection(url[len("http://") :], timeout=1)
        with contextlib.suppress(OSError):
            connection.request("GET", "/health?bundles")
            if connection.getresponse().status == 200:
                connection.close()
                return
        connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"opa at {url} was not healthy within {seconds} s")


def _canonical(value: Any) -> Any:
    """Arrays as sorted lists: OPA and regorus may order a set-built array differently."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


@pytest.mark.slow
def test_real_opa_decides_as_regorus(
    bundle: PolicyBundle, decision_cases: list[DecisionCase], tmp_path: Path
) -> None:
    opa_binary = shutil.which("opa")
    if opa_binary is None:
        pytest.skip("no opa binary on PATH: install OPA to compare against a real server")
    url = f"http://127.0.0.1:{free_port()}"
    # Bundle mode loads only data.json files as data, the convention Quanze's loader follows.
    command = [opa_binary, "run", "--server", "--addr", url[len("http://") :]]
    log_path = tmp_path / "opa.log"
    log = log_path.open("wb")
    process = subprocess.Popen([*command, "--bundle", str(bundle.root)], stdout=log, stderr=log)
    opa_engine = OpaEngine(url, timeout_s=5.0)
    try:
        try:
            _wait_healthy(url, process)
        except RuntimeError as exc:
            pytest.fail(f"{exc}; its log:\n{log_path.read_text(errors='replace')[-4000:]}")
        regorus = RegorusEngine(bundle)
        over_opa = Decider(bundle, opa_engine, timeout_ms=5000)
        for case in sample(decision_cases):
            assert _canonical(opa_engine.decide(case.request)) == _canonical(
                regorus.decide(case.request)
            ), case.name
            assert case.mismatches(over_opa.check(copy.deepcopy(case.request))) == [], case.name
        for case in sample(decision_cases)[::8]:
            assert _canonical(opa_engine.decide_all(list_request(case))) == _canonical(
                regorus.decide_all(list_request(case))
            ), case.name
    finally:
        opa_engine.close()
        process.terminate()
        process.wait(timeout=10)
        log.close()
