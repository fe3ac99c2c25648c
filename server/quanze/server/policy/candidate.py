"""What a policy source answers: a `Candidate` revision, and what its files are (`Contents`).

The same sources serve the policies (`POLICIES`) and the organisation directory (`DIRECTORY`):
`Contents` says which files count, how a snapshot's revision is named and which settings
messages point at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from quanze.server.policy.bundle import POLICY_SUFFIXES, combined_revision, content_revision
from quanze.server.policy.directory import directory_revision


@dataclass(frozen=True)
class Contents:
    """What a source's revisions consist of: the policies, or an organisation directory."""

    setting: str
    """The configuration section that names the source (`policies`, `directory`)."""
    folder: str
    """What a folder of them is called in descriptions (`directory /srv/policies`)."""
    place: str
    """What a folder of them is called in messages, e.g. `policy directory`."""
    file: str
    """What one of their files is called in messages, e.g. `policy file`."""
    holding: str
    """What they are, in messages: `the policies`."""
    suffixes: frozenset[str]
    """The files a revision consists of; nothing else is copied into a snapshot."""
    revision: Callable[[Path], str]
    """The revision of a snapshot (a folder, or for a one-file source the file)."""
    snapshots: str
    """The folder of the cache their snapshots go in."""
    one_file: bool
    """Whether one file (not only a folder) may hold them."""


POLICIES = Contents(
    setting="policies",
    folder="directory",
    place="policy directory",
    file="policy file",
    holding="the policies",
    suffixes=POLICY_SUFFIXES,
    revision=content_revision,
    snapshots="snapshots",
    one_file=False,
)
# Its revision is the one `read_directory` gives the same files, so a sidecar and
# `quanze directory check` name the same directory the same way.
DIRECTORY = Contents(
    setting="directory",
    folder="folder",
    place="organisation directory folder",
    file="directory file",
    holding="the organisation directory",
    suffixes=frozenset({".json"}),
    revision=directory_revision,
    snapshots="directory-snapshots",
    one_file=True,
)
SECTIONS = {contents.setting: contents for contents in (POLICIES, DIRECTORY)}


@dataclass(frozen=True)
class Candidate:
    """One revision of the policies, ready to be tested and served."""

    revision: str
    """git: the full commit SHA; a directory: the content revision of its snapshot; a
    combination: `<policies>+directory.<directory>`, the revision `load_bundle` names."""
    path: Path
    """A directory holding exactly this revision's policies (for a one-file source, the file);
    never modified afterwards."""
    description: str
    """For status and logs, e.g. `git https://host/repo.git branch main commit 1a2b3c4d5e6f`."""
    committed_at: str = ""
    """git: the commit time, ISO 8601 in UTC; empty otherwise."""
    author: str = ""
    """git: `Name <email>` of the commit's author; empty otherwise."""
    policies: Candidate | None = None
    """A combination's policies: their own revision and snapshot (`path` is that snapshot)."""
    directory: Candidate | None = None
    """A combination's organisation directory, from a source of its own; None otherwise."""

    @property
    def policy_part(self) -> Candidate:
        """The policies: a combination's own, else this candidate."""
        return self.policies or self


# Between the two parts of a combined source's description: `POLICIES; directory WHERE`.
DIRECTORY_SEPARATOR = "; directory "


def combined_description(policies: str, directory: str) -> str:
    """How a source serving `policies` with the directory `directory` is described."""
    return f"{policies}{DIRECTORY_SEPARATOR}{directory}"


def combine(policies: Candidate, directory: Candidate) -> Candidate:
    """The candidate that serves `policies` with the organisation directory `directory`."""
    return Candidate(
        revision=combined_revision(policies.revision, directory.revision),
        path=policies.path,
        description=combined_description(policies.description, directory.description),
        committed_at=policies.committed_at,
        author=policies.author,
        policies=policies,
        directory=directory,
    )


class PolicySource(Protocol):
    """Somewhere revisions of the policies come from."""

    description: str

    def poll(self) -> Candidate:
        """The source's current revision; raises `PolicySourceError` saying what to fix."""
        ...
