"""The organisation directory and the registry of grants, which the policies read as data.

Who holds which office in which procuratorate, by which appointment document and for which
days, and which delegations (四十六), authorisations (二十三) and entrustments (十四(10)) the
chiefs have granted: the policies check what a request says about people against it, so it is
data the security team keeps like the policies, not something a request may claim.

The policies bundle an example at `quanze/directory/data.json`. A deployment supplies its own
(`--directory PATH`): one JSON file, or a folder of JSON files that each hold part of one
document — one file per procuratorate and one for the registry, say — merged key by key.
Every document is checked against `quanze/schema/directory.schema.json` and for consistency
(parents that exist, levels that descend, bodies only where the Opinion puts them, references
to people who hold the offices referred to) before anything serves it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanze.server.errors import PolicyError
from quanze.server.policy.files import tree_files

DIRECTORY_KEYS = ("quanze", "directory")
DIRECTORY_SCHEMA = Path("quanze/schema/directory.schema.json")
BUNDLED_FILE = "quanze/directory/data.json"

# Ranks of the levels, top first: a procuratorate's parent is always of a higher rank.
LEVELS = ("supreme", "provincial", "city", "county")
# 三十五: "最高人民检察院和各省、自治区、直辖市设立检察官惩戒委员会".
DISCIPLINARY_LEVELS = frozenset({"supreme", "provincial"})
# The policies follow at most this many parents (lib/directory.rego).
MAX_DEPTH = 6
# 二十三(1)(2): what a department head may be authorised to review.
AUTHORIZATION_SCOPES = frozenset({"review.escalated_cases", "review.legal_documents"})
# Offices held by one person or body: the chief, then the bodies and units.
_SINGLE_OFFICES = (
    "chief",
    "committee",
    "case_management",
    "inspection",
    "evaluation_committee",
    "disciplinary_committee",
)
# Top-level members merged key by key across a folder's files.
_MERGED_MEMBERS = ("procuratorates", "grants")


@dataclass(frozen=True)
class Directory:
    """One revision of a directory read from disk."""

    document: dict[str, Any]
    revision: str
    """A hash of the files it was read from."""
    path: Path
    origins: Mapping[str, str] = field(default_factory=dict)
    """`procuratorates.ID` / `grants.ID` → the file that holds it, for messages."""

    def where(self, member: str) -> str:
        """The file that holds `member` (e.g. procuratorates.PROC-CITY-A), for messages."""
        parts = member.split(".")
        return self.origins.get(".".join(parts[:2]), str(self.path))


def read_directory(path: Path, *, revision: str | None = None) -> Directory:
    """Read a directory document from a JSON file, or from a folder of JSON files merged.

    `revision` names it when the caller already knows it (a source's snapshot or commit);
    otherwise it is the hash of its files. Raises `PolicyError` naming the file and what is
    wrong; the schema and consistency are checked when the policies load it (`load_bundle`),
    against the policies' own schema.
    """
    path = Path(path).expanduser().absolute()
    contents = [(name, file, file.read_bytes()) for name, file in _files(path)]
    document: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for _name, file, raw in contents:
        _merge(document, origins, _parse(file, raw), str(file))
    return Directory(document, revision or _digest(contents), path, origins)


def directory_revision(path: Path) -> str:
    """The revision `read_directory` gives `path`, without parsing it (for sources)."""
    files = _files(Path(path).expanduser().absolute())
    return _digest([(name, file, file.read_bytes()) for name, file in files])


def _digest(contents: list[tuple[str, Path, bytes]]) -> str:
    """The hash of (name, bytes) of every file: a directory's revision."""
    digest = hashlib.sha256()
    for name, _file, raw in contents:
        digest.update(name.encode() + b"\0" + raw + b"\0")
    return digest.hexdigest()[:40]


def _files(path: Path) -> list[tuple[str, Path]]:
    """(name hashed into the revision, file) for the one file or every JSON file of a folder."""
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise PolicyError(
            f"directory {path} does not exist; give a JSON file or a folder of JSON files in "
            "the format of docs/policy-guide.md ('The organisation directory')"
        )
    files = [p for p in tree_files(path) if p.suffix == ".json"]
    if not files:
        raise PolicyError(
            f"directory {path} holds no .json files; give a directory document (see "
            "docs/policy-guide.md, 'The organisation directory') or a folder of them"
        )
    return [(file.relative_to(path).as_posix(), file) for file in files]


def _parse(file: Path, raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{file}: not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{file}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise PolicyError(f"{file}: a directory file must hold a JSON object")
    return value


def _merge(
    document: dict[str, Any], origins: dict[str, str], part: dict[str, Any], file: str
) -> None:
    """Add one file's part: shared members must agree, keyed members must not repeat."""
    for key, value in part.items():
        if key in _MERGED_MEMBERS and isinstance(value, dict):
            target = document.setdefault(key, {})
            for name, entry in value.items():
                member = f"{key}.{name}"
                if name in target:
                    raise PolicyError(
                        f"{file}: {member} is also in {origins[member]}; keep each "
                        "procuratorate, and each grantee's grants, in one file"
                    )
                target[name] = entry
                origins[member] = file
        elif key in document and document[key] != value:
            raise PolicyError(
                f"{file}: {key} is {json.dumps(value)} here but {json.dumps(document[key])} in "
                f"{origins[key]}; the files of one directory must agree on it"
            )
        else:
            document[key] = value
            origins.setdefault(key, file)


def consistency_problems(document: Mapping[str, Any], actions: Iterable[str]) -> list[str]:
    """What makes a schema-valid directory inconsistent, each as `member: why`.

    Time-dependent rules (who holds an office today, the committee's composition) are the
    policies' to check at decision time; these are the facts that are wrong on any day.
    """
    procuratorates: Mapping[str, Any] = document.get("procuratorates", {})
    problems: list[str] = []
    body_ids: dict[str, str] = {}
    for pid, entry in procuratorates.items():
        problems.extend(_procuratorate_problems(pid, entry, procuratorates, body_ids))
    known_actions = set(actions)
    for grantee, grants in document.get("grants", {}).items():
        documents: set[str] = set()
        for index, grant in enumerate(grants):
            where = f"grants.{grantee}.{index}"
            if grant["document"] in documents:
                problems.append(f"{where}.document: {grant['document']!r} is listed twice")
            documents.add(grant["document"])
            problems.extend(_grant_problems(where, grant, procuratorates, known_actions))
    return problems


def office_holders(document: Mapping[str, Any]) -> set[str]:
    """Everyone holding an office in a schema-valid directory (bodies and units are not people)."""
    held: set[str] = set()
    for entry in document.get("procuratorates", {}).values():
        for member, office in _offices(entry):
            if member == "chief":
                held.add(office["person"])
            elif member not in _SINGLE_OFFICES:
                held.add(member.rsplit(".", 1)[1])
    return held


def _procuratorate_problems(
    pid: str, entry: Mapping[str, Any], procuratorates: Mapping[str, Any], body_ids: dict[str, str]
) -> list[str]:
    where = f"procuratorates.{pid}"
    problems = _parent_problems(where, pid, procuratorates)
    level = entry["level"]
    if "disciplinary_committee" in entry and level not in DISCIPLINARY_LEVELS:
        problems.append(
            f"{where}.disciplinary_committee: 三十五 sets up disciplinary committees only at the "
            f"supreme and provincial levels; {pid} is {level}"
        )
    procurators = entry.get("procurators", {})
    leaders = {
        "chief": [entry["chief"]["person"]] if "chief" in entry else [],
        "deputy_chiefs": list(entry.get("deputy_chiefs", {})),
        "full_time_committee_members": list(entry.get("full_time_committee_members", {})),
        "committee.members": list(entry.get("committee", {}).get("members", {})),
    }
    for section, people in leaders.items():
        problems.extend(
            f"{where}.{section}: {person!r} is not among its procurators (三, 四十五: the chief, "
            "deputy chiefs and committee members are procurators)"
            for person in people
            if person not in procurators
        )
    departments = entry.get("departments", {})
    for section in ("deputy_chiefs", "full_time_committee_members"):
        for person, office in entry.get(section, {}).items():
            problems.extend(
                f"{where}.{section}.{person}.supervises_departments: {d!r} is not one of its "
                "departments"
                for d in office.get("supervises_departments", [])
                if d not in departments
            )
    for section in ("assistants", "clerks"):
        for person, office in entry.get(section, {}).items():
            problems.extend(
                f"{where}.{section}.{person}.assigned_to: {p!r} is not one of its procurators"
                for p in office.get("assigned_to", [])
                if p not in procurators
            )
    for section, office in _offices(entry):
        if "until" in office and office["until"] < office["from"]:
            problems.append(f"{where}.{section}.until: ends before it starts ({office['from']})")
    for section in _SINGLE_OFFICES[1:]:  # the bodies and units, each with its own id
        if section in entry:
            problems.extend(_body_id_problem(f"{where}.{section}", entry[section]["id"], body_ids))
    return problems


def _parent_problems(where: str, pid: str, procuratorates: Mapping[str, Any]) -> list[str]:
    """The parent exists, is of a higher level, and the chain above reaches the root."""
    level, parent = procuratorates[pid]["level"], procuratorates[pid]["parent"]
    if parent is None:
        if level != "supreme":
            return [f"{where}.parent: only the supreme procuratorate has no parent"]
        return []
    above = procuratorates.get(parent)
    if above is None:
        return [f"{where}.parent: {parent!r} is not a procuratorate of the directory"]
    if LEVELS.index(above["level"]) >= LEVELS.index(level):
        return [
            f"{where}.level: a {level} procuratorate cannot be below {parent!r}, which is "
            f"{above['level']}"
        ]
    return _chain_problems(where, pid, procuratorates)


def _chain_problems(where: str, pid: str, procuratorates: Mapping[str, Any]) -> list[str]:
    """The parents of `pid` reach the root within MAX_DEPTH steps, without a cycle."""
    seen = [pid]
    node = procuratorates[pid]["parent"]
    while node is not None and node in procuratorates:
        if node in seen:
            return [f"{where}.parent: the chain of parents loops ({' → '.join([*seen, node])})"]
        seen.append(node)
        node = procuratorates[node]["parent"]
    if len(seen) - 1 > MAX_DEPTH:
        return [f"{where}.parent: {len(seen) - 1} levels above it; the policies follow {MAX_DEPTH}"]
    return []


def _body_id_problem(where: str, body_id: str, body_ids: dict[str, str]) -> list[str]:
    if body_id in body_ids:
        return [f"{where}.id: {body_id!r} is already the id of {body_ids[body_id]}"]
    body_ids[body_id] = where
    return []


def _offices(entry: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Every appointment of a procuratorate entry, as (member path, appointment)."""
    for section in _SINGLE_OFFICES:
        if section in entry:
            yield section, entry[section]
    for section in (
        "deputy_chiefs",
        "full_time_committee_members",
        "procurators",
        "assistants",
        "clerks",
        "technical_staff",
        "judicial_police",
    ):
        for person, office in entry.get(section, {}).items():
            yield f"{section}.{person}", office
    for person, office in entry.get("committee", {}).get("members", {}).items():
        yield f"committee.members.{person}", office
    for department, body in entry.get("departments", {}).items():
        for person, office in body["heads"].items():
            yield f"departments.{department}.heads.{person}", office


def _grant_problems(
    where: str, grant: Mapping[str, Any], procuratorates: Mapping[str, Any], actions: set[str]
) -> list[str]:
    problems = []
    if grant["procuratorate"] not in procuratorates:
        problems.append(
            f"{where}.procuratorate: {grant['procuratorate']!r} is not a procuratorate of the "
            "directory"
        )
    kind, scope = grant["kind"], grant["scope"]
    if kind == "authorization":
        problems.extend(
            f"{where}.scope: {item!r} is not an authorisation (二十三(1)(2)): "
            f"{', '.join(sorted(AUTHORIZATION_SCOPES))}"
            for item in scope
            if item not in AUTHORIZATION_SCOPES
        )
    else:
        problems.extend(
            f"{where}.scope: {item!r} names no action of the catalog"
            for item in scope
            if not _names_actions(item, actions)
        )
    if kind == "entrustment" and not grant.get("task"):
        problems.append(f"{where}.task: an entrustment names the matter entrusted (十四(10))")
    problems.extend(
        f"{where}.{key}: is before valid_from ({grant['valid_from']})"
        for key in ("valid_until", "revoked_on")
        if key in grant and grant[key] < grant["valid_from"]
    )
    return problems


def _names_actions(item: str, actions: set[str]) -> bool:
    if item == "*":
        return True
    if item.endswith(".*"):
        return any(a.startswith(item[:-1]) for a in actions)
    return item in actions
