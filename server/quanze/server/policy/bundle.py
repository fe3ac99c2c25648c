"""Load a policy directory laid out as an OPA bundle: Rego modules, data.json files, schema.

Data files follow OPA's bundle convention: `a/b/data.json` becomes `data.a.b`.
Test modules (`*_test.rego`) are kept apart so serving never loads them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from quanze.server.errors import PolicyError, did_you_mean
from quanze.server.policy.directory import (
    BUNDLED_FILE,
    DIRECTORY_KEYS,
    DIRECTORY_SCHEMA,
    Directory,
    consistency_problems,
)
from quanze.server.policy.files import tree_files

SCHEMA_PATH = Path("quanze/schema/input.schema.json")
CATALOG_KEY = ("quanze", "catalog")
DECISION_ENTRYPOINT = "data.quanze.authz.decision"
DECISIONS_ENTRYPOINT = "data.quanze.authz.decisions"
# The files a policy directory consists of: hashed into its revision, packed into bundles.
POLICY_SUFFIXES = frozenset({".rego", ".json", ".yaml", ".yml"})


@dataclass(frozen=True)
class PolicyBundle:
    """Everything one revision of the policies consists of, read once from disk."""

    root: Path
    modules: tuple[tuple[str, str], ...]
    test_modules: tuple[tuple[str, str], ...]
    data: dict[str, Any]
    data_json: str
    schema: dict[str, Any]
    policy_revision: str
    """The policies' own revision: a content hash, or the commit they came from."""
    directory_revision: str = ""
    """The revision of a directory given apart from the policies; empty for the bundled one."""

    @cached_property
    def revision(self) -> str:
        """What decided: the policies' revision, plus `+directory.<revision>` for a directory
        of its own (`--directory`)."""
        if not self.directory_revision:
            return self.policy_revision
        return combined_revision(self.policy_revision, self.directory_revision)

    @cached_property
    def actions(self) -> tuple[str, ...]:
        """Action ids of the catalog, sorted."""
        return tuple(sorted(self.data["quanze"]["catalog"]["actions"]))


def bundled_policy_dir() -> Path:
    """The policies shipped inside the installed package."""
    return Path(str(resources.files("quanze.policies")))


def load_bundle(
    root: Path | None = None,
    *,
    revision: str | None = None,
    directory: Directory | None = None,
) -> PolicyBundle:
    """Read the policy directory `root` (the bundled policies by default).

    `revision` names the bundle instead of its content hash, e.g. the git commit it came from.
    `directory` replaces the organisation directory bundled with the policies.
    """
    root = (root or bundled_policy_dir()).resolve()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist")
    files = tree_files(root)
    modules: list[tuple[str, str]] = []
    tests: list[tuple[str, str]] = []
    for path in (f for f in files if f.suffix == ".rego"):
        name = path.relative_to(root).as_posix()
        (tests if path.name.endswith("_test.rego") else modules).append((name, path.read_text()))
    if not modules:
        raise PolicyError(f"no .rego files under {root}")
    data = load_data(root, files)
    if directory is not None:
        data["quanze"]["directory"] = directory.document
    schema = load_schema(root)
    check_schema_matches_catalog(schema, data)
    _check_data_against_schemas(root, data, directory)
    _check_directory_consistency(data, directory)
    return PolicyBundle(
        root=root,
        modules=tuple(modules),
        test_modules=tuple(tests),
        data=data,
        data_json=json.dumps(data, ensure_ascii=False),
        schema=schema,
        policy_revision=content_revision(root) if revision is None else revision,
        directory_revision="" if directory is None else directory.revision,
    )


def combined_revision(policies: str, directory: str) -> str:
    """What decides when the directory comes from elsewhere: `<policies>+directory.<directory>`."""
    return f"{policies}+directory.{directory}"


def content_revision(root: Path) -> str:
    """A hash of every policy, data and schema file: the revision of a plain directory."""
    digest = hashlib.sha256()
    for path in tree_files(root):
        if path.suffix in POLICY_SUFFIXES:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:40]


def _read_json(path: Path, what: str) -> Any:
    """The JSON document at `path`; a missing or malformed file names itself and where."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PolicyError(f"{what} {path} is missing") from None
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc


def load_data(root: Path, files: list[Path] | None = None) -> dict[str, Any]:
    """Every data.json under `root` (of `files` when the tree was walked already), merged."""
    data: dict[str, Any] = {}
    walked = tree_files(root) if files is None else files
    for path in (f for f in walked if f.name == "data.json"):
        document = _read_json(path, "data file")
        if not isinstance(document, dict):
            raise PolicyError(f"{path}: a data.json file must hold a JSON object")
        node = data
        for part in path.parent.relative_to(root).parts:
            node = node.setdefault(part, {})
        node.update(document)
    try:
        data["quanze"]["catalog"]["actions"]
    except KeyError:
        raise PolicyError(f"{root}: no action catalog at quanze/catalog/data.json") from None
    return data


def load_schema(root: Path) -> dict[str, Any]:
    path = root / SCHEMA_PATH
    schema = _read_json(path, "input schema")
    if not isinstance(schema, dict):
        raise PolicyError(f"{path}: the schema must be a JSON object")
    return schema


# Data documents the security team edits, and the schema each must satisfy.
DATA_SCHEMAS = {
    ("quanze", "power_lists"): Path("quanze/schema/power_lists.schema.json"),
    DIRECTORY_KEYS: DIRECTORY_SCHEMA,
}


def governed_document(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """The data document at `keys` (e.g. quanze/power_lists), or None if there is none."""
    document: Any = data
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _check_data_against_schemas(
    root: Path, data: dict[str, Any], directory: Directory | None
) -> None:
    """Every governed data document matches its schema; a bad one names the file and field."""
    for keys, schema_path in DATA_SCHEMAS.items():
        document = governed_document(data, keys)
        if document is None:
            continue
        schema = _read_json(root / schema_path, "data schema")
        error = jsonschema.exceptions.best_match(schema_errors(schema, document))
        if error is not None:
            field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
            where = f"{'/'.join(keys)}/data.json"
            if keys == DIRECTORY_KEYS and directory is not None:
                where = directory.where(field)
            raise PolicyError(
                f"{where}: {field}: {schema_error_message(error)} (see {schema_path})"
            )


def schema_errors(schema: Mapping[str, Any], document: Any) -> list[jsonschema.ValidationError]:
    """Every way `document` breaks `schema`, by path; none that only follows from another.

    A property whose value fails its schema does not count as evaluated, so the object holding
    it also reports it under `unevaluatedProperties`; the error at the value is the one to fix.
    """
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))

    def derived(error: jsonschema.ValidationError) -> bool:
        path = list(error.absolute_path)
        return error.validator == "unevaluatedProperties" and any(
            len(other.absolute_path) > len(path) and list(other.absolute_path)[: len(path)] == path
            for other in errors
        )

    kept = [error for error in errors if not derived(error)]
    return sorted(kept, key=lambda error: [str(p) for p in error.absolute_path])


def schema_error_message(error: jsonschema.ValidationError) -> str:
    """What is wrong, naming the closest known field for a misspelt one (HR edits these by hand)."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema: Any = error.schema
        known = sorted(schema.get("properties", {}))
        parts = []
        for name in sorted(set(error.instance) - set(known)):
            hint = did_you_mean(name, known) or f"; expected one of: {', '.join(known)}"
            parts.append(f"unknown field {name!r}{hint}")
        if parts:
            return "; ".join(parts)
    return error.message


def _check_directory_consistency(data: dict[str, Any], directory: Directory | None) -> None:
    """The directory is there and its references hold together; every problem listed at once."""
    document = governed_document(data, DIRECTORY_KEYS)
    if document is None:
        raise PolicyError(
            f"{BUNDLED_FILE}: the organisation directory is missing; the policies check every "
            "office a request relies on against it"
        )
    problems = consistency_problems(document, data["quanze"]["catalog"]["actions"])
    if problems:
        where = directory.where if directory is not None else lambda _member: BUNDLED_FILE
        listing = "".join(f"\n  - {where(p.split(':', 1)[0])}: {p}" for p in problems)
        raise PolicyError(f"the organisation directory has {len(problems)} problem(s):{listing}")


def check_schema_matches_catalog(schema: dict[str, Any], data: dict[str, Any]) -> None:
    """The schema's role and action enums must be exactly the catalogs' ids."""
    catalog = data["quanze"]["catalog"]
    expected = {
        "action": set(catalog["actions"]),
        "role": {
            k for k, v in catalog.get("roles", {}).items() if v.get("kind") != "case_relative"
        },
    }
    problems = []
    for name, ids in expected.items():
        declared = set(schema.get("$defs", {}).get(name, {}).get("enum", []))
        if declared != ids:
            missing, extra = sorted(ids - declared), sorted(declared - ids)
            problems.append(
                f"$defs.{name}.enum differs from the catalog: missing {missing}, extra {extra}"
            )
    if problems:
        raise PolicyError(f"{SCHEMA_PATH}: " + "; ".join(problems))
