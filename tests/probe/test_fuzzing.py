"""Hypothesis fuzzing over gRPC: at least 10,000 requests made from the input schema.

Mostly valid requests (decision-table cases and schema-made ones, changed), four in ten with
an invalid change; the schema (the reference `jsonschema` library) says which are invalid.
Properties: an invalid request is refused (INVALID_ARGUMENT), never allowed; a valid one is
answered exactly as `quanze check` answers it in-process (decision and reason codes), and has
its decision record. Every answer is checked; failures are collected, not stopped at, so the
report counts them all (the smallest offending requests are kept).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, Phase, given, seed, settings

from quanze.server.decisions import Decider
from quanze.server.errors import InvalidRequestError
from quanze.v1 import decision_service_pb2 as pb
from tests.integration.load import Sidecar
from tests.probe.inputs import Fuzzed, fuzzed_requests
from tests.probe.report import Probe
from tests.probe.sidecars import Verdict, decision_ids, raw_stub, reference_verdict, verdict
from tests.support import environment_without_quanze_settings

pytestmark = pytest.mark.probe

REQUESTS = 10_000


def test_fuzzed_requests_are_refused_when_invalid_and_answered_as_quanze_check(
    logged_sidecar: tuple[Sidecar, Path],
    probe: Probe,
    reference: Decider,
    request: pytest.FixtureRequest,
) -> None:
    found, log_dir = logged_sidecar
    chosen = request.config.getoption("--hypothesis-seed", None)
    run_seed = int(chosen) if chosen is not None else random.getrandbits(32)
    probe.fact("hypothesis_seed", run_seed)
    probe.fact("rerun_with", f"--hypothesis-seed={run_seed}")
    answered: dict[str, Any] = {}
    valid: list[tuple[dict[str, Any], Verdict]] = []

    with grpc.insecure_channel(found.address) as channel:
        stub = raw_stub(channel, "Check")

        @seed(run_seed)
        @settings(
            max_examples=REQUESTS,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(fuzzed_requests())
        def one(fuzzed: Fuzzed) -> None:
            message = json_format.ParseDict(fuzzed.request, pb.CheckRequest())
            pending = stub.future(message.SerializeToString(), timeout=30)
            expected = _in_process(reference, fuzzed, probe)  # while the sidecar decides
            try:
                answer, status = pending.result(), "OK"
            except grpc.RpcError as exc:
                answer, status = None, exc.code().name
            got = verdict(answer) if answer is not None else None
            probe.answered(
                fuzzed.request, status, allowed=bool(got and got[0]), invalid=fuzzed.invalid
            )
            shown = _shown(fuzzed, status, got, answer)
            if fuzzed.invalid:
                if status == "OK" and not got[0]:
                    probe.fail(f"{fuzzed.kind}_answered_not_refused", fuzzed.request, shown)
                elif status not in ("OK", "INVALID_ARGUMENT"):
                    probe.fail(f"{fuzzed.kind}_got_{status}", fuzzed.request, shown)
                return
            if status != "OK":
                probe.fail(f"valid_request_got_{status}", fuzzed.request, shown)
                return
            answered[answer.decision_id] = fuzzed.request
            valid.append((fuzzed.request, got))
            if expected is not None and got != expected:
                probe.fail("differs_from_quanze_check", fuzzed.request, shown | {"check": expected})

        one()

    probe.fact("valid_requests", len(valid))
    assert probe.requests >= REQUESTS, probe.requests
    _compare_with_the_command(valid, probe, log_dir.parent)
    probe.records(answered, decision_ids(log_dir))
    probe.verdict()


def _in_process(reference: Decider, fuzzed: Fuzzed, probe: Probe) -> Verdict | None:
    """The in-process verdict for a valid request; None for an invalid one (which must raise)."""
    try:
        answer = reference.check(fuzzed.request)
    except InvalidRequestError as exc:
        if not fuzzed.invalid:
            probe.fail("check_refuses_a_valid_request", fuzzed.request, str(exc))
        return None
    if fuzzed.invalid:
        probe.fail(
            "check_accepts_an_invalid_request",
            fuzzed.request,
            {"problem": fuzzed.problem, "check": reference_verdict(answer)},
        )
        return None
    return reference_verdict(answer)


def _shown(fuzzed: Fuzzed, status: str, got: Any, answer: Any) -> dict[str, Any]:
    return {
        "status": status,
        "decision": got[0] if got else None,
        "reasons": list(got[1]) if got else [],
        "decision_id": answer.decision_id if answer is not None else "",
        "mutations": list(fuzzed.mutations),
        "problem": fuzzed.problem,
    }


def _compare_with_the_command(
    valid: list[tuple[dict[str, Any], Verdict]], probe: Probe, scratch: Path
) -> None:
    """`quanze check` itself (the command, on a JSON Lines file) answers every valid request as
    the sidecar did."""
    requests = scratch / "valid-requests.jsonl"
    # ASCII only: `quanze check` splits JSON Lines with str.splitlines, which also breaks at
    # U+2028, U+0085 and other line separators the fuzzer puts inside strings.
    requests.write_text("".join(json.dumps(r) + "\n" for r, _ in valid))
    done = subprocess.run(
        [sys.executable, "-m", "quanze.server.cli", "check", str(requests)],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment_without_quanze_settings(),
        check=False,
    )
    # One answer per "\n": the answers' messages may quote request strings holding U+2028.
    answers = [json.loads(line) for line in done.stdout.split("\n") if line]
    probe.fact("quanze_check_exit_status", done.returncode)
    if done.returncode != 0 or len(answers) != len(valid):
        probe.fail(
            "quanze_check_failed",
            {"requests": len(valid)},
            {"answers": len(answers), "stderr": done.stderr[-2000:]},
        )
    for (request, over_grpc), answer in zip(valid, answers, strict=False):
        if reference_verdict(answer) != over_grpc:
            probe.fail(
                "differs_from_quanze_check_command",
                request,
                {"grpc": over_grpc, "check": reference_verdict(answer)},
            )
