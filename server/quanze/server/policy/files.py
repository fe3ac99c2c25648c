"""The files of a policy or organisation-directory tree: regular files only.

A git source exports regular files only and refuses a commit holding a symbolic link; a folder
is held to the same rule, so a link cannot bring into a revision (or a bundle) a file from
outside the tree, or one that changes without the tree changing.
"""

from __future__ import annotations

import os
from pathlib import Path

from quanze.server.errors import PolicyError


class SymbolicLinkError(PolicyError):
    """A tree holds a symbolic link; `links` are all of them, sorted."""

    def __init__(self, root: Path, links: list[Path]) -> None:
        self.links = links
        more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
        super().__init__(f"{links[0]}{more}: {link_problem(links[0])}")


def link_problem(link: Path) -> str:
    """What is wrong with a symbolic link in a tree, and how to fix it."""
    try:
        target = f" to {os.readlink(link)}"
    except OSError:  # removed or replaced since the walk
        target = ""
    return (
        f"a symbolic link{target}; policy and directory files are read as regular files only, "
        "as a git source exports them: replace the link with the file it points to"
    )


def tree_files(root: Path) -> list[Path]:
    """Every regular file under `root`, sorted; `SymbolicLinkError` if any link is below it."""
    files, links = walk_tree(root)
    if links:
        raise SymbolicLinkError(root, links)
    return files


def walk_tree(root: Path) -> tuple[list[Path], list[Path]]:
    """(regular files, symbolic links) under `root`, each sorted; links are not followed.

    `root` itself may be a link: it is the tree the user named.
    """
    files: list[Path] = []
    links: list[Path] = []
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink():
                    links.append(path)
                elif entry.is_dir():
                    pending.append(path)
                elif entry.is_file():
                    files.append(path)
    return sorted(files), sorted(links)
