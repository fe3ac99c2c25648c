"""The shipped log policy computed in Python masks exactly as the policy evaluated by regorus.

Each comparison masks the same request twice: with the bundled policy, which the masker computes
in Python, and with the same policy plus a comment, which no longer matches `POLICY_SHA256` and
so is evaluated by regorus as before. Requests: the decision table, with personal data added,
and generated ones full of personal keys in every spelling, at every depth, where the schema
puts them and where it does not; for the shipped data and for other data of the same shape.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from quanze.server.decisionlog import shipped_mask
from quanze.server.decisionlog.mask import LOG_POLICY_DIR, Masked, Masker
from quanze.server.decisionlog.shipped_mask import POLICY_FILE, POLICY_SHA256, ShippedMask
from quanze.server.policy.bundle import PolicyBundle, bundled_policy_dir, load_bundle
from quanze.server.policy.testing import DecisionCase
from tests.support import copy_bundled_policies

# data.quanze.log edits the comparisons run under: name -> change to the shipped data.
DATA: dict[str, Callable[[dict[str, Any]], None]] = {
    "shipped": lambda log: None,
    "no-keep-last": lambda log: log.pop("mask_keep_last"),
    "keep-last-1": lambda log: log.update(mask_keep_last=1),
    "other-lists": lambda log: log.update(
        personal_keys={"erase": ["case_note", "姓名"], "mask": ["name"], "parties": ["suspect"]}
    ),
    "drop-probes": lambda log: log.update(drop_subjects=["probe-1", "asst-A1"]),
}


class Pair:
    """One bundle's data masked both ways: in Python, and by regorus."""

    def __init__(self, root: Path) -> None:
        self.python = Masker(load_bundle(root))
        mask_rego = root / POLICY_FILE
        mask_rego.write_text(mask_rego.read_text() + "\n# evaluated by regorus\n")
        self.rego = Masker(load_bundle(root))
        assert self.python.in_python
        assert not self.rego.in_python

    def assert_same(self, request: Any) -> Masked:
        event = {"input": request, "path": "quanze/authz/decision", "rpc": "Check"}
        before = json.dumps(request, ensure_ascii=False)
        # The python side answers itself (it does not hand the request to regorus).
        assert self.python.in_python
        assert ShippedMask.evaluate(self._shipped_of_python(), request) is not None
        in_python, by_rego = self.python.apply(event), self.rego.apply(event)
        assert in_python == by_rego, json.dumps(request, ensure_ascii=False)
        assert json.dumps(in_python.input, ensure_ascii=False) == json.dumps(
            by_rego.input, ensure_ascii=False
        )
        assert json.dumps(request, ensure_ascii=False) == before  # the caller's is untouched
        return in_python

    def _shipped_of_python(self) -> ShippedMask:
        shipped = self.python._shipped
        assert shipped is not None
        return shipped


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    made = {}
    for name, edit in DATA.items():
        root = copy_bundled_policies(tmp_path_factory.mktemp(name))
        data_path = root / "quanze" / "log" / "data.json"
        data = json.loads(data_path.read_text())
        edit(data)
        data_path.write_text(json.dumps(data, ensure_ascii=False))
        made[name] = Pair(root)
    return made


def with_personal_data(request: dict[str, Any], index: int) -> dict[str, Any]:
    """The request with personal data in one of several places, as case applications send it."""
    request = copy.deepcopy(request)
    context = request.setdefault("context", {})
    if index % 4 == 0:
        context["extensions"] = {"suspect_name": "张三", "suspect_id_number": "110101199001011234"}
    elif index % 4 == 1:
        context["parties"] = [
            {"role": "witness", "name": "李四", "phone": "13800000000"},
            {"role": "defendant", "idNumber": "110101199001011234", "address": {"city": "北京"}},
        ]
    elif index % 4 == 2:
        request["resource"].setdefault("properties", {})["extensions"] = {
            "Victims": ["王五"],
            "lawyer": {"firm": "某律所", "licenseNumber": "11101200910123456"},
        }
    else:
        request["subject"]["nickname"] = "小李"
        request["witness"] = {"name": "赵六", "age_group": "adult"}
    return request


def test_the_transcribed_policy_is_the_shipped_one() -> None:
    # When mask.rego changes, shipped_mask.py must change with it (and this hash).
    source = (bundled_policy_dir() / POLICY_FILE).read_bytes()
    assert hashlib.sha256(source).hexdigest() == POLICY_SHA256


@pytest.mark.parametrize("data", sorted(DATA))
def test_decision_table_requests_masked_the_same(
    pairs: dict[str, Pair], decision_cases: list[DecisionCase], data: str
) -> None:
    assert decision_cases
    changed = 0
    for index, case in enumerate(decision_cases):
        pairs[data].assert_same(case.request)
        masked = pairs[data].assert_same(with_personal_data(case.request, index))
        changed += bool(masked.erased or masked.masked)
    # The personal data was found every time (other lists find only some of it).
    assert changed == len(decision_cases) if data != "other-lists" else changed > 0


# --------------------------------------------------------------------- generated requests

LISTED = json.loads((bundled_policy_dir() / "quanze/log/data.json").read_text())["personal_keys"]
SCHEMA_KEYS = ["role", "roles", "procuratorate", "department", "type", "id", "name", "properties"]
KEYS = [
    *LISTED["erase"][::3],
    *LISTED["mask"][::2],
    *LISTED["parties"][::3],
    *SCHEMA_KEYS,
    "extensions", "context", "subject", "action", "resource", "case_note", "note", "age_group",
    "suspectName", "SUSPECT_NAME", "Suspect-Name", "home address", "DateOfBirth", "telephone",
    "witnessIDNumber", "IDCardNo", "IDNumber", "idNo", "witness_phone", "xPhoneNo",
    "犯罪嫌疑人姓名", "证人手机号码", "身份证号码", "姓名x", "a/b~c", "~1", "a\"name", "x\":name",
    "x\":", "name\\",
    "\tName", "x\nPhone", "q\"Name", "ΣName", "\u212aname", "İname", "nAme", "stage", "agent",
    "Agent_Name", "PARTY", "witnesses", "😀name", "name ", " name", "na-me", "",
]  # fmt: skip
STRINGS = [
    "", "E1", "E1234567", "110101199001011234", "张三李四王五赵六", "😀😀😀😀😀😀😀😀x",
    "13800000000", "p-A1", "a\"b", "x" * 300,
]  # fmt: skip


def json_values(depth: int) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(STRINGS),
        st.text(max_size=6),
    )
    if depth == 0:
        return scalars
    inner = json_values(depth - 1)
    keys = st.sampled_from(KEYS) | st.text(max_size=6)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=3),
        st.lists(st.dictionaries(keys, inner, max_size=3), min_size=1, max_size=2),  # records
        st.dictionaries(keys, inner, max_size=4),
    )


def parts() -> st.SearchStrategy[Any]:
    """A subject, action or resource: mostly objects, with and without what the schema has."""
    members = st.dictionaries(
        st.sampled_from(["type", "id", "name", "properties", *KEYS]), json_values(3), max_size=4
    )
    return st.one_of(members, json_values(2))


requests = st.fixed_dictionaries(
    {},
    optional={
        "subject": parts(),
        "action": parts(),
        "resource": parts(),
        "context": json_values(3),
        "witness": json_values(2),
        "suspectName": json_values(1),
        "extra": json_values(2),
    },
)


@pytest.mark.parametrize("data", sorted(DATA))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests)
def test_generated_requests_masked_the_same(
    pairs: dict[str, Pair], data: str, request: dict[str, Any]
) -> None:
    pairs[data].assert_same(request)


@pytest.mark.parametrize(
    ("extensions", "erased", "kept"),
    [
        # regorus counts a string in UTF-16 units and cuts it in characters.
        ({"id_number": "😀😀😀😀😀😀😀😀x"}, [], {"id_number": "****"}),
        ({"id_number": "1101011990😀1234"}, [], {"id_number": "****234"}),
        # The policy finds keys by splitting JSON text at `":`: a key holding it is not found.
        ({'x":name': "张三", "x_name": "李四"}, ["x_name"], {'x":name': "张三"}),
        # Keys are put in snake_case as JSON text: an escape before a capital splits the word.
        ({"\tName": "a", 'q"Phone': "b", "ΣName": "c"}, ['q"Phone', "ΣName", "\tName"], {}),
    ],
    ids=["emoji-count", "emoji-tail", "quote-colon-key", "escapes"],
)
def test_keys_and_strings_read_as_regorus_reads_them(
    pairs: dict[str, Pair], extensions: dict[str, Any], erased: list[str], kept: dict[str, Any]
) -> None:
    request = {"context": {"extensions": extensions}}
    masked = pairs["shipped"].assert_same(request)
    assert masked.input == {"context": {"extensions": kept}}
    prefix = "/input/context/extensions/"
    assert masked.erased == sorted(prefix + key for key in erased)


# --------------------------------------------------------------------- when regorus decides


def _log_policy(root: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    bundle = load_bundle(root)
    return [(n, s) for n, s in bundle.modules if n.startswith(LOG_POLICY_DIR)], bundle.data


@pytest.mark.parametrize(
    "edit",
    [
        lambda root: (root / POLICY_FILE).write_text((root / POLICY_FILE).read_text() + "\n"),
        lambda root: (root / "quanze/log/extra.rego").write_text(
            'package quanze.log\n\nimport rego.v1\n\nmask contains "/input/context/note"\n'
        ),
        lambda root: _edit_data(root, lambda log: log.update(mask_keep_last="4")),
        lambda root: _edit_data(root, lambda log: log.update(mask_keep_last=-1)),
        lambda root: _edit_data(root, lambda log: log.update(drop_subjects=[7])),
        lambda root: _edit_data(root, lambda log: log.update(mask=["/input/context"])),
        lambda root: _edit_data(root, lambda log: log.pop("personal_keys")),
        lambda root: _edit_data(root, lambda log: log["personal_keys"].update(extra=["x"])),
        lambda root: _edit_data(root, lambda log: log["personal_keys"]["erase"].append("Name")),
        lambda root: _edit_data(root, lambda log: log["personal_keys"]["mask"].append('x"')),
        lambda root: _edit_data(root, lambda log: log["personal_keys"]["parties"].append("")),
    ],
    ids=[
        "policy-edited",
        "another-module",
        "keep-a-string",
        "keep-negative",
        "drop-a-number",
        "data-shadows-a-rule",
        "no-key-lists",
        "a-fourth-list",
        "upper-case-key",
        "quote-in-key",
        "empty-key",
    ],
)
def test_a_policy_or_data_other_than_the_shipped_shape_is_evaluated_by_regorus(
    tmp_path: Path, edit: Callable[[Path], None]
) -> None:
    root = copy_bundled_policies(tmp_path / "policies")
    assert ShippedMask.for_bundle(*_log_policy(root)) is not None
    edit(root)
    assert ShippedMask.for_bundle(*_log_policy(root)) is None


def _edit_data(root: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data_path = root / "quanze" / "log" / "data.json"
    data = json.loads(data_path.read_text())
    edit(data)
    data_path.write_text(json.dumps(data, ensure_ascii=False))


@pytest.mark.parametrize(
    "value",
    [{"a", "b"}, float("nan"), ("tuple",), "\ud800", {1: "int key"}, b"bytes"],
    ids=["set", "nan", "tuple", "lone-surrogate", "int-key", "bytes"],
)
def test_a_request_that_is_not_plain_json_is_left_to_regorus(
    pairs: dict[str, Pair], value: Any
) -> None:
    request = {"subject": {"id": "asst-A1"}, "context": {"suspect_name": "张三", "x": value}}
    assert ShippedMask.evaluate(pairs["shipped"]._shipped_of_python(), request) is None
    event = {"input": request, "path": "quanze/authz/decision", "rpc": "Check"}
    outcomes: list[Any] = []
    for masker in (pairs["shipped"].python, pairs["shipped"].rego):
        try:
            outcomes.append(masker.apply(event))
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]


def test_a_failing_transcription_erases_the_whole_request(
    pairs: dict[str, Pair], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: ShippedMask, request: Any) -> Any:
        raise RuntimeError("a bug in the transcription")

    monkeypatch.setattr(shipped_mask.ShippedMask, "evaluate", broken)
    event = {"input": {"context": {"suspect_name": "张三"}}, "path": "p", "rpc": "Check"}
    with capture_logs() as logs:
        masked = pairs["shipped"].python.apply(event)
    assert masked == Masked(None, ["/input"], [], False)
    assert [e["event"] for e in logs] == ["decision_log_mask_failed"]
    assert "张三" not in json.dumps(logs, ensure_ascii=False)


def test_the_bundled_masker_computes_the_shipped_policy_in_python(bundle: PolicyBundle) -> None:
    assert Masker(bundle).in_python


def test_the_keys_remembered_are_bounded_in_number_and_length(pairs: dict[str, Pair]) -> None:
    shipped = pairs["shipped"]._shipped_of_python()
    long_key = "x" * 1000 + "_name"
    masked = pairs["shipped"].assert_same({"context": {long_key: "张三"}})
    assert masked.erased == [f"/input/context/{long_key}"]
    assert long_key not in shipped._classified
    for start in range(0, 5000, 500):
        shipped.evaluate({"context": {f"k{i}": 1 for i in range(start, start + 500)}})
        assert 0 < len(shipped._classified) <= shipped_mask._CLASSIFIED_KEYS
