"""Python client of the Quanze authorization sidecar (the decision contract, over gRPC).

    from quanze.client import Action, CheckRequest, Client, Resource, Subject

    request = CheckRequest(
        Subject("asst-A1", properties={"role": "procurator_assistant", "procuratorate": "P-A"}),
        Action("case.interrogate_suspect"),
        Resource("case", "C-1001", {"procuratorate": "P-A", "handling_mode": "sole",
                                    "sole_procurator": "p-A1"}),
        context={"supervising_procurator": "p-A1"},  # guided by the handling procurator
    )
    with Client("unix:/run/quanze.sock", timeout=0.5) as quanze:
        answer = quanze.check_or_deny(request)  # a deny, never an error, when the sidecar is down
    if not answer.allowed:
        print([reason.message_en for reason in answer.reasons])

`AsyncClient` has the same methods, awaited. Requests may also be contract dicts.
"""

from __future__ import annotations

from quanze.client._calls import Semantic
from quanze.client._json import JSONObject, JSONValue
from quanze.client.aio import AsyncClient
from quanze.client.answers import (
    SIDECAR_UNAVAILABLE,
    Accountable,
    ActionDecision,
    Answer,
    BatchItem,
    ItemError,
    Obligation,
    Reason,
    deny_answer,
    sidecar_unavailable,
)
from quanze.client.errors import (
    ClientClosedError,
    DeadlineExceededError,
    InvalidRequestError,
    QuanzeClientError,
    SidecarError,
    UnavailableError,
)
from quanze.client.requests import Action, CheckRequest, PartialRequest, Resource, Subject
from quanze.client.sync import Client

__all__ = [
    "SIDECAR_UNAVAILABLE",
    "Accountable",
    "Action",
    "ActionDecision",
    "Answer",
    "AsyncClient",
    "BatchItem",
    "CheckRequest",
    "Client",
    "ClientClosedError",
    "DeadlineExceededError",
    "InvalidRequestError",
    "ItemError",
    "JSONObject",
    "JSONValue",
    "Obligation",
    "PartialRequest",
    "QuanzeClientError",
    "Reason",
    "Resource",
    "Semantic",
    "SidecarError",
    "Subject",
    "UnavailableError",
    "deny_answer",
    "sidecar_unavailable",
]
