"""Requests read from protobuf: the same contract JSON and the same first error as the standard
mapping (`MessageToDict`) after `Limits` on the unconverted message, which is how they were read
before `request_dict` checked the bounds while converting."""

from __future__ import annotations

import gc
import json
import math
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanze.server import convert
from quanze.server.app import build_decider
from quanze.server.config import Config
from quanze.server.errors import InvalidRequestError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.policy.testing import DecisionCase
from quanze.server.validation import Limits
from quanze.v1 import decision_service_pb2 as pb
from tests.support import schema_keys

# A `Value` spec: ("unset",) | ("null",) | ("bool", b) | ("number", x) | ("string", s)
#                 | ("list", [spec]) | ("struct", [(key, spec)])
Spec = tuple[Any, ...]


def reference(message: Any, limits: Limits | None) -> dict[str, Any]:
    """How a request was read before: bounds on `request_view`, then `MessageToDict`."""
    try:
        if limits is not None:
            limits.check(convert.request_view(message))
        converted: dict[str, Any] = json_format.MessageToDict(
            message, preserving_proto_field_name=True
        )
    except (json_format.SerializeToJsonError, ValueError) as exc:
        problem = convert._unconvertible(message, "")
        raise problem or InvalidRequestError("", f"cannot be read as JSON: {exc}") from None
    return converted


def outcome(read: Any, message: Any, limits: Limits | None) -> tuple[str, ...]:
    """The JSON text (keys in order, 1.0 apart from 1) or the error, of one way of reading."""
    try:
        return ("json", json.dumps(read(message, limits), ensure_ascii=False))
    except InvalidRequestError as exc:
        return ("error", exc.field, exc.message)


def _set(value: Any, spec: Spec) -> None:
    """Make the `Value` `value` what `spec` describes (an unset one stays of no kind)."""
    kind = spec[0]
    if kind == "null":
        value.null_value = struct_pb2.NULL_VALUE
    elif kind == "bool":
        value.bool_value = spec[1]
    elif kind == "number":
        value.number_value = spec[1]
    elif kind == "string":
        value.string_value = spec[1]
    elif kind == "list":
        value.list_value.Clear()
        for item in spec[1]:
            _set(value.list_value.values.add(), item)
    elif kind == "struct":
        _fill(value.struct_value, spec[1])


def _fill(struct: Any, members: list[tuple[str, Spec]]) -> None:
    struct.Clear()
    for key, spec in members:
        _set(struct.fields[key], spec)


# Keys whose values the schema bounds in size (arrays, objects): drawn often, so bounds are hit.
BOUNDED_KEYS = [
    "roles",
    "delegations",
    "authorizations",
    "scope",
    "case_scope",
    "attached",
    "extensions",
    "team_procurators",
    "crime_category",
    "joint_meeting",
    "approver_delegation",
]


def values(keys: list[str]) -> st.SearchStrategy[Spec]:
    """Values around the schema's bounds: strings up to and past 256 and 4,096 characters,
    arrays past 32 and 256 items, objects past 64 fields, NaN, infinities and unset Values."""
    lengths = [0, 1, 2, 3] * 10 + [255, 256, 257, 2049, 4096, 4097]  # mostly short
    text = st.one_of(st.text(max_size=4), st.sampled_from(lengths).map(lambda n: "x" * n))
    scalars = st.one_of(
        st.just(("unset",)),
        st.just(("null",)),
        st.booleans().map(lambda b: ("bool", b)),
        st.one_of(
            st.integers(-(2**53), 2**53).map(float),
            st.floats(allow_nan=True, allow_infinity=True),
        ).map(lambda x: ("number", x)),
        text.map(lambda s: ("string", s)),
    )
    key = st.sampled_from(BOUNDED_KEYS) | st.sampled_from(keys) | st.text(max_size=6)

    def containers(inner: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
        many = st.sampled_from([0, 1, 3, 32, 33, 256, 257, 65])
        return st.one_of(
            st.lists(inner, max_size=4).map(lambda items: ("list", items)),
            st.tuples(many, scalars).map(lambda n_item: ("list", [n_item[1]] * n_item[0])),
            st.lists(st.tuples(key, inner), max_size=5).map(lambda kv: ("struct", kv)),
            st.tuples(many, scalars).map(
                lambda n_item: ("struct", [(f"k{i}", n_item[1]) for i in range(n_item[0])])
            ),
        )

    return st.recursive(scalars, containers, max_leaves=30)


def requests(keys: list[str]) -> st.SearchStrategy[pb.CheckRequest]:
    key = st.sampled_from(BOUNDED_KEYS) | st.sampled_from(keys) | st.text(max_size=6)
    members = st.lists(st.tuples(key, values(keys)), max_size=6)
    short = st.sampled_from(["", "user", "case"] * 5 + ["x" * 256, "x" * 257])
    optional = st.none() | members

    @st.composite
    def build(draw: st.DrawFn) -> pb.CheckRequest:
        request = pb.CheckRequest()
        for part, scalars in (("subject", ("type", "id")), ("resource", ("type", "id"))):
            if draw(st.booleans()):
                holder = getattr(request, part)
                holder.SetInParent()
                for name in scalars:
                    setattr(holder, name, draw(short))
                properties = draw(optional)
                if properties is not None:
                    _fill(holder.properties, properties)
        if draw(st.booleans()):
            request.action.name = draw(st.sampled_from(["", "case.interrogate_suspect"]))
            properties = draw(optional)
            if properties is not None:
                _fill(request.action.properties, properties)
        context = draw(optional)
        if context is not None:
            _fill(request.context, context)
        return request

    return build()


@pytest.fixture(scope="module")
def limits(bundle: PolicyBundle) -> Limits:
    return Limits(bundle.schema)


@pytest.fixture(scope="module")
def keys(bundle: PolicyBundle) -> list[str]:
    return sorted(schema_keys(bundle.schema))


def test_decision_table_requests_read_as_the_standard_mapping_reads_them(
    limits: Limits, decision_cases: list[DecisionCase]
) -> None:
    assert decision_cases
    for case in decision_cases:
        message = json_format.ParseDict(case.request, pb.CheckRequest())
        for bounds in (limits, None):
            assert outcome(convert.request_dict, message, bounds) == outcome(
                reference, message, bounds
            ), case.name


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_requests_read_and_refused_as_before(
    limits: Limits, keys: list[str], data: st.DataObject
) -> None:
    message = data.draw(requests(keys))
    for bounds in (limits, None):
        assert outcome(convert.request_dict, message, bounds) == outcome(reference, message, bounds)


def test_list_requests_read_as_before(limits: Limits) -> None:
    request = pb.ListAllowedActionsRequest()
    request.subject.id = "p-1"
    request.subject.properties.update({"roles": ["procurator"] * 33})
    request.context.update({"note": float("nan")})
    assert outcome(convert.request_dict, request, limits) == outcome(reference, request, limits)
    assert outcome(convert.request_dict, request, limits)[1] == "subject.properties.roles"


def test_a_bound_is_named_before_a_number_json_cannot_hold(limits: Limits) -> None:
    request = pb.CheckRequest()
    request.subject.properties.update({"senior_stage": math.inf})
    request.context.update({"supervising_procurator": "p" * 300})
    error = outcome(convert.request_dict, request, limits)
    assert error == ("error", "context.supervising_procurator", "at most 256 characters (has 300)")
    del request.context.fields["supervising_procurator"]
    assert outcome(convert.request_dict, request, limits) == (
        "error",
        "subject.properties.senior_stage",
        "Infinity is not a JSON number; send a finite number",
    )


def test_numbers_stay_floats_as_the_standard_mapping_has_them(limits: Limits) -> None:
    request = pb.CheckRequest()
    request.context.update({"circumstance": 2, "extensions": {"n": [1, 2.5]}})
    context = convert.request_dict(request, limits)["context"]
    numbers = [context["circumstance"], *context["extensions"]["n"]]
    assert [(type(n), n) for n in numbers] == [(float, 2.0), (float, 1.0), (float, 2.5)]


@pytest.mark.parametrize("in_item", [False, True], ids=["shared", "item"])
def test_a_batch_with_a_value_of_no_kind_where_a_bound_reads_is_refused_naming_it(
    bundle: PolicyBundle, in_item: bool
) -> None:
    request = pb.CheckBatchRequest()
    item = request.evaluations.add()
    item.action.name = "case.interrogate_suspect"
    holder = item if in_item else request
    holder.subject.id = "asst-A1"
    holder.subject.properties.fields["role"]  # reading it adds a Value of no kind
    decider = build_decider(Config(), None, bundle)
    with pytest.raises(InvalidRequestError) as caught:
        convert.batch_parts(request, decider.check_shape)
    # The exception's tracebacks hold the Decider and its regorus engine in reference cycles:
    # collect them here, on the engine's thread, or a later test's collection on another thread
    # drops the engine there, which panics.
    field, message = caught.value.field, caught.value.message
    del caught, decider
    gc.collect()
    where = "evaluations[0].subject" if in_item else "subject"
    assert field == f"{where}.properties.role"
    assert "a protobuf Value with no kind set" in message
