"""Rendering the chart's examples as an operator would deploy them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helm.render import CHART, EXAMPLES, Rendered, app_chart, template

CERT_MANAGER = "cert-manager.io/v1"


def render_example(example: Path, work: Path) -> Rendered:
    """A service example renders alone; a sidecar example as the quanze values of the case-app
    chart, whose pod then holds the sidecar (the quanze chart alone renders no pod)."""
    values = yaml.safe_load(example.read_text())
    if values.get("mode") == "service":
        return template(CHART, example, api_versions=(CERT_MANAGER,), work=work)
    nested = work / f"app-{example.name}"
    nested.write_text(yaml.safe_dump({"quanze": values}))
    return template(app_chart(work), nested, release="cases", work=work)


@pytest.fixture(params=EXAMPLES, ids=[e.stem for e in EXAMPLES])
def example(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


@pytest.fixture
def rendered(example: Path, tmp_path: Path) -> Rendered:
    return render_example(example, tmp_path)
