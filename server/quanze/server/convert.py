"""The one place where protobuf messages and contract JSON dicts meet.

The proto's JSON mapping is the contract, so requests convert as the standard mapping does
(preserving snake_case names); both ways are written out field by field because that is faster.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import descriptor, json_format, struct_pb2

from quanze.server.decisions import Answer, BatchItemResult
from quanze.server.errors import InvalidRequestError, non_finite_number
from quanze.server.validation import Bounds, Limits
from quanze.v1 import decision_service_pb2 as pb


def request_dict(message: Any, limits: Limits | None = None, *, field: str = "") -> dict[str, Any]:
    """A request message as contract JSON; unset fields are absent (so they read as missing).

    With `limits`, the schema's size bounds are checked while the message is read, each before
    what it bounds is converted, with the outcome `limits.check(request_view(message))` had
    before converting: the same first error, and nothing read that it does not read. What JSON
    cannot hold (NaN, Infinity, a `Value` of no kind) is an `InvalidRequestError` naming the
    field; `field` is where `message` sits in the request.
    """
    try:
        return _read(message, limits)
    except (json_format.SerializeToJsonError, ValueError) as exc:
        problem = _unconvertible(message, field)
        raise problem or InvalidRequestError(field, f"cannot be read as JSON: {exc}") from None


def _read(message: Any, limits: Limits | None) -> dict[str, Any]:
    if not _plain_fields(message.DESCRIPTOR):  # a field of another kind: as it always was
        if limits is not None:
            limits.check(request_view(message))
        converted: dict[str, Any] = json_format.MessageToDict(
            message, preserving_proto_field_name=True
        )
        return converted
    reader = _Reader()
    converted = reader.message(message, None if limits is None else limits.root, "")
    if reader.non_finite:  # only now, so that a bound further on is named first, as before
        raise ValueError("a number JSON cannot hold")
    return converted


_STRUCT = struct_pb2.Struct.DESCRIPTOR


@functools.cache
def _plain_fields(message_type: Any) -> bool:
    """Whether every field of `message_type` is a string, a `Struct` or such a message."""
    if message_type is _STRUCT:
        return True
    return all(
        not f.is_repeated
        and (
            f.type == descriptor.FieldDescriptor.TYPE_STRING
            or (f.type == descriptor.FieldDescriptor.TYPE_MESSAGE and _plain_fields(f.message_type))
        )
        for f in message_type.fields
    )


class _Reader:
    """What `json_format.MessageToDict(message, preserving_proto_field_name=True)` returns,
    written out for the field types requests have (two thirds of its cost), checking `Bounds`
    on the way as `Limits` walks `request_view`. A location's dotted path is built only for an
    error or a container: `at` is the parent's path and `key` the member's name or index.

    A bounded `Value` of no kind raises, as reading it through `Struct` does; an unbounded one
    is null, as MessageToDict has it. A NaN or an infinity is only noted (`non_finite`).
    """

    def __init__(self) -> None:
        self.non_finite = False

    def message(self, message: Any, bounds: Bounds | None, path: str) -> dict[str, Any]:
        """`message`, whose fields `_plain_fields` allows, at `path`."""
        if message.DESCRIPTOR is _STRUCT:
            return self._struct(message, bounds, path)
        fields = message.ListFields()
        if bounds is not None and (bounds.max_properties is not None or bounds.closed):
            bounds.check_fields([f.name for f, _ in fields], path)
        out: dict[str, Any] = {}
        for field_, value in fields:
            name = field_.name
            child = None if bounds is None else bounds.properties.get(name, bounds.additional)
            if field_.message_type is not None:
                out[name] = self.message(value, child, _join(path, name))
            elif child is not None and child.max_length is not None:  # a string
                child.check_length(value, _join(path, name))
                out[name] = value
            else:
                out[name] = value
        return out

    def _struct(self, struct: Any, bounds: Bounds | None, path: str) -> dict[str, Any]:
        fields = struct.fields
        if bounds is None:
            return {key: self._value(fields[key], None, path, key) for key in fields}
        bounds.check_fields(fields, path)
        properties, additional = bounds.properties, bounds.additional
        return {
            key: self._value(fields[key], properties.get(key, additional), path, key)
            for key in fields
        }

    def _value(self, value: Any, bounds: Bounds | None, at: str, key: str | int) -> Any:
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            text: str = value.string_value
            if bounds is not None and bounds.max_length is not None:
                bounds.check_length(text, _join(at, str(key)))
            return text
        if kind == "struct_value":
            return self._struct(value.struct_value, bounds, _join(at, str(key)))
        if kind == "list_value":
            items = value.list_value.values
            path = _join(at, str(key))
            if bounds is None:
                return [self._value(item, None, path, i) for i, item in enumerate(items)]
            bounds.check_items(len(items), path)
            inner = bounds.items
            return [self._value(item, inner, path, i) for i, item in enumerate(items)]
        if kind == "number_value":
            number = value.number_value
            if not math.isfinite(number):
                self.non_finite = True
            return number
        if kind == "bool_value":
            return value.bool_value
        if kind is None and bounds is not None:
            raise ValueError("Value not set")  # what reading it through `Struct` raises
        return None  # null_value, or no kind where nothing bounds it (as MessageToDict has it)


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
    """(shared defaults, items, evaluations_semantic) of a CheckBatch request.

    `check` first sees the unconverted `request_view` (size limits, which may raise).
    """
    if check is not None:
        try:
            check(request_view(message))
        except ValueError:  # reading a `Struct` raises for a Value of no kind: name it
            found = _unconvertible(message, "")
            for index, item in enumerate(message.evaluations):
                found = found or _unconvertible(item, f"evaluations[{index}]")
            raise found or InvalidRequestError("", "cannot be read as JSON") from None
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
