"""Naming a git repository: what counts as one, and its URL without credentials in messages."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP = re.compile(r"^[^/@:\s]+@[^/:\s]+:")  # user@host:path, git's scp-like syntax
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")


def is_remote(location: str) -> bool:
    """Whether `location` is a URL (`scheme://…`) or scp-like `user@host:path`, not a path."""
    return bool(_URL.match(location) or _SCP.match(location))


def redact_url(text: str) -> str:
    """`text` with the user info of every URL in it hidden (a token often is the user name).

    An SSH user name without a password (`ssh://git@host/…`) is no secret and stays.
    """

    def hide(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        if "ssh" in scheme.lower() and ":" not in userinfo:
            return match[0]
        return f"{scheme}***@"

    return _USERINFO.sub(hide, text)


def without_userinfo(url: str) -> str:
    return _USERINFO.sub(lambda m: m["scheme"], url)


def secrets_of(url: str) -> list[str]:
    """Strings of `url` that must not appear in messages: its password, or a token user name."""
    match = _USERINFO.search(url)
    if match is None or redact_url(match[0]) == match[0]:
        return []
    user, _, password = match["userinfo"].partition(":")
    return [s for s in {password, unquote(password), user, unquote(user)} if len(s) >= 4]


def is_git_location(value: str) -> bool:
    """Whether `value` names a git repository rather than a plain policy directory.

    True for URLs (`scheme://…`), scp-like `user@host:path`, names ending in `.git`, and local
    directories that are repositories (with a `.git` inside, or bare: HEAD, objects/, refs/).
    """
    if is_remote(value) or value.rstrip("/").endswith(".git"):
        return True
    path = Path(value).expanduser()
    if not path.is_dir():
        return False
    return (path / ".git").exists() or (
        (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
    )
