"""The organisation directory: every consistency rule refuses what breaks it, naming the member."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quanze.server.errors import PolicyError
from quanze.server.policy.bundle import bundled_policy_dir, load_bundle
from quanze.server.policy.directory import BUNDLED_FILE, consistency_problems, read_directory
from tests.support import bundled_directory

Document = dict[str, Any]
BUNDLED = bundled_policy_dir() / BUNDLED_FILE


@pytest.fixture
def document() -> Document:
    """A fresh copy of the bundled example directory."""
    return bundled_directory()


def actions() -> set[str]:
    return set(load_bundle().actions)


def test_the_bundled_example_is_consistent(document: Document) -> None:
    assert consistency_problems(document, actions()) == []


def city(document: Document) -> Document:
    entry: Document = document["procuratorates"]["PROC-CITY-A"]
    return entry


def grant(document: Document) -> Document:
    entry: Document = document["grants"]["dep-D1"][0]
    return entry


# Each mutation breaks one rule; the problem names the member and says why.
BREAKS: list[tuple[str, Callable[[Document], None], str]] = [
    (
        "parent missing",
        lambda d: city(d).update(parent="PROC-NOWHERE"),
        "procuratorates.PROC-CITY-A.parent: 'PROC-NOWHERE' is not a procuratorate",
    ),
    (
        "no parent below the top",
        lambda d: city(d).update(parent=None),
        "procuratorates.PROC-CITY-A.parent: only the supreme procuratorate has no parent",
    ),
    (
        "level not below the parent's",
        lambda d: city(d).update(level="provincial"),
        "procuratorates.PROC-CITY-A.level: a provincial procuratorate cannot be below",
    ),
    (
        "a cycle of parents",
        lambda d: d["procuratorates"]["PROC-PROV-A"].update(
            parent="PROC-COUNTY-A1", level="county"
        ),
        "loops",
    ),
    (
        "disciplinary committee below the provinces (三十五)",
        lambda d: city(d).update(
            disciplinary_committee={"id": "dc-CITY", "document": "d", "from": "2020-01-01"}
        ),
        "procuratorates.PROC-CITY-A.disciplinary_committee: 三十五",
    ),
    (
        "chief not a procurator (三, 四十五)",
        lambda d: city(d)["procurators"].pop("chief-A"),
        "procuratorates.PROC-CITY-A.chief: 'chief-A' is not among its procurators",
    ),
    (
        "committee member not a procurator",
        lambda d: city(d)["committee"]["members"].update(
            {"asst-A1": {"document": "d", "from": "2023-03-01"}}
        ),
        "procuratorates.PROC-CITY-A.committee.members: 'asst-A1' is not among its procurators",
    ),
    (
        "supervised department unknown (A7)",
        lambda d: city(d)["deputy_chiefs"]["dep-D1"].update(supervises_departments=["DEPT-X"]),
        "deputy_chiefs.dep-D1.supervises_departments: 'DEPT-X' is not one of its departments",
    ),
    (
        "assistant assigned to a stranger",
        lambda d: city(d)["assistants"]["asst-A1"]["assigned_to"].append("p-NOBODY"),
        "assistants.asst-A1.assigned_to: 'p-NOBODY' is not one of its procurators",
    ),
    (
        "appointment ends before it starts",
        lambda d: city(d)["procurators"]["p-A1"].update(until="2020-01-01"),
        "procuratorates.PROC-CITY-A.procurators.p-A1.until: ends before it starts",
    ),
    (
        "a body id used twice",
        lambda d: city(d)["inspection"].update(id="cm-A"),
        "procuratorates.PROC-CITY-A.inspection.id: 'cm-A' is already the id of",
    ),
    (
        "grant in an unknown procuratorate",
        lambda d: grant(d).update(procuratorate="PROC-NOWHERE"),
        "grants.dep-D1.0.procuratorate: 'PROC-NOWHERE' is not a procuratorate",
    ),
    (
        "grant scope naming no action",
        lambda d: grant(d).update(scope=["decision.invent"]),
        "grants.dep-D1.0.scope: 'decision.invent' names no action of the catalog",
    ),
    (
        "authorisation scope outside 二十三(1)(2)",
        lambda d: d["grants"]["dh-A1"][0].update(scope=["decision.prosecute"]),
        "grants.dh-A1.0.scope: 'decision.prosecute' is not an authorisation",
    ),
    (
        "entrustment without its task (十四(10))",
        lambda d: d["grants"]["p-A1"][0].pop("task"),
        "grants.p-A1.0.task: an entrustment names the matter entrusted",
    ),
    (
        "grant ends before it starts",
        lambda d: grant(d).update(valid_until="2020-01-01"),
        "grants.dep-D1.0.valid_until: is before valid_from",
    ),
    (
        "the same document twice",
        lambda d: d["grants"]["dep-D1"].append(dict(grant(d))),
        "grants.dep-D1.1.document: ",  # followed by the document's number and "is listed twice"
    ),
]


@pytest.mark.parametrize(
    ("breaks", "expected"), [b[1:] for b in BREAKS], ids=[b[0] for b in BREAKS]
)
def test_each_inconsistency_is_named(
    document: Document, breaks: Callable[[Document], None], expected: str
) -> None:
    breaks(document)
    problems = consistency_problems(document, actions())
    assert any(expected in problem for problem in problems), problems


def test_a_folder_merges_and_names_the_file_of_each_member(
    document: Document, tmp_path: Path
) -> None:
    folder = tmp_path / "directory"
    folder.mkdir()
    for pid, entry in document["procuratorates"].items():
        (folder / f"{pid}.json").write_text(json.dumps({"procuratorates": {pid: entry}}))
    shared = {k: document[k] for k in ("description", "delegation_registry", "grants")}
    (folder / "grants.json").write_text(json.dumps(shared))

    merged = read_directory(folder)

    assert merged.document == document
    assert merged.where("procuratorates.PROC-CITY-A.chief.person").endswith("PROC-CITY-A.json")
    assert merged.where("grants.dep-D1.0.scope").endswith("grants.json")
    assert merged.revision != read_directory(BUNDLED).revision


def test_files_of_one_folder_must_agree_on_the_registry_switch(
    document: Document, tmp_path: Path
) -> None:
    folder = tmp_path / "directory"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"delegation_registry": True}))
    (folder / "b.json").write_text(json.dumps({"delegation_registry": False}))
    with pytest.raises(PolicyError, match="delegation_registry is false here but true in"):
        read_directory(folder)


def test_an_inconsistent_directory_stops_the_load_listing_every_problem(
    document: Document, tmp_path: Path
) -> None:
    city(document).update(parent="PROC-NOWHERE")
    city(document)["procurators"].pop("chief-A")
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    with pytest.raises(PolicyError) as refused:
        load_bundle(directory=read_directory(path))
    message = str(refused.value)
    # The parent, and the chief missing both from the procurators and the committee's members.
    assert "the organisation directory has 3 problem(s)" in message
    assert message.count(f"{path}: procuratorates.PROC-CITY-A") == 3


def test_a_directory_without_the_registry_switch_is_refused(
    document: Document, tmp_path: Path
) -> None:
    # An absent switch must not silently weaken the registry: the schema requires it.
    del document["delegation_registry"]
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    with pytest.raises(PolicyError, match="'delegation_registry' is a required property"):
        load_bundle(directory=read_directory(path))
