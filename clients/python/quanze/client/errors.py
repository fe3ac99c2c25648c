"""The one family of errors the client raises; a grpc.RpcError never reaches the caller.

Every error keeps the gRPC status code name in `.code` ("UNAVAILABLE", ...). Errors the client
detects itself use the status the sidecar would have given (a malformed request is
"INVALID_ARGUMENT").
"""

from __future__ import annotations

import re

# The server formats INVALID_ARGUMENT details as "<dotted.field>: <message>".
_FIELD_DETAILS = re.compile(r"(?P<field>[A-Za-z_][\w.\[\]]*): (?P<message>.*)", re.DOTALL)


class QuanzeClientError(Exception):
    """Base class of every error the Quanze client raises."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidRequestError(QuanzeClientError):
    """The request is malformed (a caller bug); `field` is the dotted path to fix, or ""."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message, code="INVALID_ARGUMENT")
        self.field = field
        self.message = message

    @classmethod
    def from_details(cls, details: str) -> InvalidRequestError:
        """Parse the server's "<field>: <message>" details; unparseable text keeps field ""."""
        match = _FIELD_DETAILS.fullmatch(details)
        if match is None:
            return cls("", details)
        return cls(match["field"], match["message"])


class UnavailableError(QuanzeClientError):
    """The sidecar cannot be reached, or has not loaded its policies yet; retrying may help."""


class DeadlineExceededError(QuanzeClientError):
    """The sidecar did not answer within the deadline."""


class SidecarError(QuanzeClientError):
    """The call failed with another status (INTERNAL, RESOURCE_EXHAUSTED, CANCELLED, ...)."""


class ClientClosedError(QuanzeClientError):
    """The client was used after `close()` (a caller bug)."""

    def __init__(self, target: str) -> None:
        super().__init__(f"the Quanze client for {target} is closed", code="CANCELLED")


def error_for_status(code: str, details: str, target: str) -> QuanzeClientError:
    """The client error for a failed call with status `code` (a StatusCode name)."""
    if code == "INVALID_ARGUMENT":
        return InvalidRequestError.from_details(details)
    message = f"{code} from the Quanze sidecar at {target}: {details}"
    if code == "UNAVAILABLE":
        return UnavailableError(message, code=code)
    if code == "DEADLINE_EXCEEDED":
        return DeadlineExceededError(message, code=code)
    return SidecarError(message, code=code)
