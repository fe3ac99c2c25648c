"""`helm template`, as faithfully as this machine allows: tools/helm-render, then the schema.

helm-render (Go, Debian's text/template + sprig) renders the chart as Helm 3 does and writes the
values the templates saw; Helm checks those values against every values.schema.json of the
chart and its subcharts before rendering, which is done here with the reference `jsonschema`.
The binary is built once per source digest into build/helm-render/ (Go from Debian:
`apt-get install golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
golang-gopkg-yaml.v3-dev`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "quanze"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
APP_CHART = ROOT / "helm" / "examples" / "case-app"
SOURCE = ROOT / "tools" / "helm-render"
BUILD = ROOT / "build" / "helm-render"
GOPATH = Path("/usr/share/gocode")
GO_PACKAGES = " ".join(
    (
        "golang-go",
        "golang-github-masterminds-sprig-dev",
        "golang-k8s-sigs-yaml-dev",
        "golang-gopkg-yaml.v3-dev",
    )
)
KUBE_VERSION = "1.30.0"


class RenderError(Exception):
    """`helm template` would have failed: the schema refused the values, or a template failed."""


@dataclass(frozen=True)
class Rendered:
    """What `helm template` printed, split into objects, and what it would have told."""

    objects: list[dict[str, Any]]
    sources: list[str]
    notes: str
    values: dict[str, Any]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [
            o
            for o in self.objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
        ]
        assert len(found) == 1, f"{len(found)} {kind} objects named {name}: {self.kinds()}"
        return found[0]

    def kinds(self) -> list[str]:
        return [o["kind"] for o in self.objects]


def renderer() -> Path:
    """The helm-render binary for the current source, built if needed."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE.glob("*.go")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    binary = BUILD / digest.hexdigest()[:16] / "helm-render"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    missing = [
        str(GOPATH / "src" / p)
        for p in ("github.com/Masterminds/sprig", "sigs.k8s.io/yaml", "gopkg.in/yaml.v3")
    ]
    missing = [p for p in missing if not Path(p).is_dir()]
    if go is None or missing:
        raise AssertionError(
            f"cannot build tools/helm-render: {'go is not on PATH' if go is None else ''}"
            f"{' missing ' + ', '.join(missing) if missing else ''}; install Debian's "
            f"packages: apt-get install {GO_PACKAGES} (.ci/run does)"
        )
    binary.parent.mkdir(parents=True, exist_ok=True)
    staging = binary.with_suffix(".building")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(BUILD / "go-cache"),
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    }
    result = subprocess.run(
        [go, "build", "-o", str(staging), "."],
        cwd=SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"go build of tools/helm-render failed:\n{result.stderr}"
    staging.rename(binary)
    return binary


def template(
    chart: Path = CHART,
    *values_files: Path,
    release: str = "quanze",
    namespace: str = "cases",
    api_versions: tuple[str, ...] = (),
    work: Path,
) -> Rendered:
    """`helm template RELEASE CHART -f ... --namespace NS`, checked and parsed."""
    values_out, notes_out = work / "values.json", work / "notes.txt"
    argv = [
        str(renderer()),
        "--release-name",
        release,
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        "--values-out",
        str(values_out),
        "--notes-out",
        str(notes_out),
    ]
    for path in values_files:
        argv += ["-f", str(path)]
    for api in api_versions:
        argv += ["-a", api]
    result = subprocess.run(
        [*argv, str(chart)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    values = json.loads(values_out.read_text())
    check_schemas(chart, values)
    objects, sources = [], []
    for document in result.stdout.split("\n---\n"):
        source = next(
            (
                line[len("# Source: ") :]
                for line in document.splitlines()
                if line.startswith("# Source: ")
            ),
            None,
        )
        body = yaml.safe_load(document.removeprefix("---\n"))
        if body:
            assert source is not None, f"a document without its # Source line: {document[:200]}"
            objects.append(body)
            sources.append(source)
    return Rendered(objects, sources, notes_out.read_text(), values)


def check_schemas(chart: Path, values: dict[str, Any]) -> None:
    """Helm's check of values.schema.json, for the chart and each subchart with its values."""
    problems = []
    schema_file = chart / "values.schema.json"
    if schema_file.is_file():
        schema = json.loads(schema_file.read_text())
        validator = jsonschema.Draft7Validator(schema)
        problems += [
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator.iter_errors(values)
        ]
    for sub in sorted((chart / "charts").glob("*/Chart.yaml")):
        name = yaml.safe_load(sub.read_text())["name"]
        if isinstance(values.get(name), dict):
            try:
                check_schemas(sub.parent, values[name])
            except RenderError as exc:
                problems.append(f"{name}: {exc}")
    if problems:
        raise RenderError(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n"
            + "\n".join(sorted(problems))
        )


def app_chart(into: Path) -> Path:
    """helm/examples/case-app with the quanze chart in its charts/ (`helm dependency build`)."""
    app = into / "case-app"
    shutil.copytree(APP_CHART, app)
    shutil.copytree(CHART, app / "charts" / "quanze", ignore=shutil.ignore_patterns("examples"))
    return app


def main(argv: list[str]) -> int:
    """`python -m tests.helm.render CHART [VALUES.yaml ...]`: helm template, here."""
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    if not argv:
        print("usage: python -m tests.helm.render CHART [VALUES.yaml ...]", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        try:
            rendered = template(
                Path(argv[0]), *map(Path, argv[1:]), api_versions=("cert-manager.io/v1",),
                work=Path(work),
            )  # fmt: skip
        except RenderError as exc:
            print(exc, file=sys.stderr)
            return 1
    for source, obj in zip(rendered.sources, rendered.objects, strict=True):
        print(f"---\n# Source: {source}\n{yaml.safe_dump(obj, sort_keys=False)}", end="")
    if rendered.notes:
        print(f"\nNOTES:\n{rendered.notes}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
