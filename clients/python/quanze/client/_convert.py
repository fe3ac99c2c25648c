"""The one place where the client's objects and the protobuf messages meet.

Requests accept the typed objects or contract dicts; a part left out of a batch item is left
unset in the message, which is how the sidecar knows to apply the batch default.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import struct_pb2

from quanze.client._json import JSONObject, plain_object
from quanze.client.answers import (
    Accountable,
    ActionDecision,
    Answer,
    BatchItem,
    ItemError,
    Obligation,
    Reason,
)
from quanze.client.requests import (
    Action,
    PartialRequest,
    Resource,
    Subject,
    as_check_request,
    as_context,
    as_partial_request,
    as_resource,
    as_subject,
)
from quanze.v1 import decision_service_pb2 as pb

# ---------------------------------------------------------------------- requests


def check_message(request: object) -> pb.CheckRequest:
    """A Check request from a CheckRequest or a contract dict."""
    checked = as_check_request(request)
    message = pb.CheckRequest(
        subject=_subject(checked.subject, "subject"),
        action=_action(checked.action, "action"),
        resource=_resource(checked.resource, "resource"),
    )
    if checked.context:
        _fill(message.context, checked.context, "context")
    return message


def batch_message(
    items: Iterable[object], defaults: object | None, semantic: str
) -> pb.CheckBatchRequest:
    """A CheckBatch request; the field paths of errors match the sidecar's ("evaluations[1].…")."""
    message = pb.CheckBatchRequest(options=pb.BatchOptions(evaluations_semantic=semantic))
    if defaults is not None:
        _fill_partial(message, as_partial_request(defaults), "")
    for index, item in enumerate(items):
        path = f"evaluations[{index}]"
        _fill_partial(message.evaluations.add(), as_partial_request(item, path), path)
    return message


def list_message(
    subject: object, resource: object, context: object | None
) -> pb.ListAllowedActionsRequest:
    """A ListAllowedActions request from objects or contract dicts."""
    message = pb.ListAllowedActionsRequest(
        subject=_subject(as_subject(subject), "subject"),
        resource=_resource(as_resource(resource), "resource"),
    )
    shared = as_context(context)
    if shared:
        _fill(message.context, shared, "context")
    return message


def _fill_partial(
    message: pb.CheckRequest | pb.CheckBatchRequest, part: PartialRequest, path: str
) -> None:
    prefix = f"{path}." if path else ""
    if part.subject is not None:
        message.subject.CopyFrom(_subject(part.subject, f"{prefix}subject"))
    if part.action is not None:
        message.action.CopyFrom(_action(part.action, f"{prefix}action"))
    if part.resource is not None:
        message.resource.CopyFrom(_resource(part.resource, f"{prefix}resource"))
    if part.context is not None:
        # Set even when empty, so the item says "my context" rather than "use the default".
        message.context.SetInParent()
        _fill(message.context, part.context, f"{prefix}context")


def _subject(subject: Subject, path: str) -> pb.Subject:
    message = pb.Subject(type=subject.type, id=subject.id)
    _fill(message.properties, subject.properties, f"{path}.properties")
    return message


def _action(action: Action, path: str) -> pb.Action:
    message = pb.Action(name=action.name)
    _fill(message.properties, action.properties, f"{path}.properties")
    return message


def _resource(resource: Resource, path: str) -> pb.Resource:
    message = pb.Resource(type=resource.type, id=resource.id)
    _fill(message.properties, resource.properties, f"{path}.properties")
    return message


def _fill(struct: struct_pb2.Struct, values: JSONObject, path: str) -> None:
    if values:
        struct.update(plain_object(values, path))


# ---------------------------------------------------------------------- answers


def answer(message: pb.CheckResponse) -> Answer:
    """The Answer in a CheckResponse."""
    return Answer(
        decision_id=message.decision_id,
        decision=message.decision,
        reasons=tuple(
            Reason(r.code, r.article, r.item, r.message_zh, r.message_en) for r in message.reasons
        ),
        obligations=tuple(
            Obligation(o.code, o.article, o.item, o.message_zh, o.message_en)
            for o in message.obligations
        ),
        escalate_to=message.escalate_to,
        accountable=tuple(
            Accountable(a.subject_id, a.capacity, a.responsibility, a.article)
            for a in message.accountable
        ),
        policy_revision=message.policy_revision,
    )


def batch_items(message: pb.CheckBatchResponse) -> list[BatchItem]:
    """The results of a CheckBatch, in request order."""
    return [
        BatchItem(
            answer=answer(item.answer),
            error=ItemError(item.error.field, item.error.message)
            if item.HasField("error")
            else None,
        )
        for item in message.evaluations
    ]


def action_decisions(message: pb.ListAllowedActionsResponse) -> list[ActionDecision]:
    """Every catalog action with its answer, in catalog order."""
    return [ActionDecision(entry.action, answer(entry.answer)) for entry in message.actions]
