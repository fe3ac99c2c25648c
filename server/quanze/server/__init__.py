"""Quanze decision sidecar: answers "may this person take this action on this case?"."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("quanze")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
