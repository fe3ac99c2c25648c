"""Real `quanze serve` processes for the probes, the calls the probes make, and what they leave.

A sidecar's stderr is read by a thread the whole time (`tests.integration.load.Sidecar`): a
probe that makes a sidecar log a lot must not stall it on a full pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import json_format

from quanze.server.decisionlog import records
from quanze.server.decisions import Decider
from quanze.v1 import decision_service_pb2 as pb
from tests.integration.load import Sidecar
from tests.integration.support import start
from tests.probe.inputs import CASES
from tests.probe.report import Probe
from tests.server.decisionlog.support import records_in
from tests.support import environment_without_quanze_settings

QUANZE = (sys.executable, "-m", "quanze.server.cli")
METHODS = {
    "Check": (pb.CheckRequest, pb.CheckResponse),
    "CheckBatch": (pb.CheckBatchRequest, pb.CheckBatchResponse),
    "ListAllowedActions": (pb.ListAllowedActionsRequest, pb.ListAllowedActionsResponse),
}
# Every probe sidecar starts on these (merged under the probe's own settings).
BASE_SERVER = {"address": "127.0.0.1:0", "workers": 1, "shutdown_delay_seconds": 0}


@contextlib.contextmanager
def sidecar(
    directory: Path,
    settings: dict[str, Any] | None = None,
    *,
    preexec_fn: Callable[[], None] | None = None,
    ready_timeout: float = 120.0,
) -> Iterator[Sidecar]:
    """`quanze serve --config` with `settings` (YAML sections), once a policy revision serves.

    Stopped with SIGTERM on exit unless the probe stopped it; `.process.returncode` is then set.
    """
    settings = dict(settings or {})
    config = directory / "quanze.yaml"
    server = BASE_SERVER | settings.pop("server", {})
    config.write_text(yaml.safe_dump({"server": server, **settings}))
    # The configuration file says everything, the shutdown delay too (the signal probes').
    process = start(
        "--config", str(config), cwd=directory, preexec_fn=preexec_fn, shutdown_delay=None
    )
    with process:
        found = Sidecar(process)
        try:
            found.address = str(found.wait_event("listening", ready_timeout)["address"])
            found.wait_event("policy_revision_active", ready_timeout)
            yield found
        finally:
            if process.poll() is None:
                stop(found)
            found.reader.join(30)


def stop(found: Sidecar, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> int:
    """Send `sig` and wait for the sidecar to exit (killed after `timeout` s); its exit status."""
    found.process.send_signal(sig)
    try:
        return found.process.wait(timeout)
    except subprocess.TimeoutExpired:
        found.process.kill()
        found.process.wait(10)
        raise AssertionError(
            f"quanze serve did not exit within {timeout} s of {sig.name}"
        ) from None


def worker_pids(found: Sidecar) -> list[int]:
    """The pids of the processes that listen (the workers; the sidecar itself with one)."""
    return sorted({int(e["pid"]) for e in found.events if e.get("event") == "listening"})


def fresh_channel(address: str) -> grpc.Channel:
    """A channel with a TCP connection of its own (gRPC shares them across channels by
    default), so that the kernel spreads the connections over every worker."""
    return grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])


def raw_stub(channel: grpc.Channel, method: str) -> Any:
    """A unary method of DecisionService that sends bytes exactly as given."""
    _, response = METHODS[method]
    return channel.unary_unary(
        f"/quanze.v1.DecisionService/{method}",
        request_serializer=None,
        response_deserializer=response.FromString,
    )


def call(stub: Any, payload: bytes | Any, timeout: float = 30.0) -> tuple[str, Any, str]:
    """(status name, response or None, details) of one call; never raises for a status."""
    data = payload if isinstance(payload, bytes) else payload.SerializeToString()
    try:
        return "OK", stub(data, timeout=timeout), ""
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        return (code.name if code else "NO_STATUS"), None, details or ""


Verdict = tuple[bool, tuple[str, ...]]  # a decision and its reason codes


def verdict(answer: pb.CheckResponse) -> Verdict:
    return answer.decision, tuple(r.code for r in answer.reasons)


def reference_verdict(answer: dict[str, Any]) -> Verdict:
    return answer["decision"], tuple(r["code"] for r in answer["reasons"])


def known_requests(reference: Decider) -> list[tuple[dict[str, Any], Verdict]]:
    """Every 15th decision-table case (allows and denies) with the answer `quanze check` gives."""
    return [(c.request, reference_verdict(reference.check(c.request))) for c in CASES[::15]]


def decision_ids(directory: Path) -> set[str]:
    """The decision ids of every complete decision record under `directory`."""
    if not directory.is_dir():
        return set()
    return {str(r["decision_id"]) for r in records_in(directory, records.DECISION)}


def verify(directory: Path) -> tuple[int, dict[str, Any]]:
    """`quanze logs verify DIR --format json`: its exit status and report."""
    done = subprocess.run(
        [*QUANZE, "logs", "verify", str(directory), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment_without_quanze_settings(),
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {"stdout": done.stdout, "stderr": done.stderr}
    return done.returncode, report


def drop_file_permission_override() -> None:
    """A `preexec_fn`: the child may not ignore file permissions, even as root.

    Removes CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set before
    exec, so root's process gets none of them: a read-only directory is read-only to it, as to
    a sidecar running as any other user. Nothing to do for a non-root user, who has none.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@dataclass
class Answered:
    """What a load loop received: decision ids with their requests (those allowed, and the
    audit_unavailable denies, apart)."""

    ids: dict[str, Any] = field(default_factory=dict)
    allowed: set[str] = field(default_factory=set)
    audit_unavailable: dict[str, Any] = field(default_factory=dict)


class Load:
    """`threads` callers sending Check with `requests` (round robin) until stopped.

    Every call is counted in `probe`. An OK answer must equal the expected verdict, or be a
    deny whose only reason is `audit_unavailable` when `audit_denies` (decision log faults);
    anything else is a failure. A new connection every `per_connection` calls spreads the
    calls over every worker. Bounded: each thread stops after `max_seconds`.
    """

    def __init__(
        self,
        address: str,
        probe: Probe,
        requests: Sequence[tuple[dict[str, Any], Verdict]],
        *,
        threads: int = 4,
        timeout: float = 10.0,
        allowed_errors: Sequence[str] = ("UNAVAILABLE",),
        audit_denies: bool = False,
        per_connection: int = 20,
        max_seconds: float = 120.0,
    ) -> None:
        self.address = address
        self.probe = probe
        self.requests = [(pb_request(r), r, expected) for r, expected in requests]
        self.timeout = timeout
        self.allowed_errors = set(allowed_errors)
        self.audit_denies = audit_denies
        self.per_connection = per_connection
        self.max_seconds = max_seconds
        self.answered = Answered()
        self.answers = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = threads
        self._callers = ThreadPoolExecutor(threads, thread_name_prefix="probe-load")

    def __enter__(self) -> Load:
        for n in range(self._threads):
            self._callers.submit(self._run, n)  # _run keeps its own failures in the probe
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._callers.shutdown(wait=True)  # each caller ends within a call's timeout

    def wait_answers(self, count: int, timeout: float = 60.0) -> None:
        """Until `count` calls were answered OK in all (an AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while self.answers < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.answers} answers in {timeout} s, wanted {count}")
            time.sleep(0.05)

    def answered_ids(self) -> list[str]:
        """The decision ids of the answers received so far."""
        with self._lock:
            return list(self.answered.ids)

    def _run(self, n: int) -> None:
        ended = time.monotonic() + self.max_seconds
        index = n
        try:
            while not self._stop.is_set() and time.monotonic() < ended:
                with fresh_channel(self.address) as channel:
                    stub = raw_stub(channel, "Check")
                    for _ in range(self.per_connection):
                        if self._stop.is_set():
                            break
                        index += 1
                        self._one(stub, *self.requests[index % len(self.requests)])
        except Exception as exc:  # a crashed caller is a failure of the probe, never silent
            self.probe.fail(
                "load_thread_crashed", {"thread": threading.current_thread().name}, repr(exc)
            )

    def _one(
        self, stub: Any, message: pb.CheckRequest, request: dict[str, Any], expected: Any
    ) -> None:
        status, answer, details = call(stub, message, self.timeout)
        got = verdict(answer) if answer is not None else None
        self.probe.answered(request, status, allowed=bool(got and got[0]))
        if answer is None:
            if status not in self.allowed_errors:
                self.probe.fail(f"status_{status}", request, {"status": status, "details": details})
            time.sleep(0.05)  # as a client would back off, rather than spin on a refusal
            return
        with self._lock:
            self.answers += 1
        if self.audit_denies and got == (False, ("audit_unavailable",)):
            with self._lock:
                self.answered.audit_unavailable[answer.decision_id] = request
            return
        if got != expected:
            kind = "allow_not_expected" if answer.decision else "answer_not_expected"
            shown = {"got": got, "expected": expected, "decision_id": answer.decision_id}
            self.probe.fail(kind, request, shown)
        with self._lock:
            self.answered.ids[answer.decision_id] = request
            if answer.decision:
                self.answered.allowed.add(answer.decision_id)


def pb_request(request: dict[str, Any]) -> pb.CheckRequest:
    return json_format.ParseDict(request, pb.CheckRequest())
