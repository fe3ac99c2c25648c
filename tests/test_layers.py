"""The server's layers: every import runs down (or sideways), and only `cli` parses commands.

Each module of `quanze.server` belongs to a layer; a module may import from its own layer and
the ones below it. A name ending in `.*` places a package and everything in it; other names
place one module. A module nobody placed fails the test rather than slipping in.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "server" / "quanze" / "server"
CLIENT = ROOT / "clients" / "python" / "quanze" / "client"

# Lowest first. The reasons: the policies are files and their loading (no evaluation); the
# engines evaluate a loaded bundle; decisions validate a request and ask an engine; the
# decision log records decisions; the service and the process plumbing put it all on the wire;
# the command line sits over everything.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "quanze.server",
        "quanze.server.errors",
        "quanze.server.applog",
        "quanze.server.clock",
        "quanze.server.children",
        "quanze.server.metrics",
    ),
    ("quanze.server.policy.*",),
    ("quanze.server.engine.*", "quanze.server.config", "quanze.server.listening"),
    (
        "quanze.server.validation",
        "quanze.server.decisions",
        "quanze.server.decider_thread",
        "quanze.server.directory_check",
    ),
    ("quanze.server.decisionlog.*",),
    (
        "quanze.server.convert",
        "quanze.server.authzen",
        "quanze.server.bodies",
        "quanze.server.reflection",
        "quanze.server.service",
        "quanze.server.tracing",
        "quanze.server.transport",
        "quanze.server.workers",
        "quanze.server.supervisor",
        "quanze.server.shipping",
        "quanze.server.app",
        "quanze.server.testing",
    ),
    ("quanze.server.cli.*",),
)


def layer_of(module: str) -> int:
    """The layer that places `module`, or -1."""
    for level, names in enumerate(LAYERS):
        for name in names:
            package = name.removesuffix(".*")
            if module == package or (name.endswith(".*") and module.startswith(package + ".")):
                return level
    return -1


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def imported(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, module) for every `quanze` module imported, at the top or inside functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("quanze"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("quanze"):
                continue
            for alias in node.names:
                # `from quanze.server import app` imports the module quanze.server.app.
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if is_server_module(candidate) else base


def is_server_module(name: str) -> bool:
    if not name.startswith("quanze.server."):
        return False
    path = SERVER.joinpath(*name.split(".")[2:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def server_modules() -> list[Path]:
    return sorted(SERVER.rglob("*.py"))


@pytest.mark.parametrize("path", server_modules(), ids=lambda p: str(p.relative_to(SERVER)))
def test_every_server_module_has_a_layer_and_imports_only_downwards(path: Path) -> None:
    module = module_name(path, SERVER, "quanze.server")
    level = layer_of(module)
    assert level >= 0, f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    upward = [
        f"{path.relative_to(ROOT)}:{line}: {module} (layer {level}) imports {target} "
        f"(layer {layer_of(target)})"
        for line, target in sorted(set(imported(tree, module, path.name == "__init__.py")))
        if target.startswith("quanze.server") and layer_of(target) > level
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_server_and_the_client_share_only_the_wire_types() -> None:
    crossing = []
    for root, package, other in (
        (SERVER, "quanze.server", "quanze.client"),
        (CLIENT, "quanze.client", "quanze.server"),
    ):
        for path in sorted(root.rglob("*.py")):
            module = module_name(path, root, package)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            crossing += [
                f"{path.relative_to(ROOT)}:{line}: imports {target}"
                for line, target in imported(tree, module, path.name == "__init__.py")
                if target.startswith(other)
            ]
    assert not crossing, "\n".join(crossing)


def test_only_the_cli_package_builds_command_lines() -> None:
    """One place registers commands: argparse is used nowhere else in the server."""
    outside = []
    for path in server_modules():
        module = module_name(path, SERVER, "quanze.server")
        if layer_of(module) == len(LAYERS) - 1:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        outside += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            and any(
                "argparse" in (alias.name, getattr(node, "module", None)) for alias in node.names
            )
        ]
    assert not outside, "argparse outside quanze.server.cli:\n" + "\n".join(outside)


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("quanze.server.errors", 0),
        ("quanze.server.policy.bundle", 1),
        ("quanze.server.engine.regorus_engine", 2),
        ("quanze.server.decisionlog.mask", 4),
        ("quanze.server.cli.policy", 6),
        ("quanze.server.unplaced", -1),
        ("quanze.elsewhere", -1),
    ],
)
def test_layer_of_places_packages_whole_and_modules_one_by_one(module: str, layer: int) -> None:
    assert layer_of(module) == layer


def test_exit_statuses_come_from_one_table() -> None:
    """`ExitCode` in quanze.server.cli is the only table: no module keeps its own constants."""
    own = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {target.id}"
        for path in server_modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.startswith("EXIT_")
    ]
    assert not own, "\n".join(own)
