"""The decision service: request in, contract answer out, fail closed on every error path.

Shared by the gRPC servicer and `quanze check`; knows nothing of gRPC or protobuf.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from quanze.server.engine.base import DecisionEngine
from quanze.server.errors import EvaluationError, InvalidRequestError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.validation import Limits, RequestValidator

Answer = dict[str, Any]
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
ESCALATION_TARGETS = ("", "chief", "committee")
_REQUEST_PARTS = ("subject", "action", "resource", "context")

log = structlog.get_logger("quanze.decisions")


@dataclass(frozen=True)
class Decided:
    """One answer with what produced it, for the decision log."""

    request: Any
    answer: Answer
    evaluation_ns: int = 0


@dataclass(frozen=True)
class BatchItemResult:
    """One batch item's answer; `error` is set when the item itself was invalid."""

    answer: Answer
    error: InvalidRequestError | None = None
    request: Any = None
    evaluation_ns: int = 0

    @property
    def action(self) -> str:
        """The action the item asked about; "" for an invalid item (its name is unchecked)."""
        return "" if self.error is not None else str(self.request["action"]["name"])


@dataclass(frozen=True)
class Listed:
    """Every catalog action's answer from one ListAllowedActions evaluation."""

    call_id: str
    request: Any
    answers: list[tuple[str, Answer]]
    evaluation_ns: int = 0


@dataclass(frozen=True)
class Denials:
    """The fail-closed answers of one revision: plain data, usable on any thread."""

    revision: str
    messages: Mapping[str, Any]

    def deny(self, code: str, decision_id: str | None = None) -> Answer:
        """A fail-closed deny whose single reason is `code`."""
        message = self.messages.get(code, {})
        reason = {
            "code": code,
            "article": message.get("article", ""),
            "item": message.get("item", 0),
            "message_zh": message.get("zh", code),
            "message_en": message.get("en", code),
        }
        return {
            "decision_id": decision_id or str(uuid.uuid4()),
            "decision": False,
            "reasons": [reason],
            "obligations": [],
            "escalate_to": "",
            "accountable": [],
            "policy_revision": self.revision,
        }


class Decider:
    """Answers requests from one revision of the policies with one engine."""

    def __init__(
        self,
        bundle: PolicyBundle,
        engine: DecisionEngine,
        *,
        timeout_ms: float = 250.0,
        list_timeout_ms: float = 1000.0,
        wall_timeout_ms: float = 5000.0,
        max_batch_items: int = 100,
        masker: Any = None,
        validator: RequestValidator | None = None,
    ) -> None:
        self.bundle = bundle
        # The decision log's mask policy for this revision (thread-bound like the engine).
        self.masker = masker
        self._engine = engine
        # Compiling the validator takes a while (pure Python): callers may build it elsewhere.
        self._validator = validator or RequestValidator(bundle.schema, bundle.actions)
        self.denials = Denials(bundle.revision, bundle.data["quanze"].get("messages", {}))
        # Budgets in CPU time of the evaluating thread; the ceiling in wall-clock time.
        self._budget_ns = int(timeout_ms * 1e6)
        self._list_budget_ns = int(list_timeout_ms * 1e6)
        self._wall_ceiling_ns = int(max(wall_timeout_ms, timeout_ms, list_timeout_ms) * 1e6)
        self._max_batch_items = max_batch_items

    @property
    def revision(self) -> str:
        """The revision of the policies that decide."""
        return self.bundle.revision

    # ------------------------------------------------------------------ requests

    def check(self, request: Any) -> Answer:
        """Answer one request. Raises `InvalidRequestError` for malformed input."""
        return self.decide(request).answer

    def decide(self, request: Any, *, within_limits: bool = False) -> Decided:
        """`check` with the evaluation time, for callers that log decisions.

        `within_limits`: `limits` already passed on `request` (`convert.request_dict` checks
        them as it converts), so validation does not walk it for them again.
        """
        self._validator.check_request(request, within_limits=within_limits)
        decision_id = str(uuid.uuid4())
        raw, elapsed_ns = self._timed(self._engine.decide, request, decision_id, self._budget_ns)
        return Decided(request, self._finish(raw, decision_id), elapsed_ns)

    def check_batch(
        self,
        defaults: Mapping[str, Any],
        items: Sequence[Mapping[str, Any]],
        semantic: str = "",
        *,
        within_limits: bool = False,
    ) -> list[BatchItemResult]:
        """Answer items in order; each item's parts replace the defaults' (AuthZEN).

        `within_limits`: `check_shape` passed on the batch, so every part of every item is
        within `limits` already.
        """
        semantic = semantic or "execute_all"
        if semantic not in SEMANTICS:
            raise InvalidRequestError(
                "options.evaluations_semantic",
                f"{semantic!r} is not one of {', '.join(SEMANTICS)}",
            )
        self._check_batch_length(len(items))
        results: list[BatchItemResult] = []
        for item in items or [{}]:
            # A part the item sets (even to an empty object) replaces the default's.
            merged = {k: item[k] if k in item else defaults.get(k) for k in _REQUEST_PARTS}
            request = {k: v for k, v in merged.items() if v is not None}
            try:
                decided = self.decide(request, within_limits=within_limits)
                result = BatchItemResult(
                    decided.answer, request=request, evaluation_ns=decided.evaluation_ns
                )
            except InvalidRequestError as exc:
                index = len(results)
                error = InvalidRequestError(f"evaluations[{index}].{exc.field}", exc.message)
                result = BatchItemResult(self.deny("invalid_request"), error, request)
            results.append(result)
            allowed = result.answer["decision"]
            if (semantic == "deny_on_first_deny" and not allowed) or (
                semantic == "permit_on_first_permit" and allowed
            ):
                break
        return results

    @property
    def limits(self) -> Limits:
        """The size bounds of the input schema, for checking a request as it is converted."""
        return self._validator.limits

    def check_shape(self, request: Mapping[str, Any]) -> None:
        """Only the size checks, on a request not yet converted (`convert.request_view`).

        A batch's length first, then every part against the schema's bounds, so a huge
        request is refused before anything whose cost grows with it. Raises
        `InvalidRequestError` naming the field.
        """
        items = request.get("evaluations", ())
        self._check_batch_length(len(items))
        self._validator.limits.check({k: request[k] for k in _REQUEST_PARTS if k in request})
        for index, item in enumerate(items):
            self._validator.limits.check(item, f"evaluations.{index}")

    def _check_batch_length(self, length: int) -> None:
        if length > self._max_batch_items:
            raise InvalidRequestError(
                "evaluations",
                f"has {length} items; the limit is {self._max_batch_items} "
                "(server.max_batch_items); split the batch",
            )

    def allowed_actions(self, request: Any) -> list[tuple[str, Answer]]:
        """Every catalog action with the answer Check would give, from one evaluation."""
        return self.list_actions(request).answers

    def list_actions(self, request: Any, *, within_limits: bool = False) -> Listed:
        """`allowed_actions` with the call id and evaluation time, for the decision log."""
        self._validator.list_request(request, within_limits=within_limits)
        call_id = str(uuid.uuid4())
        raw, elapsed_ns = self._timed(
            self._engine.decide_all, request, call_id, self._list_budget_ns
        )
        if not isinstance(raw, dict):
            raw = {}  # every action then answers evaluation_error
        answers = [(a, self._finish(raw.get(a), f"{call_id}#{a}")) for a in self.bundle.actions]
        return Listed(call_id, request, answers, elapsed_ns)

    # ------------------------------------------------------------------ answers

    def deny(self, code: str, decision_id: str | None = None) -> Answer:
        """A fail-closed deny whose single reason is `code`."""
        return self.denials.deny(code, decision_id)

    def _timed(
        self, evaluate: Any, request: Any, decision_id: str, budget_ns: int
    ) -> tuple[Any, int]:
        """The engine's raw result (None on failure or lateness) and the wall nanoseconds it took.

        Late means more than `budget_ns` of this thread's CPU time (the engine evaluates on the
        calling thread), or more than the wall-clock ceiling. CPU time counts the evaluation's
        own work only: time spent runnable but not running (a starved CPU), waiting for the GIL
        or for a compile on another thread does not make a legitimate call late. The ceiling
        still cuts an evaluation that waits rather than computes.
        """
        started = time.perf_counter_ns()
        started_cpu = time.thread_time_ns()
        try:
            raw = evaluate(request)
        except EvaluationError as exc:
            log.exception("evaluation_error", decision_id=decision_id, error=str(exc))
            return None, time.perf_counter_ns() - started
        cpu_ns = time.thread_time_ns() - started_cpu
        elapsed_ns = time.perf_counter_ns() - started
        if cpu_ns > budget_ns or elapsed_ns > self._wall_ceiling_ns:
            # regorus cannot be pre-empted; a late answer is discarded rather than trusted.
            log.error(
                "evaluation_timeout",
                decision_id=decision_id,
                cpu_ms=round(cpu_ns / 1e6, 3),
                elapsed_ms=round(elapsed_ns / 1e6, 3),
                timeout_ms=budget_ns / 1e6,
                wall_timeout_ms=self._wall_ceiling_ns / 1e6,
            )
            return None, elapsed_ns
        return raw, elapsed_ns

    def _finish(self, raw: Any, decision_id: str) -> Answer:
        problem = _shape_problem(raw)
        if problem:
            if raw is not None:
                log.error("evaluation_error", decision_id=decision_id, error=problem)
            return self.deny("evaluation_error", decision_id)
        # Entries are rebuilt in the contract's field order, with exactly the contract's fields.
        return {
            "decision_id": decision_id,
            "decision": raw["decision"],
            "reasons": [{f: r[f] for f in CITATION_FIELDS} for r in raw["reasons"]],
            "obligations": [{f: o[f] for f in CITATION_FIELDS} for o in raw["obligations"]],
            "escalate_to": raw["escalate_to"],
            "accountable": [{f: a[f] for f in ACCOUNTABLE_FIELDS} for a in raw["accountable"]],
            "policy_revision": self.revision,
        }


# The contract's fields of a reason or obligation, and of an accountable, with their types.
CITATION_FIELDS = {"code": str, "article": str, "item": int, "message_zh": str, "message_en": str}
ACCOUNTABLE_FIELDS = {"subject_id": str, "capacity": str, "responsibility": str, "article": str}


def _shape_problem(raw: Any) -> str:
    """Why `raw` is not a well-formed decision document, or "" when it is."""
    if raw is None:
        return "no decision"
    if not isinstance(raw, dict):
        return f"the decision is {type(raw).__name__}, not an object"
    if not isinstance(raw.get("decision"), bool):
        return "the decision has no boolean 'decision'"
    reasons = raw.get("reasons")
    if not isinstance(reasons, list) or not reasons:
        return "the decision has no reasons"
    for key, fields in (
        ("reasons", CITATION_FIELDS),
        ("obligations", CITATION_FIELDS),
        ("accountable", ACCOUNTABLE_FIELDS),
    ):
        entries = raw.get(key)
        if not isinstance(entries, list):
            return f"'{key}' is not a list"
        for entry in entries:
            if not isinstance(entry, dict) or any(
                not isinstance(entry.get(f), t) or isinstance(entry.get(f), bool)
                for f, t in fields.items()
            ):
                return f"a malformed entry in '{key}': {entry!r}"
    if raw.get("escalate_to") not in ESCALATION_TARGETS:
        return f"'escalate_to' is {raw.get('escalate_to')!r}"
    return ""
