"""Masking decision-log records by the policy package quanze.log: the bundled policy and the
masker's handling of pointers, upserts, drops and every way the policy can fail."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from quanze.server.decisionlog.mask import Masked, Masker
from quanze.server.errors import EvaluationError
from quanze.server.policy.bundle import PolicyBundle, load_bundle
from tests.support import (
    CONTRACT_EXAMPLE,
    copy_bundled_policies,
    raised_on_another_thread,
    schema_keys,
)

HEADER = "package quanze.log\n\nimport rego.v1\n\n"
ERASED_WHOLE = Masked(None, ["/input"], [], False)


def event(request: Any) -> dict[str, Any]:
    return {"input": request, "path": "quanze/authz/decision", "rpc": "Check"}


def example() -> dict[str, Any]:
    request: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)
    return request


@pytest.fixture(scope="module")
def masker(bundle: PolicyBundle) -> Masker:
    return Masker(bundle)


def masker_with(bundle: PolicyBundle, tmp_path: Path, source: str) -> Masker:
    """A masker whose log policy is `source` (the bundled data stays)."""
    root = copy_bundled_policies(tmp_path / "policies")
    (root / "quanze" / "log" / "mask.rego").write_text(HEADER + source)
    return Masker(load_bundle(root))


# ----------------------------------------------------------------- the bundled policy


def test_contract_example_is_kept_whole_in_a_new_object(masker: Masker) -> None:
    request = example()
    masked = masker.apply(event(request))
    assert masker.enabled
    assert masked == Masked(example(), [], [], False)
    assert masked.input is not request


def test_personal_data_is_erased_or_masked_and_the_callers_request_untouched(
    masker: Masker,
) -> None:
    request = example()
    request["resource"]["properties"]["suspect_name"] = "张三"
    request["context"]["parties"] = [
        {"role": "witness", "name": "李四", "phone": "13800000000"},
        {"role": "victim"},
        {"role": "victim"},
        {"role": "defendant", "idNumber": "110101199001011234", "address": {"city": "北京"}},
    ]
    before = copy.deepcopy(request)

    masked = masker.apply(event(request))

    assert request == before
    assert masked.erased == [
        "/input/context/parties/0/name",
        "/input/context/parties/0/phone",
        "/input/context/parties/3/address",
        "/input/resource/properties/suspect_name",
    ]
    assert masked.masked == ["/input/context/parties/3/idNumber"]
    assert masked.input["context"]["parties"] == [
        {"role": "witness"},
        {"role": "victim"},
        {"role": "victim"},
        {"role": "defendant", "idNumber": "****1234"},
    ]
    # Everything the rules and the compliance staff read is still there.
    kept = example()
    assert masked.input["subject"] == kept["subject"]
    assert masked.input["resource"]["properties"] == kept["resource"]["properties"]
    assert masked.input["context"]["supervising_procurator"] == "p-A1"
    assert masked.dropped is False


def _instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value with every property `schema` defines, nested as the schema nests them."""
    if "$ref" in schema:
        return _instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "properties" in schema:
        return {key: _instance(sub, defs) for key, sub in schema["properties"].items()}
    if schema.get("type") == "array":
        return [_instance(schema.get("items", {}), defs)]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    return "110101199001011234"  # a value that would show if its key were taken as personal


def test_no_attribute_the_schema_defines_is_masked(masker: Masker, bundle: PolicyBundle) -> None:
    request = _instance(bundle.schema, bundle.schema["$defs"])
    assert request["resource"]["properties"]["sole_procurator"]  # the generator reached it
    masked = masker.apply(event(request))
    assert (masked.erased, masked.masked) == ([], [])
    assert masked.input == request


def test_no_listed_key_ends_a_key_the_schema_defines(bundle: PolicyBundle) -> None:
    # A key matches every listed key it ends with; schema keys are already snake_case.
    listed = [
        key for keys in bundle.data["quanze"]["log"]["personal_keys"].values() for key in keys
    ]
    clashes = {
        key: [entry for entry in listed if key.endswith(entry)]
        for key in sorted(schema_keys(bundle.schema))
        if key != "name"  # action.name is the only schema member outside free-form objects
    }
    assert {key: found for key, found in clashes.items() if found} == {}


def test_bundled_policy_never_drops(masker: Masker) -> None:
    probe = {"subject": {"type": "service", "id": "probe-1"}, "action": {"name": "x"}}
    assert masker.apply(event(probe)).dropped is False


def _edit_log_data(bundle: PolicyBundle, tmp_path: Path, *remove: str) -> Masker:
    root = copy_bundled_policies(tmp_path / "policies")
    data_path = root / "quanze" / "log" / "data.json"
    data = json.loads(data_path.read_text())
    for key in remove:
        del data[key]
    data_path.write_text(json.dumps(data, ensure_ascii=False))
    return Masker(load_bundle(root))


def test_data_without_a_number_to_keep_masks_numbers_whole(
    bundle: PolicyBundle, tmp_path: Path
) -> None:
    masker = _edit_log_data(bundle, tmp_path, "mask_keep_last")
    request = example()
    request["context"]["id_number"] = "110101199001011234"
    masked = masker.apply(event(request))
    assert masked.input["context"]["id_number"] == "****"
    assert masked.masked == ["/input/context/id_number"]


def test_data_without_its_key_lists_loses_every_free_form_member(
    bundle: PolicyBundle, tmp_path: Path
) -> None:
    masker = _edit_log_data(bundle, tmp_path, "personal_keys")
    request = example()
    request["context"]["note"] = "张三"
    masked = masker.apply(event(request))
    assert masked.input["context"] == {}
    assert masked.input["subject"]["properties"] == {}
    assert masked.input["subject"]["id"] == "asst-A1"
    assert masked.input["action"] == {"name": "case.interrogate_suspect"}
    assert masked.input["resource"] == {"type": "case", "id": "C-1001", "properties": {}}


# ----------------------------------------------------------------- applying pointers


def test_several_elements_of_one_array_are_erased_at_their_own_places(
    bundle: PolicyBundle, tmp_path: Path
) -> None:
    masker = masker_with(
        bundle,
        tmp_path,
        """mask contains p if some p in [
	"/input/context/items/1", "/input/context/items/3", "/input/context/items/0/secret",
	"/input/context/items/9", "/input/context/absent/x", "/input/context/items/01",
]

default drop := false
""",
    )
    request = {"context": {"items": [{"secret": 1, "keep": 2}, "b", "c", "d", "e"]}}
    masked = masker.apply(event(request))
    assert masked.input == {"context": {"items": [{"keep": 2}, "c", "e"]}}
    # Pointers to nothing are ignored and not reported.
    assert masked.erased == [
        "/input/context/items/0/secret",
        "/input/context/items/1",
        "/input/context/items/3",
    ]


def test_pointer_escapes_are_decoded(bundle: PolicyBundle, tmp_path: Path) -> None:
    masker = masker_with(
        bundle,
        tmp_path,
        """mask contains p if some p in [
	"/input/context/a~1b", "/input/context/m~0n", "/input/context/~01",
]

mask contains {"op": "upsert", "path": "/input/context/x~1y~0z", "value": "****"}
""",
    )
    request = {"context": {"a/b": 1, "m~n": 2, "~1": 3, "a": {"b": 4}, "x/y~z": "secret"}}
    masked = masker.apply(event(request))
    assert masked.input == {"context": {"a": {"b": 4}, "x/y~z": "****"}}
    assert masked.erased == ["/input/context/a~1b", "/input/context/m~0n", "/input/context/~01"]
    assert masked.masked == ["/input/context/x~1y~0z"]


def test_upsert_creates_missing_objects_and_replaces_array_elements(
    bundle: PolicyBundle, tmp_path: Path
) -> None:
    masker = masker_with(
        bundle,
        tmp_path,
        """mask contains {
	"op": "upsert", "path": "/input/context/audit/masked/by", "value": "policy",
}

mask contains {"op": "upsert", "path": "/input/context/ids/1", "value": {"kept": "****"}}
""",
    )
    request = {"context": {"ids": ["a", "b"]}}
    masked = masker.apply(event(request))
    assert masked.input == {
        "context": {"ids": ["a", {"kept": "****"}], "audit": {"masked": {"by": "policy"}}}
    }
    assert masked.masked == ["/input/context/audit/masked/by", "/input/context/ids/1"]
    assert request == {"context": {"ids": ["a", "b"]}}


def test_an_erased_member_takes_the_upserts_inside_it_along(
    bundle: PolicyBundle, tmp_path: Path
) -> None:
    masker = masker_with(
        bundle,
        tmp_path,
        """mask contains "/input/context/party"

mask contains {"op": "upsert", "path": "/input/context/party/id", "value": "****"}
""",
    )
    masked = masker.apply(event({"context": {"party": {"id": "x", "name": "y"}}}))
    assert masked == Masked({"context": {}}, ["/input/context/party"], [], False)


def test_a_policy_may_drop_a_decision(bundle: PolicyBundle, tmp_path: Path) -> None:
    root = copy_bundled_policies(tmp_path / "policies")
    data_path = root / "quanze" / "log" / "data.json"
    data = json.loads(data_path.read_text())
    data["drop_subjects"] = ["probe-1"]
    data_path.write_text(json.dumps(data, ensure_ascii=False))
    masker = Masker(load_bundle(root))
    probe = {
        "subject": {"type": "service", "id": "probe-1", "properties": {"name": "probe"}},
        "action": {"name": "case.interrogate_suspect"},
        "resource": {"type": "case"},
    }
    dropped = masker.apply(event(probe))
    assert dropped.dropped is True
    assert dropped.erased == ["/input/subject/properties/name"]  # masked all the same
    assert masker.apply(event(example())).dropped is False


# ----------------------------------------------------------------- failing closed


@pytest.mark.parametrize(
    "source",
    [
        'mask contains x if x := json.unmarshal("{")',
        'mask contains "context/x"',
        'mask contains "/input"',
        'mask contains "/input/context/a~2b"',
        "mask contains 42",
        'mask contains {"op": "remove", "path": "/input/context/x"}',
        'mask contains {"op": "upsert", "path": "/input/context/x"}',
        'mask contains {"op": "upsert", "path": "/input/context/x", "value": 1, "also": 2}',
        'mask contains {"op": "upsert", "value": 1, "path": '
        '"/input/context/supervising_procurator/x"}',
        'mask contains {"op": "upsert", "path": "/input/subject/properties/roles/5", "value": 1}',
        "mask := 7",
        'mask := {"/input/context": true}',
        "mask := 1 if false",
        'mask := set()\n\ndrop := "yes"',
    ],
    ids=[
        "error",
        "relative",
        "whole",
        "bad-escape",
        "number",
        "unknown-op",
        "no-value",
        "extra-field",
        "through-a-string",
        "past-an-array",
        "mask-not-a-set",
        "mask-an-object",
        "mask-undefined",
        "drop-not-boolean",
    ],
)
def test_a_failing_or_malformed_policy_erases_the_whole_request(
    bundle: PolicyBundle, tmp_path: Path, source: str
) -> None:
    masker = masker_with(bundle, tmp_path, source + "\n")
    request = example()
    request["context"]["suspect_name"] = "张三"
    with capture_logs() as logs:
        masked = masker.apply(event(request))
    assert masked == ERASED_WHOLE
    assert [(e["event"], e["log_level"]) for e in logs] == [("decision_log_mask_failed", "error")]
    assert logs[0]["rpc"] == "Check"
    assert "张三" not in json.dumps(logs, ensure_ascii=False)


def test_an_event_that_is_not_json_erases_the_whole_request(masker: Masker) -> None:
    request = example()
    request["context"]["tags"] = {"not", "json"}
    with capture_logs() as logs:
        assert masker.apply(event(request)) == ERASED_WHOLE
    assert [e["event"] for e in logs] == ["decision_log_mask_failed"]


def test_without_a_log_policy_requests_pass_unmasked_with_one_warning(
    bundle: PolicyBundle, tmp_path: Path
) -> None:
    root = copy_bundled_policies(tmp_path / "policies")
    shutil.rmtree(root / "quanze" / "log")
    with capture_logs() as logs:
        masker = Masker(load_bundle(root))
        request = example()
        request["context"]["suspect_name"] = "张三"
        masked = masker.apply(event(request))
        masker.apply(event(request))
    assert not masker.enabled
    assert masked == Masked(request, [], [], False)
    assert masked.input is not request
    assert [(e["event"], e["log_level"]) for e in logs] == [("decision_log_unmasked", "warning")]


def test_the_masker_refuses_another_thread(masker: Masker) -> None:
    raised = raised_on_another_thread(lambda: masker.apply(event(example())))
    assert isinstance(raised, EvaluationError)
