"""Loading a policy directory: data layout, revision, schema/catalog agreement, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quanze.server.errors import PolicyError
from quanze.server.policy.bundle import PolicyBundle, load_bundle
from tests.support import copy_bundled_policies


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return copy_bundled_policies(tmp_path / "policies")


def test_bundled_policies_load(bundle: PolicyBundle) -> None:
    assert len(bundle.actions) == 121
    assert "procurator_assistant" in bundle.data["quanze"]["catalog"]["roles"]
    assert all(not name.endswith("_test.rego") for name, _ in bundle.modules)
    assert bundle.test_modules
    assert len(bundle.revision) == 40


def test_revision_is_a_content_hash(copy: Path, bundle: PolicyBundle) -> None:
    assert load_bundle(copy).revision == bundle.revision
    rego = copy / "quanze" / "rules" / "auxiliary" / "auxiliary.rego"
    rego.write_text(rego.read_text() + "\n# a comment changes the revision\n")
    assert load_bundle(copy).revision != bundle.revision


def test_schema_that_drifts_from_the_catalog_is_rejected(copy: Path) -> None:
    schema_path = copy / "quanze" / "schema" / "input.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["$defs"]["action"]["enum"].remove("record.take")
    schema_path.write_text(json.dumps(schema))
    with pytest.raises(PolicyError, match=r"missing \['record.take'\]"):
        load_bundle(copy)


def test_invalid_data_file_is_located(copy: Path) -> None:
    (copy / "quanze" / "messages" / "data.json").write_text('{"a": }')
    with pytest.raises(PolicyError, match=r"messages/data.json:1:7: invalid JSON"):
        load_bundle(copy)


def test_missing_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")


def test_power_list_data_that_breaks_its_schema_is_rejected(copy: Path) -> None:
    path = copy / "quanze" / "power_lists" / "data.json"
    lists = json.loads(path.read_text())
    lists["lists"]["PL-PROV-B-2024"]["filed_with_spp"] = "yes"
    path.write_text(json.dumps(lists))
    with pytest.raises(
        PolicyError,
        match=r"power_lists/data.json: lists\.PL-PROV-B-2024\.filed_with_spp: 'yes' is not of type",
    ):
        load_bundle(copy)
