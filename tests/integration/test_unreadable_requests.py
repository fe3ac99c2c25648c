"""Bodies protobuf cannot parse, nesting past its limit, NaN and Infinity: INVALID_ARGUMENT.

Each is sent as raw bytes over a real socket, so what is tested is what any client could send;
none may be answered UNKNOWN (gRPC's answer to an exception) or, worse, decided.
"""

from __future__ import annotations

import json
import math
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from quanze.client import Client
from quanze.v1 import decision_service_pb2 as pb
from tests.support import CONTRACT_EXAMPLE

REQUEST: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)
CORRUPT = b"\xff\xff\xff\xff\x0f"

UNARY_METHODS = (
    "/quanze.v1.DecisionService/Check",
    "/quanze.v1.DecisionService/CheckBatch",
    "/quanze.v1.DecisionService/ListAllowedActions",
    "/quanze.v1.DecisionService/GetStatus",
    "/grpc.health.v1.Health/Check",
)


def _same(data: bytes) -> bytes:
    return data


def _raw_call(address: str, method: str, body: bytes) -> grpc.RpcError | bytes:
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(method, request_serializer=_same, response_deserializer=_same)
        try:
            return call(body, timeout=10)
        except grpc.RpcError as error:
            return error


def _refused(outcome: grpc.RpcError | bytes) -> tuple[grpc.StatusCode, str]:
    assert isinstance(outcome, grpc.RpcError), f"answered {outcome!r} instead of refusing"
    return outcome.code(), outcome.details() or ""


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (libraries refuse to build some)."""
    length = bytearray()
    size = len(payload)
    while True:
        low, size = size & 0x7F, size >> 7
        length.append(low | (0x80 if size else 0))
        if not size:
            return bytes([number << 3 | 2]) + bytes(length) + payload


def _nested_value(depth: int) -> bytes:
    """A `Value` holding `depth` Structs, each inside the one before (key "a")."""
    value = _field(3, b"x")  # Value.string_value
    for _ in range(depth):
        entry = _field(1, b"a") + _field(2, value)  # map entry: key, value
        value = _field(5, _field(1, entry))  # Value.struct_value = Struct{fields}
    return value


def _check_with_context(key: str, value: bytes) -> bytes:
    """The contract example as a CheckRequest whose context also holds `key`: `value`."""
    message = json_format.ParseDict(REQUEST, pb.CheckRequest())
    entry = _field(1, key.encode()) + _field(2, value)
    # Repeating a message field merges it: this adds one entry to the context Struct.
    return message.SerializeToString() + _field(4, _field(1, entry))


@pytest.mark.parametrize("method", UNARY_METHODS)
def test_corrupt_body_is_invalid_argument_naming_the_method(address: str, method: str) -> None:
    code, details = _refused(_raw_call(address, method, CORRUPT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"the request body of {method} is not a valid message" in details


def test_truncated_check_is_invalid_argument(address: str) -> None:
    body = json_format.ParseDict(REQUEST, pb.CheckRequest()).SerializeToString()
    code, details = _refused(_raw_call(address, UNARY_METHODS[0], body[:-3]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "protobuf could not parse it" in details


def test_health_watch_refuses_a_corrupt_body(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        watch = channel.unary_stream(
            "/grpc.health.v1.Health/Watch", request_serializer=_same, response_deserializer=_same
        )
        with pytest.raises(grpc.RpcError) as caught:
            list(watch(CORRUPT, timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_reflection_refuses_a_corrupt_message_in_its_stream(address: str) -> None:
    method = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    with grpc.insecure_channel(address) as channel:
        stream = channel.stream_stream(
            method, request_serializer=_same, response_deserializer=_same
        )
        with pytest.raises(grpc.RpcError) as caught:
            list(stream(iter([CORRUPT]), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert method in (caught.value.details() or "")


@pytest.mark.parametrize("depth", [40, 5000])
def test_nesting_past_protobufs_limit_is_invalid_argument(address: str, depth: int) -> None:
    body = _check_with_context("deep", _nested_value(depth))
    code, details = _refused(_raw_call(address, UNARY_METHODS[0], body))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "nested more deeply than protobuf allows" in details


def test_nesting_within_the_limit_is_decided(address: str) -> None:
    # Control for the test above: the same construction, shallow enough, is a valid request.
    body = _check_with_context("extensions", _nested_value(20))
    answer = _raw_call(address, UNARY_METHODS[0], body)
    assert isinstance(answer, bytes), answer
    assert pb.CheckResponse.FromString(answer).decision is True


NON_FINITE = [
    ("context", math.nan, "context.extensions.scores.1.n", "NaN"),
    ("context", math.inf, "context.extensions.scores.1.n", "Infinity"),
    ("subject", -math.inf, "subject.properties.extensions.n", "-Infinity"),
]


@pytest.mark.parametrize(("where", "value", "field", "shown"), NON_FINITE)
def test_non_finite_number_is_invalid_argument_naming_the_field(
    address: str, where: str, value: float, field: str, shown: str
) -> None:
    # json_format refuses to parse NaN from a dict, so set it on the message directly.
    message = json_format.ParseDict(REQUEST, pb.CheckRequest())
    if where == "context":
        extensions = message.context.fields["extensions"].struct_value
        scores = extensions.fields["scores"].list_value
        scores.values.add().number_value = 1
        scores.values.add().struct_value.fields["n"].number_value = value
    else:
        extensions = message.subject.properties.fields["extensions"].struct_value
        extensions.fields["n"].number_value = value
    code, details = _refused(_raw_call(address, UNARY_METHODS[0], message.SerializeToString()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == f"{field}: {shown} is not a JSON number; send a finite number"


def test_non_finite_number_in_a_batch_item_names_the_item(address: str) -> None:
    message = pb.CheckBatchRequest()
    json_format.ParseDict(REQUEST, message.evaluations.add())
    item = message.evaluations.add()
    json_format.ParseDict(REQUEST, item)
    item.context.fields["extensions"].struct_value.fields["n"].number_value = math.nan
    code, details = _refused(_raw_call(address, UNARY_METHODS[1], message.SerializeToString()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("evaluations[1].context.extensions.n: NaN is not a JSON number")


def test_the_sidecar_still_decides_after_unreadable_requests(address: str) -> None:
    for method in UNARY_METHODS:
        _refused(_raw_call(address, method, CORRUPT))
    with Client(address, timeout=10) as client:
        assert client.check(REQUEST).decision is True


def test_non_finite_number_in_the_batch_defaults_names_the_field(address: str) -> None:
    message = pb.CheckBatchRequest()
    json_format.ParseDict(REQUEST, message.evaluations.add())
    message.context.fields["extensions"].struct_value.fields["n"].number_value = math.inf
    code, details = _refused(_raw_call(address, UNARY_METHODS[1], message.SerializeToString()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "context.extensions.n: Infinity is not a JSON number; send a finite number"


def test_a_value_of_no_kind_is_invalid_argument_naming_the_field(address: str) -> None:
    # Protobuf lets a Struct hold a Value with none of its kinds set; JSON has no such thing.
    message = json_format.ParseDict(REQUEST, pb.CheckRequest())
    message.resource.properties.fields["procuratorate"].Clear()
    code, details = _refused(_raw_call(address, UNARY_METHODS[0], message.SerializeToString()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("resource.properties.procuratorate: a protobuf Value with no kind")
