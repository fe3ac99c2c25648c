"""Malformed requests get an error that names the field and says how to fix it."""

from __future__ import annotations

import copy
import json
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from quanze.server import validation
from quanze.server.errors import InvalidRequestError
from quanze.server.policy.bundle import PolicyBundle
from quanze.server.policy.testing import DecisionCase
from quanze.server.validation import RequestValidator
from tests.probe.inputs import Fuzzed, fuzzed_requests


@pytest.fixture(scope="module")
def validator(bundle: PolicyBundle) -> RequestValidator:
    return RequestValidator(bundle.schema, bundle.actions)


@pytest.fixture
def request_(decision_cases: list[DecisionCase]) -> dict[str, Any]:
    return copy.deepcopy(decision_cases[0].request)


def error_of(validator: RequestValidator, request: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        validator.check_request(request)
    return caught.value


def test_every_decision_case_is_valid(
    validator: RequestValidator, decision_cases: list[DecisionCase]
) -> None:
    assert decision_cases, "no decision cases: the loop below would check nothing"
    for case in decision_cases:
        validator.check_request(case.request)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("subject", "id"), "subject.id"),
        (("action", "name"), "action.name"),
        (("resource", "type"), "resource.type"),
    ],
)
def test_missing_required_field_is_named(
    validator: RequestValidator, request_: dict[str, Any], path: tuple[str, str], field: str
) -> None:
    del request_[path[0]][path[1]]
    error = error_of(validator, request_)
    assert (error.field, error.message) == (field, "is required")


def test_empty_subject_id_is_named(validator: RequestValidator, request_: dict[str, Any]) -> None:
    request_["subject"]["id"] = ""
    assert error_of(validator, request_).field == "subject.id"


def test_unknown_action_is_named_with_suggestion(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["action"]["name"] = "case.interogate_suspect"
    error = error_of(validator, request_)
    assert error.field == "action.name"
    assert "unknown action 'case.interogate_suspect'" in error.message
    assert "did you mean 'case.interrogate_suspect'" in error.message


@pytest.mark.parametrize(
    ("part", "key", "value", "field", "expected"),
    [
        (
            "subject",
            "senior_stage",
            "yes",
            "subject.properties.senior_stage",
            "must be true or false, got the string 'yes'",
        ),
        ("subject", "role", "chief", "subject.properties.role", "is not one of"),
        ("subject", "roles", "clerk", "subject.properties.roles", "must be a JSON array"),
        (
            "resource",
            "handling_mode",
            "solo",
            "resource.properties.handling_mode",
            "'solo' is not one of 'sole', 'team'",
        ),
        (
            "resource",
            "within_power_list",
            1,
            "resource.properties.within_power_list",
            "got a number",
        ),
        (
            "resource",
            "team_procurators",
            [1],
            "resource.properties.team_procurators.0",
            "must be a string",
        ),
    ],
)
def test_wrong_attribute_type_is_named(
    validator: RequestValidator,
    request_: dict[str, Any],
    part: str,
    key: str,
    value: Any,
    field: str,
    expected: str,
) -> None:
    request_[part].setdefault("properties", {})[key] = value
    error = error_of(validator, request_)
    assert error.field == field
    assert expected in error.message


def test_wrong_context_type_is_named(validator: RequestValidator, request_: dict[str, Any]) -> None:
    request_["context"] = {"chief_approval": "true"}
    assert error_of(validator, request_).field == "context.chief_approval"


def test_unknown_top_level_field_is_named(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["subjet"] = {}
    error = error_of(validator, request_)
    assert error.field == "subjet"
    assert "expected one of" in error.message


def test_request_that_is_not_an_object_is_rejected(validator: RequestValidator) -> None:
    assert "JSON object" in error_of(validator, ["not", "an", "object"]).message


def test_unknown_resource_type_is_named(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["resource"]["type"] = "docket"
    assert error_of(validator, request_).field == "resource.type"


@pytest.mark.parametrize(
    ("part", "misspelt", "meant"),
    [
        (("resource", "properties"), "within_power_lst", "within_power_list"),
        (("subject", "properties"), "senior_stag", "senior_stage"),
        (("context",), "referred_bye", "referred_by"),
        (("context", "joint_meeting"), "majority_opnion", "majority_opinion"),
    ],
)
def test_misspelt_attribute_is_refused_with_a_suggestion(
    validator: RequestValidator,
    request_: dict[str, Any],
    part: tuple[str, ...],
    misspelt: str,
    meant: str,
) -> None:
    # A restricting flag that is misspelt must never be silently ignored.
    target = request_
    for key in part:
        target = target.setdefault(key, {})
    target[misspelt] = True
    error = error_of(validator, request_)
    assert error.field == ".".join([*part, misspelt])
    assert f"did you mean {meant!r}?" in error.message


def test_unknown_attribute_points_at_the_extension_object(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["resource"]["properties"]["suspect_name"] = "张三"
    error = error_of(validator, request_)
    assert error.field == "resource.properties.suspect_name"
    assert "resource.properties.extensions" in error.message


@pytest.mark.parametrize("part", ["subject", "action", "resource"])
def test_extension_objects_are_free_form(
    validator: RequestValidator, request_: dict[str, Any], part: str
) -> None:
    request_[part].setdefault("properties", {})["extensions"] = {
        "suspect_name": "张三",
        "any": {"shape": [1, "x"]},
    }
    request_.setdefault("context", {})["extensions"] = {"note": "free text"}
    validator.check_request(request_)


def test_list_request_needs_no_action(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    del request_["action"]
    validator.list_request(request_)
    with pytest.raises(InvalidRequestError):
        validator.check_request(request_)


def test_unknown_disciplinary_opinion_is_named(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["context"] = {"review_opinion": "demotion"}
    error = error_of(validator, request_)
    assert error.field == "context.review_opinion"
    assert "'demotion' is not one of 'intentional'" in error.message


def test_malformed_delegation_time_is_named(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    delegation = {"from": "chief-A", "scope": ["*"], "valid_until": "next year"}
    request_["subject"]["properties"]["delegations"] = [delegation]
    assert error_of(validator, request_).field == "subject.properties.delegations.0.valid_until"


def _every_node(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.items():
            found.extend(_every_node(child, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_every_node(child, f"{path}/{index}"))
    return found


def test_every_array_and_string_of_the_schema_is_bounded(bundle: PolicyBundle) -> None:
    unbounded = []
    for path, node in _every_node(bundle.schema):
        types = node.get("type")
        types = [types] if isinstance(types, str) else types or []
        if "string" in types and "maxLength" not in node:
            unbounded.append(f"{path}: maxLength")
        if "array" in types and "maxItems" not in node:
            unbounded.append(f"{path}: maxItems")
        if path.endswith("/extensions") and "maxProperties" not in node:
            unbounded.append(f"{path}: maxProperties")
    assert not unbounded


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("roles", ["clerk"] * 40_000, "at most 32 items (has 40000)"),
        ("department", "D" * 257, "at most 256 characters (has 257)"),
        ("extensions", {f"k{i}": i for i in range(65)}, "at most 64 fields (has 65)"),
    ],
)
def test_limits_name_the_field(
    validator: RequestValidator, request_: dict[str, Any], field: str, value: Any, message: str
) -> None:
    request_["subject"].setdefault("properties", {})[field] = value
    error = error_of(validator, request_)
    assert (error.field, error.message) == (f"subject.properties.{field}", message)


def test_limits_reach_inside_extensions(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["context"] = {"extensions": {"notes": [{"text": "x" * 5000}]}}
    error = error_of(validator, request_)
    assert error.field == "context.extensions.notes.0.text"


def test_an_object_with_thousands_of_unknown_fields_is_refused_by_one(
    validator: RequestValidator, request_: dict[str, Any]
) -> None:
    request_["resource"]["properties"] = {f"x{i}": True for i in range(40_000)}
    error = error_of(validator, request_)
    assert error.field.startswith("resource.properties.x")
    assert "is not a known field" in error.message


class _RefusingLimits(validation.Limits):
    def check(self, request: Any, prefix: str = "") -> None:
        raise AssertionError(f"the bounds were walked again for {request!r:.60}")


def test_limits_already_checked_are_not_walked_again(
    bundle: PolicyBundle, request_: dict[str, Any]
) -> None:
    validator = RequestValidator(bundle.schema, bundle.actions)
    validator.limits = _RefusingLimits(bundle.schema)
    validator.check_request(request_, within_limits=True)
    validator.list_request({k: v for k, v in request_.items() if k != "action"}, within_limits=True)
    with pytest.raises(AssertionError, match="walked again"):
        validator.check_request(request_)


@pytest.mark.parametrize(
    ("field", "value"),
    [("roles", ["clerk"] * 33), ("department", "D" * 257), ("extensions", {"note": "x" * 5000})],
)
def test_skipping_the_bounds_still_refuses_what_breaks_them(
    validator: RequestValidator, request_: dict[str, Any], field: str, value: Any
) -> None:
    # The schema repeats every bound `Limits` checks: a request that skipped them is refused.
    request_["subject"].setdefault("properties", {})[field] = value
    with pytest.raises(InvalidRequestError) as caught:
        validator.check_request(request_, within_limits=True)
    assert caught.value.field.startswith(f"subject.properties.{field}")
    assert caught.value.message.startswith("at most")


def _verdict(validate: Any, request: Any) -> bool:
    try:
        validate(request)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.fixture(scope="module")
def schema_validators(bundle: PolicyBundle) -> tuple[Any, Any]:
    """fastjsonschema's own validator of the input schema, and the one compiled here."""
    canonical = json.dumps(bundle.schema, sort_keys=True, ensure_ascii=False)
    return fastjsonschema.compile(bundle.schema), validation._compile_fast(canonical)


def test_the_rewritten_validator_builds_no_name_from_locals(bundle: PolicyBundle) -> None:
    code = fastjsonschema.compile_to_code(bundle.schema)
    assert "format(**locals())" in code  # what is rewritten is there to rewrite
    assert "format(**locals())" not in validation._LOCALS_FORMAT.sub(
        validation._as_f_string,
        code,
    )


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzed=fuzzed_requests())
def test_the_rewritten_validator_accepts_and_refuses_as_fastjsonschema_does(
    schema_validators: tuple[Any, Any], fuzzed: Fuzzed
) -> None:
    reference, rewritten = schema_validators
    assert _verdict(rewritten, fuzzed.request) == _verdict(reference, fuzzed.request)
