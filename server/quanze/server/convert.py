"""The one place where protobuf messages and contract JSON dicts meet.

The proto's JSON mapping is the contract, so requests convert with the standard mapping
(preserving snake_case names); answers are built field by field because that is faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import descriptor, json_format, struct_pb2

from quanze.server.decisions import Answer, BatchItemResult
from quanze.server.errors import InvalidRequestError, non_finite_number
from quanze.v1 import decision_service_pb2 as pb


def request_dict(
    message: Any, check: Callable[[Any], None] | None = None, *, field: str = ""
) -> dict[str, Any]:
    """A request message as contract JSON; unset fields are absent (so they read as missing).

    `check` first sees the unconverted `request_view` (size limits, which may raise). What
    JSON cannot hold (NaN, Infinity, a `Value` of no kind) is an `InvalidRequestError` naming
    the field; `field` is where `message` sits in the request.
    """
    try:
        if check is not None:
            check(request_view(message))  # reading a `Struct` raises for a Value of no kind
        return json_format.MessageToDict(message, preserving_proto_field_name=True)
    except (json_format.SerializeToJsonError, ValueError) as exc:
        problem = _unconvertible(message, field)
        raise problem or InvalidRequestError(field, f"cannot be read as JSON: {exc}") from None


def _unconvertible(message: Any, path: str) -> InvalidRequestError | None:
    """The first value in a message's `Struct`s that JSON cannot hold, as the error to raise."""
    if isinstance(message, struct_pb2.Value):
        kind = message.WhichOneof("kind")
        if kind is None:
            return InvalidRequestError(
                path,
                "a protobuf Value with no kind set; set null, a number, string, bool, "
                "struct or list",
            )
        if kind == "number_value" and not math.isfinite(message.number_value):
            return non_finite_number(path, message.number_value)
        return _unconvertible(getattr(message, kind), path) if kind in _NESTED_KINDS else None
    if isinstance(message, struct_pb2.Struct):
        children: Any = ((_join(path, key), value) for key, value in message.fields.items())
    elif isinstance(message, struct_pb2.ListValue):
        children = ((_join(path, str(i)), value) for i, value in enumerate(message.values))
    else:
        children = (
            (_join(path, field.name), value)
            for field, value in message.ListFields()
            if field.type == descriptor.FieldDescriptor.TYPE_MESSAGE and not field.is_repeated
        )
    for child_path, child in children:
        found = _unconvertible(child, child_path)
        if found is not None:
            return found
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# `Value` kinds that hold more values.
_NESTED_KINDS = ("struct_value", "list_value")


def request_view(message: Any) -> Any:
    """The request as nested dicts whose `Struct`s stay protobuf (a `Mapping`): nothing converted.

    What `Limits` checks before `request_dict` runs, whose cost grows with the request.
    """
    if isinstance(message, struct_pb2.Struct):
        return message
    view: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.type != descriptor.FieldDescriptor.TYPE_MESSAGE:
            view[field.name] = value
        elif field.is_repeated:
            view[field.name] = _Views(value)
        else:
            view[field.name] = request_view(value)
    return view


class _Views(Sequence[Any]):
    """A repeated message field whose items are viewed only when read (its length is free)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return request_view(self._items[index])


def batch_parts(
    message: pb.CheckBatchRequest, check: Callable[[Any], None] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """(shared defaults, items, evaluations_semantic) of a CheckBatch request; `check` as above."""
    if check is not None:
        check(request_view(message))
    defaults = {
        name: request_dict(getattr(message, name), field=name)
        for name in ("subject", "action", "resource", "context")
        if message.HasField(name)
    }
    items = []
    for index, item in enumerate(message.evaluations):
        try:
            items.append(request_dict(item))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"evaluations[{index}].{exc.field}", exc.message) from None
    return defaults, items, message.options.evaluations_semantic


def answer_message(answer: Mapping[str, Any]) -> pb.CheckResponse:
    """A contract answer as a CheckResponse."""
    return pb.CheckResponse(
        decision_id=answer["decision_id"],
        decision=answer["decision"],
        reasons=[pb.Reason(**r) for r in answer["reasons"]],
        obligations=[pb.Obligation(**o) for o in answer["obligations"]],
        escalate_to=answer["escalate_to"],
        accountable=[pb.Accountable(**a) for a in answer["accountable"]],
        policy_revision=answer["policy_revision"],
    )


def batch_message(results: Iterable[BatchItemResult]) -> pb.CheckBatchResponse:
    """Batch results, in order, as a CheckBatchResponse."""
    items = []
    for result in results:
        item = pb.BatchItemResult(answer=answer_message(result.answer))
        if result.error is not None:
            item.error.field = result.error.field
            item.error.message = result.error.message
        items.append(item)
    return pb.CheckBatchResponse(evaluations=items)


def actions_message(
    actions: Iterable[tuple[str, Answer]], revision: str
) -> pb.ListAllowedActionsResponse:
    """Per-action answers as a ListAllowedActionsResponse."""
    return pb.ListAllowedActionsResponse(
        actions=[pb.ActionDecision(action=name, answer=answer_message(a)) for name, a in actions],
        policy_revision=revision,
    )
