"""tools/helm-render behaves as Helm 3 does where the chart relies on it.

Each test is a small chart in a temporary folder and what `helm template` prints for it, as
Helm's own code (pkg/engine, pkg/chartutil, pkg/releaseutil) determines it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helm.render import RenderError, template


def chart(root: Path, files: dict[str, str], name: str = "demo") -> Path:
    directory = root / name
    files = {"Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 1.2.3\n", **files}
    for path, text in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(text)
    return directory


def values_file(root: Path, name: str, values: dict) -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(values))
    return path


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  values: {{ toJson .Values | quote }}
"""


def test_values_files_merge_left_to_right_over_the_charts(tmp_path: Path) -> None:
    defaults = "a: {b: 1, c: 2, keep: kept}\nlist: [1, 2]\ndropped: here\n"
    demo = chart(tmp_path, {"values.yaml": defaults, "templates/cm.yaml": CONFIGMAP})
    first = values_file(tmp_path, "1.yaml", {"a": {"b": 10}, "list": [9], "dropped": None})
    second = values_file(tmp_path, "2.yaml", {"a": {"c": 20}})
    rendered = template(demo, first, second, release="r", work=tmp_path)
    values = yaml.safe_load(rendered.one("ConfigMap")["data"]["values"])
    # Maps merge, lists are replaced, and a null removes the chart's default.
    assert values == {"a": {"b": 10, "c": 20, "keep": "kept"}, "list": [9]}
    assert rendered.values == values


def test_numbers_are_floats_as_in_helm(tmp_path: Path) -> None:
    """Helm reads values through JSON: 1000000 prints as 1e+06 unless converted with int."""
    demo = chart(
        tmp_path,
        {
            "values.yaml": "big: 1000000\n",
            "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
            "data:\n  raw: {{ .Values.big | quote }}\n  int: {{ int .Values.big | quote }}\n",
        },
    )
    data = template(demo, work=tmp_path).one("ConfigMap")["data"]
    assert data == {"raw": "1e+06", "int": "1000000"}


def test_required_and_fail_stop_the_render_with_helms_message(tmp_path: Path) -> None:
    demo = chart(
        tmp_path,
        {
            "values.yaml": "name: ''\n",
            "templates/cm.yaml": '{{ required "name: give one" .Values.name }}\n',
        },
    )
    with pytest.raises(RenderError) as failed:
        template(demo, work=tmp_path)
    assert (
        str(failed.value)
        == "Error: execution error at (demo/templates/cm.yaml:1:3): name: give one"
    )


def test_manifests_come_in_install_order_and_notes_apart(tmp_path: Path) -> None:
    kinds = {
        "a-deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n",
        "b-service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
        "c-both.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        "NOTES.txt": "Installed {{ .Release.Name }} in {{ .Release.Namespace }}.",
        "_partial.tpl": '{{- define "demo.unused" -}}never rendered alone{{- end -}}',
    }
    demo = chart(tmp_path, {f"templates/{k}": v for k, v in kinds.items()})
    rendered = template(demo, release="r", namespace="ns", work=tmp_path)
    assert rendered.kinds() == ["Secret", "ConfigMap", "Service", "Deployment"]
    assert rendered.sources[0] == "demo/templates/c-both.yaml"
    assert rendered.notes == "Installed r in ns."


def test_helmignore_keeps_files_out_of_dot_files(tmp_path: Path) -> None:
    demo = chart(
        tmp_path,
        {
            ".helmignore": "examples/\n*.bak\n",
            "examples/x.yaml": "secret: 1",
            "config/a.txt": "A",
            "config/a.txt.bak": "old",
            "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\n"
            'data:\n  a: {{ .Files.Get "config/a.txt" | quote }}\n'
            '  bak: {{ .Files.Get "config/a.txt.bak" | quote }}\n'
            '  example: {{ .Files.Get "examples/x.yaml" | quote }}\n',
        },
    )
    assert template(demo, work=tmp_path).one("ConfigMap")["data"] == {
        "a": "A",
        "bak": "",
        "example": "",
    }


def test_subcharts_get_their_values_and_the_parents_globals(tmp_path: Path) -> None:
    parent = chart(
        tmp_path,
        {
            "Chart.yaml": "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n"
            "  - name: child\n    version: 1.0.0\n    repository: file://../child\n",
            "values.yaml": "global: {region: north}\nchild: {colour: blue}\n",
            "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\ndata:\n"
            '  from-child: {{ include "child.say" (dict "Values" .Values.child) | quote }}\n',
        },
        name="parent",
    )
    chart(
        parent / "charts",
        {
            "values.yaml": "colour: red\nsize: small\n",
            "templates/_helpers.tpl": '{{- define "child.say" -}}'
            "{{ .Values.colour }}/{{ .Values.size }}{{- end -}}",
            "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
            '  seen: {{ printf "%s/%s/%s" .Values.colour .Values.size .Values.global.region'
            " | quote }}\n"
            "  root: {{ .Chart.IsRoot | quote }}\n",
        },
        name="child",
    )
    rendered = template(parent, work=tmp_path)
    assert rendered.one("ConfigMap", "c")["data"] == {"seen": "blue/small/north", "root": "false"}
    assert rendered.one("ConfigMap", "p")["data"] == {"from-child": "blue/small"}
    assert rendered.sources == ["parent/charts/child/templates/cm.yaml", "parent/templates/cm.yaml"]


def test_a_dependency_missing_from_charts_is_an_error(tmp_path: Path) -> None:
    parent = chart(
        tmp_path,
        {
            "Chart.yaml": "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n"
            "  - name: child\n    version: 1.0.0\n    repository: file://../child\n",
        },
        name="parent",
    )
    with pytest.raises(RenderError, match="missing in charts/ directory: child"):
        template(parent, work=tmp_path)
