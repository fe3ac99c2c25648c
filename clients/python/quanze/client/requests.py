"""Typed requests mirroring the decision contract (shared spec contract.md).

`to_dict()` gives the contract JSON (empty optional parts are left out: the contract reads an
absent attribute as false / "none"); `from_dict()` reads it back and names the offending field
of a malformed dict, with the same dotted paths the sidecar uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quanze.client._json import JSONObject, describe, plain_object
from quanze.client.errors import InvalidRequestError

_SUBJECT_FIELDS = ("type", "id", "properties")
_ACTION_FIELDS = ("name", "properties")
_RESOURCE_FIELDS = ("type", "id", "properties")
_REQUEST_FIELDS = ("subject", "action", "resource", "context")


@dataclass(frozen=True)
class Subject:
    """The person who acts; `properties` holds the subject attributes of inventory §4.2."""

    id: str
    type: str = "user"
    properties: JSONObject = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this subject."""
        data: dict[str, Any] = {"type": self.type, "id": self.id}
        _put_object(data, "properties", self.properties, "subject.properties")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subject:
        """Read contract JSON; raises `InvalidRequestError` naming the field."""
        return _subject(data, "subject")


@dataclass(frozen=True)
class Action:
    """What the subject wants to do; `name` is an action id of the catalog."""

    name: str
    properties: JSONObject = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this action."""
        data: dict[str, Any] = {"name": self.name}
        _put_object(data, "properties", self.properties, "action.properties")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        """Read contract JSON; raises `InvalidRequestError` naming the field."""
        return _action(data, "action")


@dataclass(frozen=True)
class Resource:
    """What the action is taken on; `type` is a resource kind of inventory §4.1."""

    type: str
    id: str = ""
    properties: JSONObject = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this resource."""
        data: dict[str, Any] = {"type": self.type}
        if self.id:
            data["id"] = self.id
        _put_object(data, "properties", self.properties, "resource.properties")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resource:
        """Read contract JSON; raises `InvalidRequestError` naming the field."""
        return _resource(data, "resource")


@dataclass(frozen=True)
class CheckRequest:
    """One question: may `subject` take `action` on `resource`, given `context`?"""

    subject: Subject
    action: Action
    resource: Resource
    context: JSONObject = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The contract request JSON."""
        data: dict[str, Any] = {
            "subject": self.subject.to_dict(),
            "action": self.action.to_dict(),
            "resource": self.resource.to_dict(),
        }
        _put_object(data, "context", self.context, "context")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckRequest:
        """Read a contract request; raises `InvalidRequestError` naming the field."""
        return _check_request(data, "")


@dataclass(frozen=True)
class PartialRequest:
    """A request whose parts may be missing: batch defaults, or a batch item that inherits them.

    A part left `None` is not sent, so the item takes the batch default for it.
    """

    subject: Subject | None = None
    action: Action | None = None
    resource: Resource | None = None
    context: JSONObject | None = None

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of the parts that are set."""
        data: dict[str, Any] = {}
        for name in ("subject", "action", "resource"):
            part: Subject | Action | Resource | None = getattr(self, name)
            if part is not None:
                data[name] = part.to_dict()
        if self.context is not None:
            data["context"] = plain_object(self.context, "context")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartialRequest:
        """Read the parts present in a contract request; raises `InvalidRequestError`."""
        return _partial_request(data, "")


# ---------------------------------------------------------------------- coercion

RequestLike = CheckRequest | Mapping[str, Any]
PartialLike = PartialRequest | CheckRequest | Mapping[str, Any]


def as_check_request(value: object, path: str = "") -> CheckRequest:
    """`value` as a CheckRequest, reading a contract dict; raises naming the field."""
    if isinstance(value, CheckRequest):
        return value
    if isinstance(value, Mapping):
        return _check_request(value, path)
    raise InvalidRequestError(
        path or "request", f"must be a CheckRequest or a JSON object, got {describe(value)}"
    )


def as_partial_request(value: object, path: str = "") -> PartialRequest:
    """`value` as a PartialRequest; a CheckRequest sets every part (an empty context none)."""
    if isinstance(value, PartialRequest):
        return value
    if isinstance(value, CheckRequest):
        context = value.context or None
        return PartialRequest(value.subject, value.action, value.resource, context)
    if isinstance(value, Mapping):
        return _partial_request(value, path)
    raise InvalidRequestError(
        path or "request",
        f"must be a PartialRequest, a CheckRequest or a JSON object, got {describe(value)}",
    )


def as_subject(value: object) -> Subject:
    """`value` as a Subject, reading a contract dict."""
    return value if isinstance(value, Subject) else _subject(value, "subject")


def as_resource(value: object) -> Resource:
    """`value` as a Resource, reading a contract dict."""
    return value if isinstance(value, Resource) else _resource(value, "resource")


def as_context(value: object) -> JSONObject:
    """`value` as a context object; `None` is the empty context."""
    return {} if value is None else plain_object(value, "context")


# ---------------------------------------------------------------------- reading dicts


def _check_request(data: object, path: str) -> CheckRequest:
    fields = _known(data, path, _REQUEST_FIELDS)
    return CheckRequest(
        subject=_subject(_required(fields, "subject", path), _join(path, "subject")),
        action=_action(_required(fields, "action", path), _join(path, "action")),
        resource=_resource(_required(fields, "resource", path), _join(path, "resource")),
        context=_object(fields, "context", path),
    )


def _partial_request(data: object, path: str) -> PartialRequest:
    fields = _known(data, path, _REQUEST_FIELDS)
    subject, action, resource, context = (fields.get(name) for name in _REQUEST_FIELDS)
    return PartialRequest(
        subject=None if subject is None else _subject(subject, _join(path, "subject")),
        action=None if action is None else _action(action, _join(path, "action")),
        resource=None if resource is None else _resource(resource, _join(path, "resource")),
        context=None if context is None else plain_object(context, _join(path, "context")),
    )


def _subject(data: object, path: str) -> Subject:
    fields = _known(data, path, _SUBJECT_FIELDS)
    return Subject(
        id=_text(fields, "id", path, required=True),
        type=_text(fields, "type", path, default="user"),
        properties=_object(fields, "properties", path),
    )


def _action(data: object, path: str) -> Action:
    fields = _known(data, path, _ACTION_FIELDS)
    return Action(
        name=_text(fields, "name", path, required=True),
        properties=_object(fields, "properties", path),
    )


def _resource(data: object, path: str) -> Resource:
    fields = _known(data, path, _RESOURCE_FIELDS)
    return Resource(
        type=_text(fields, "type", path, required=True),
        id=_text(fields, "id", path),
        properties=_object(fields, "properties", path),
    )


def _known(data: object, path: str, names: tuple[str, ...]) -> Mapping[str, Any]:
    # Unknown keys cannot travel in the protobuf message; dropping them silently would hide typos.
    if not isinstance(data, Mapping):
        raise InvalidRequestError(path or "request", f"must be a JSON object, got {describe(data)}")
    unknown = sorted(str(key) for key in data if key not in names)
    if unknown:
        raise InvalidRequestError(
            _join(path, unknown[0]), f"is not a known field; expected one of: {', '.join(names)}"
        )
    return data


def _required(fields: Mapping[str, Any], name: str, path: str) -> object:
    value = fields.get(name)
    if value is None:
        raise InvalidRequestError(_join(path, name), "is required")
    return value


def _text(
    fields: Mapping[str, Any], name: str, path: str, *, required: bool = False, default: str = ""
) -> str:
    value = _required(fields, name, path) if required else fields.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidRequestError(_join(path, name), f"must be a string, got {describe(value)}")
    return value


def _object(fields: Mapping[str, Any], name: str, path: str) -> JSONObject:
    value = fields.get(name)
    return {} if value is None else plain_object(value, _join(path, name))


def _put_object(data: dict[str, Any], name: str, value: JSONObject, path: str) -> None:
    if value:
        data[name] = plain_object(value, path)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
