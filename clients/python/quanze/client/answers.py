"""Typed answers mirroring the decision contract, and the fail-closed deny.

Only `decision is True` allows: `Answer.allowed` (and `bool(answer)`) read anything else as deny.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SIDECAR_UNAVAILABLE = "sidecar_unavailable"
_UNAVAILABLE_ZH = "授权服务不可用，按拒绝处理"  # noqa: RUF001 - Chinese takes the full-width comma
_UNAVAILABLE_EN = "The authorization sidecar could not be reached, so the request is denied"


@dataclass(frozen=True)
class _Citation:
    code: str
    article: str
    item: int
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this entry."""
        return {
            "code": self.code,
            "article": self.article,
            "item": self.item,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class Reason(_Citation):
    """Why a request was denied, or the provision that grants it; cites the Opinion."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        """Read contract JSON; absent fields take their protobuf defaults."""
        return cls(*_citation(data))


@dataclass(frozen=True)
class Obligation(_Citation):
    """Something the actor must do when acting (record dissent, sign minutes, ...)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Obligation:
        """Read contract JSON; absent fields take their protobuf defaults."""
        return cls(*_citation(data))


@dataclass(frozen=True)
class Accountable:
    """Who answers for the decision if it is taken (inventory §5)."""

    subject_id: str
    capacity: str
    responsibility: str
    article: str

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this entry."""
        return {
            "subject_id": self.subject_id,
            "capacity": self.capacity,
            "responsibility": self.responsibility,
            "article": self.article,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Accountable:
        """Read contract JSON; absent fields take their protobuf defaults."""
        return cls(
            subject_id=str(data.get("subject_id", "")),
            capacity=str(data.get("capacity", "")),
            responsibility=str(data.get("responsibility", "")),
            article=str(data.get("article", "")),
        )


@dataclass(frozen=True)
class Answer:
    """The sidecar's answer to one request. Test `allowed`, never `decision` by truthiness."""

    decision_id: str
    decision: bool
    reasons: tuple[Reason, ...]
    obligations: tuple[Obligation, ...] = ()
    escalate_to: str = ""
    accountable: tuple[Accountable, ...] = ()
    policy_revision: str = ""

    @property
    def allowed(self) -> bool:
        """True only when the decision is exactly True; everything else is a deny."""
        return self.decision is True

    def __bool__(self) -> bool:
        # A dataclass is truthy by default, which would make `if answer:` allow every deny.
        return self.allowed

    def to_dict(self) -> dict[str, Any]:
        """The contract answer JSON."""
        return {
            "decision_id": self.decision_id,
            "decision": self.allowed,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "obligations": [obligation.to_dict() for obligation in self.obligations],
            "escalate_to": self.escalate_to,
            "accountable": [entry.to_dict() for entry in self.accountable],
            "policy_revision": self.policy_revision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """Read a contract answer; absent fields take their protobuf defaults (decision false)."""
        return cls(
            decision_id=str(data.get("decision_id", "")),
            decision=data.get("decision") is True,
            reasons=tuple(Reason.from_dict(r) for r in data.get("reasons", ())),
            obligations=tuple(Obligation.from_dict(o) for o in data.get("obligations", ())),
            escalate_to=str(data.get("escalate_to", "")),
            accountable=tuple(Accountable.from_dict(a) for a in data.get("accountable", ())),
            policy_revision=str(data.get("policy_revision", "")),
        )


@dataclass(frozen=True)
class ItemError:
    """Why one batch item was not evaluated (data, not an exception): `field` names the path."""

    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this item error."""
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class BatchItem:
    """The answer to one batch item; `error` is set (and the answer a deny) when it was invalid."""

    answer: Answer
    error: ItemError | None = None

    @property
    def allowed(self) -> bool:
        """True only for a valid item the sidecar allowed."""
        return self.error is None and self.answer.allowed

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this result; "error" only when set."""
        data: dict[str, Any] = {"answer": self.answer.to_dict()}
        if self.error is not None:
            data["error"] = self.error.to_dict()
        return data


@dataclass(frozen=True)
class ActionDecision:
    """The answer Check would give for one action of the catalog."""

    action: str
    answer: Answer

    @property
    def allowed(self) -> bool:
        """True only when the sidecar allowed this action."""
        return self.answer.allowed

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON of this entry."""
        return {"action": self.action, "answer": self.answer.to_dict()}


def deny_answer(code: str, message_zh: str, message_en: str) -> Answer:
    """A locally made deny with one reason and no decision id or policy revision."""
    reason = Reason(code=code, article="", item=0, message_zh=message_zh, message_en=message_en)
    return Answer(decision_id="", decision=False, reasons=(reason,))


def sidecar_unavailable() -> Answer:
    """The deny `check_or_deny` gives when the sidecar cannot answer."""
    return deny_answer(SIDECAR_UNAVAILABLE, _UNAVAILABLE_ZH, _UNAVAILABLE_EN)


def _citation(data: Mapping[str, Any]) -> tuple[str, str, int, str, str]:
    item = data.get("item", 0)
    return (
        str(data.get("code", "")),
        str(data.get("article", "")),
        int(item) if isinstance(item, int | float) and not isinstance(item, bool) else 0,
        str(data.get("message_zh", "")),
        str(data.get("message_en", "")),
    )
