"""Decision records: what the log keeps of each answer, built on the serving thread.

Field names follow OPA's decision-log event where the two overlap (`decision_id`, `timestamp`,
`path`, `input`, `result`, `bundles`, `metrics`, `labels`, `erased`, `masked`); the rest are
Quanze's own. The writer adds `type`, `seq` and `prev_hash`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from quanze.server.clock import timestamp
from quanze.server.decisionlog.mask import Masked
from quanze.server.decisions import Answer, BatchItemResult, Decided, Listed

CHECK_PATH = "quanze/authz/decision"
LIST_PATH = "quanze/authz/decisions"
_ANSWER_PARTS = ("reasons", "obligations", "escalate_to", "accountable")


class MaskPolicy(Protocol):
    """Applies the log mask policy to an event (see mask.py)."""

    def apply(self, event: Mapping[str, Any]) -> Masked: ...


@dataclass(frozen=True)
class Call:
    """Who called and when: the same for every record one RPC produces."""

    rpc: str
    revision: str
    labels: Mapping[str, str]
    peer: str = ""
    certificate_subject: str = ""
    certificate_sans: tuple[str, ...] = ()
    trace: Mapping[str, str] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.perf_counter_ns)


def check_record(call: Call, decided: Decided, masker: MaskPolicy | None) -> dict[str, Any]:
    """The record of one Check answer."""
    return _record(call, CHECK_PATH, decided.request, decided.answer, decided.evaluation_ns, masker)


def batch_records(
    call: Call, results: list[BatchItemResult], masker: MaskPolicy | None
) -> list[dict[str, Any]]:
    """One record per CheckBatch item, each naming the batch and its index."""
    out = []
    for index, item in enumerate(results):
        record = _record(call, CHECK_PATH, item.request, item.answer, item.evaluation_ns, masker)
        record["batch"] = {"index": index, "size": len(results)}
        if item.error is not None:
            record["error"] = {"field": item.error.field, "message": item.error.message}
        out.append(record)
    return out


def list_record(call: Call, listed: Listed, masker: MaskPolicy | None) -> dict[str, Any]:
    """One record for a ListAllowedActions call: the actions it answered allowed."""
    allowed = [action for action, answer in listed.answers if answer["decision"]]
    answer: Answer = {
        "decision_id": listed.call_id,
        "decision": {"allowed": allowed},
        "reasons": [],
        "obligations": [],
        "escalate_to": "",
        "accountable": [],
    }
    return _record(call, LIST_PATH, listed.request, answer, listed.evaluation_ns, masker)


def _record(  # noqa: PLR0917 - private; every caller passes all six
    call: Call,
    path: str,
    request: Any,
    answer: Answer,
    evaluation_ns: int,
    masker: MaskPolicy | None,
) -> dict[str, Any]:
    masked = (
        masker.apply({"input": request, "path": path, "rpc": call.rpc})
        if masker is not None
        else Masked(request, [], [], False)
    )
    record: dict[str, Any] = {
        "timestamp": timestamp(),
        "decision_id": answer["decision_id"],
        "rpc": call.rpc,
        "path": path,
    }
    if masked.dropped:
        # The mask policy's `drop`: only who asked, when and under which revision stays.
        record["dropped"] = True
    else:
        record["input"] = masked.input
        record["result"] = answer["decision"]
        record.update((part, answer[part]) for part in _ANSWER_PARTS)
    record["bundles"] = {"quanze": {"revision": call.revision}}
    record["metrics"] = {
        "timer_rego_query_eval_ns": evaluation_ns,
        "timer_server_handler_ns": time.perf_counter_ns() - call.started_ns,
    }
    record["labels"] = dict(call.labels)
    record["caller"] = {
        "peer": call.peer,
        "certificate_subject": call.certificate_subject,
        "certificate_sans": list(call.certificate_sans),
    }
    record["trace"] = dict(call.trace)
    record["erased"] = masked.erased
    record["masked"] = masked.masked
    return record
