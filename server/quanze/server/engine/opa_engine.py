"""OPA behind the engine interface: a remote OPA server decides, through its REST Data API.

Facts that shape this module (OPA's REST API reference; opa-python-client 3.0.0's source):
- `POST /v1/data/<package>/<rule>` with `{"input": ...}` answers `{"result": ...}`; when the
  document is undefined (e.g. the bundle is not loaded) it answers 200 with NO `result` key,
  which must never read as an answer. Failures are 4xx/5xx with `{"code", "message"}` and
  sometimes `errors` (each with a message and location).
- `?provenance=true` adds the revision of every activated bundle (from its `.manifest`) to the
  answer; it is the only documented REST way to learn what OPA serves without the status plugin.
- `OpaClient` keeps one `requests.Session`, so connections are kept alive and reused. Its
  timeout bounds the connect and each socket read, not the whole call; the Decider discards a
  late answer anyway. Its retry policy would retry a refused connection with a backoff: we turn
  it off so an unreachable OPA answers deny within the timeout, and retry only the one case
  keep-alive creates: a pooled connection the server closed just as we reused it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client.opa import OpaClient  # type: ignore[import-untyped]
from urllib3.exceptions import NameResolutionError, ReadTimeoutError

from quanze.server.errors import ConfigError, EvaluationError

DEFAULT_PATH = "quanze/authz"
# How a connection fails when the server closed it before our request reached it.
_DROPPED = (RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HINTS = {
    400: "OPA rejected the request; check that OPA serves the v1 Data API",
    401: "OPA requires authentication (opa run --authentication); the sidecar sends no token",
    403: "OPA's authorization policy (opa run --authorization) refuses the sidecar",
    404: "no such API path; check engine.opa_url points at OPA itself",
    500: "OPA failed while evaluating the policy; see OPA's log",
}


def url_error(url: str) -> str:
    """Why `url` cannot be OPA's address for this engine, or "" when it is fine."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL such as http://127.0.0.1:8181"
    # OpaClient builds every URL from host, port and scheme: a path prefix would be dropped.
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        return f"{url!r} must be scheme://host:port only (no path, query or credentials)"
    if port == 0:
        return f"{url!r}: port 0 cannot be connected to"
    return ""


def path_error(path: str) -> str:
    """Why `path` is not a package path such as quanze/authz, or "" when it is fine."""
    segments = _normalised(path).split("/")
    if not all(_SEGMENT.match(s) for s in segments):
        return f"{path!r} is not a package path such as {DEFAULT_PATH!r}"
    return ""


def _normalised(path: str) -> str:
    """`quanze.authz`, `/quanze/authz/` and `quanze/authz` all name one package path."""
    return path.replace(".", "/").strip("/")


class _DroppedError(Exception):
    """The connection was closed before an answer: worth one more try on a fresh one."""


class OpaEngine:
    """Asks the OPA server at `url` for the `decision`/`decisions` documents of package `path`.

    Not bound to a thread; each worker process builds its own, with its own connection pool.
    Every failure raises `EvaluationError` naming what happened and what to fix.
    """

    def __init__(self, url: str, *, path: str = DEFAULT_PATH, timeout_s: float) -> None:
        problems = [
            f"engine.opa_url: {p}" if k == "url" else f"engine.opa_path: {p}"
            for k, p in (("url", url_error(url)), ("path", path_error(path)))
            if p
        ]
        if timeout_s <= 0:
            problems.append("engine.timeout_ms: must be greater than 0")
        if problems:
            raise ConfigError(problems)
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.path = _normalised(path)
        self._timeout_ms = round(timeout_s * 1000, 3)
        self._client = OpaClient(
            host=f"[{host}]" if ":" in host else host,  # an IPv6 literal needs its brackets
            port=parts.port or (443 if secure else 80),
            ssl=secure,
            retries=0,
            timeout=timeout_s,
        )
        # OPA is reached exactly at engine.opa_url, never through a proxy from HTTP(S)_PROXY;
        # skipping requests' per-call environment lookups also saves ~80 us CPU per decision.
        self._client._session.trust_env = False

    def decide(self, request: Mapping[str, Any]) -> Any:
        return self._object("decision", request, "not a decision object")

    def decide_all(self, request: Mapping[str, Any]) -> Any:
        return self._object("decisions", request, "not an object of action to decision")

    def _object(self, rule: str, request: Mapping[str, Any], expected: str) -> Any:
        """The rule's result, which must be a JSON object."""
        result = self._result(rule, request)
        if not isinstance(result, dict):
            raise EvaluationError(
                f"OPA at {self.url} answered {self._ref(rule)} with {_json_type(result)}, "
                f"{expected}: does engine.opa_path {self.path!r} name the Quanze policies' "
                "package?"
            )
        return result

    def revision(self) -> str | None:
        """The revision OPA's bundle declares in its `.manifest`, from the Data API's provenance.

        None when OPA serves no bundle with a revision (e.g. `opa run` given a plain directory,
        or a bundle without `.manifest`). With several bundles: `name=revision` pairs, sorted.
        The probe queries `decision` with an empty input (undefined, so cheap); its result is
        ignored. Failures raise `EvaluationError` like a decision would.
        """
        body = self._call("decision", {}, {"provenance": "true"})
        provenance = body.get("provenance")
        if not isinstance(provenance, dict):
            return None
        bundles = provenance.get("bundles")
        revisions: dict[str, str] = {
            str(name): entry["revision"]
            for name, entry in (bundles.items() if isinstance(bundles, dict) else ())
            if isinstance(entry, dict) and isinstance(entry.get("revision"), str)
            if entry["revision"]
        }
        if len(revisions) == 1:
            return next(iter(revisions.values()))
        if revisions:
            return ",".join(f"{name}={rev}" for name, rev in sorted(revisions.items()))
        legacy = provenance.get("revision")  # OPA's older single-bundle configuration
        return legacy if isinstance(legacy, str) and legacy else None

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._client.close_connection()

    # ------------------------------------------------------------------ HTTP

    def _ref(self, rule: str) -> str:
        return "data." + ".".join((*self.path.split("/"), rule))

    def _result(self, rule: str, request: Mapping[str, Any]) -> Any:
        body = self._call(rule, request)
        if "result" not in body:
            raise EvaluationError(
                f"OPA at {self.url} answered no result: the document is undefined at "
                f"{self._ref(rule)}: is the bundle loaded in OPA (opa run --server --bundle "
                f"POLICIES), and does engine.opa_path {self.path!r} name its package?"
            )
        return body["result"]

    def _call(
        self, rule: str, request: Mapping[str, Any], params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            return self._call_once(rule, request, params)
        except _DroppedError:
            # A kept-alive connection that OPA (or a proxy) closed just as we reused it: the
            # query has no side effects, so ask once more on a fresh connection.
            try:
                return self._call_once(rule, request, params)
            except _DroppedError as exc:
                raise EvaluationError(exc.args[0]) from exc

    def _call_once(
        self, rule: str, request: Mapping[str, Any], params: dict[str, str] | None
    ) -> dict[str, Any]:
        where = f"OPA at {self.url}"
        try:
            body = self._client.query_rule(
                input_data=request, package_path=self.path, rule_name=rule, query_params=params
            )
        except requests.Timeout as exc:
            raise self._timeout(rule) from exc
        except requests.HTTPError as exc:
            raise EvaluationError(_http_problem(where, self._ref(rule), exc.response)) from exc
        except requests.JSONDecodeError as exc:
            raise EvaluationError(
                f"{where} answered {self._ref(rule)} with a body that is not JSON "
                f"({_excerpt(exc.doc)}): does engine.opa_url point at OPA?"
            ) from exc
        except requests.ConnectionError as exc:
            # A stall while reading the body surfaces as a ConnectionError, not a Timeout.
            chain = list(_chain(exc))
            if any(isinstance(e, (ReadTimeoutError, TimeoutError)) for e in chain):
                raise self._timeout(rule) from exc
            problem = (
                f"{where} is unreachable ({_connection_problem(chain)}): is OPA running? "
                "Start it (opa run --server --bundle POLICIES) or fix engine.opa_url"
            )
            if any(isinstance(e, _DROPPED) for e in chain):
                raise _DroppedError(problem) from exc
            raise EvaluationError(problem) from exc
        except requests.RequestException as exc:
            raise EvaluationError(f"{where}: querying {self._ref(rule)} failed: {exc}") from exc
        if not isinstance(body, dict):
            raise EvaluationError(
                f"{where} answered {self._ref(rule)} with {_json_type(body)}, not an OPA "
                "response object: does engine.opa_url point at OPA?"
            )
        return body

    def _timeout(self, rule: str) -> EvaluationError:
        return EvaluationError(
            f"OPA at {self.url} did not answer {self._ref(rule)} within {self._timeout_ms:g} ms "
            "(engine.timeout_ms): check OPA's load and the network, or raise engine.timeout_ms"
        )


def _http_problem(where: str, ref: str, response: requests.Response | None) -> str:
    if response is None:
        return f"{where} answered {ref} with an HTTP error"
    status = response.status_code
    try:
        error = response.json()
    except ValueError:
        error = None
    if isinstance(error, dict) and ("code" in error or "message" in error):
        detail = f"{error.get('code', '?')}: {error.get('message', '')}"
        details = [
            e["message"]
            for e in error.get("errors") or []
            if isinstance(e, dict) and isinstance(e.get("message"), str)
        ]
        if details:
            detail += " (" + "; ".join(details) + ")"
    else:
        detail = f"not an OPA error ({_excerpt(response.text)})"
    hint = _HINTS.get(status) or (
        "OPA, or a proxy in front of it, is failing" if status >= 500 else "see OPA's log"
    )
    return f"{where} answered HTTP {status} to {ref}: {detail}; {hint}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps: causes, contexts, urllib3 reasons, first args."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        first = current.args[0] if current.args else None
        todo.extend(
            e if isinstance(e, BaseException) else None
            for e in (current.__cause__, current.__context__, reason, first)
        )


def _connection_problem(chain: list[BaseException]) -> str:
    for kind, problem in (
        (ConnectionRefusedError, "connection refused"),
        (NameResolutionError, "the host name does not resolve"),
        (RemoteDisconnected, "the connection was closed without an answer"),
        (ConnectionResetError, "connection reset"),
    ):
        if any(isinstance(e, kind) for e in chain):
            return problem
    return str(chain[-1])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "a boolean"), (str, "a string"), (list, "an array")):
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, (int, float)) else "an object"


def _excerpt(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
