"""Bad values are refused before anything is deployed: by values.schema.json, as Helm checks it,
or by the chart's own checks (`fail`) where values contradict each other. The chart's README
documents every value."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scripts import chart_values_reference
from tests.helm.render import CHART, KUBE_VERSION, RenderError, template

SERVICE = {"mode": "service", "tls": {"secretName": "quanze-tls"}}


def render(tmp_path: Path, values: dict[str, Any]) -> None:
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    template(CHART, file, work=tmp_path)


# Each bad value, and the start of what the schema says about it.
BAD_VALUES = [
    ({"mode": "daemon"}, "mode: 'daemon' is not one of ['sidecar', 'service']"),
    ({"polices": {"git": {"url": "x"}}}, "Additional properties are not allowed ('polices'"),
    ({"image": {"tag": 1}}, "image.tag: 1 is not of type 'string'"),
    ({"server": {"socketMode": "6660"}}, "server.socketMode: '6660' does not match"),
    ({"server": {"workers": 0}}, "server.workers: 0 is less than the minimum of 1"),
    ({"securityContext": {"runAsNonRoot": False}}, "securityContext.runAsNonRoot: True was"),
    ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem: True was"),
    ({"decisionLog": {"mode": "sometimes"}}, "decisionLog.mode: 'sometimes' is not one of"),
    ({"decisionLog": {"fileMode": "0666"}}, "decisionLog.fileMode: '0666' is not one of"),
    ({"tracing": {"sampleRatio": 1.5}}, "tracing.sampleRatio: 1.5 is greater than the maximum"),
    ({"policies": {"git": {"url": "ftp://g/p.git"}}}, "policies.git.url: 'ftp://g/p.git' does not"),
    ({"policies": {"pollIntervalSeconds": 0}}, "policies.pollIntervalSeconds: 0 is less than or"),
    ({"git": {"credentials": {"type": "password"}}}, "git.credentials.type: 'password' is not one"),
    ({"git": {"credentials": {"username": "x; rm -rf /"}}}, "git.credentials.username: 'x; rm"),
    ({"directory": {"source": "ldap"}}, "directory.source: 'ldap' is not one of"),
    ({"port": 70000}, "port: 70000 is greater than the maximum of 65535"),
    (
        {"decisionLog": {"ship": {"databaseUrl": "mysql://db/audit"}}},
        "decisionLog.ship.databaseUrl: 'mysql://db/audit' does not match",
    ),
    ({"decisionLog": {"ship": {"drainSeconds": -1}}}, "decisionLog.ship.drainSeconds: -1 is less"),
]


@pytest.mark.parametrize(("values", "complaint"), BAD_VALUES)
def test_the_schema_refuses_bad_values(tmp_path: Path, values: dict, complaint: str) -> None:
    with pytest.raises(RenderError) as refused:
        render(tmp_path, values)
    assert "values don't meet the specifications of the schema" in str(refused.value)
    assert complaint in str(refused.value)


AUDIT_DB = "postgresql://quanze@db.audit.svc:5432/audit?sslmode=verify-full"
PVC = {"volume": {"type": "persistentVolumeClaim", "claimName": "logs"}}
SIGNED = {"git": {"url": "https://g/p.git"}, "requireSignedCommits": True}
# Values the schema lets through one by one but the chart refuses together.
CONTRADICTIONS = [
    ({"server": {"restrictStatus": True}}, "server.restrictStatus: a sidecar on a Unix socket"),
    ({"mode": "service"}, "tls: give tls.secretName"),
    (
        {"mode": "service", "tls": {"certManager": {"enabled": True}}},
        "tls.certManager.issuerRef.name: name the cert-manager Issuer",
    ),
    ({"mode": "service", "tls": {"enabled": False}}, "set server.allowInsecureRemote: true only"),
    (
        {**SERVICE, "terminationGracePeriodSeconds": 10},
        "terminationGracePeriodSeconds: 10 is less than server.shutdownDelaySeconds + "
        "server.shutdownGraceSeconds + 1 = 12",
    ),
    ({**SERVICE, "decisionLog": PVC}, "decisionLog.volume: one persistentVolumeClaim cannot"),
    ({"directory": {"source": "configMap"}}, "directory.configMap: give the name of a ConfigMap"),
    ({"policies": SIGNED}, "policies.allowedSigners.secretName: policies.requireSignedCommits"),
    (
        {"decisionLog": {"ship": {"databaseUrl": "postgresql://quanze:hunter2@db/audit"}}},
        "decisionLog.ship.databaseUrl: holds a password, which would sit readable in a ConfigMap",
    ),
    (
        {"decisionLog": {"enabled": False, "ship": {"databaseUrl": AUDIT_DB}}},
        "decisionLog.ship.databaseUrl: shipping needs a decision log",
    ),
    (
        {"decisionLog": {"ship": {"password": {"secretName": "audit-db"}}}},
        "decisionLog.ship.password.secretName: there is no decisionLog.ship.databaseUrl",
    ),
    (
        {**SERVICE, "decisionLog": {"ship": {"databaseUrl": AUDIT_DB, "drainSeconds": 20}}},
        "terminationGracePeriodSeconds: 30 is less than server.shutdownDelaySeconds + "
        "server.shutdownGraceSeconds + decisionLog.ship.drainSeconds + 1 = 32",
    ),
]


@pytest.mark.parametrize(("values", "complaint"), CONTRADICTIONS)
def test_contradicting_values_fail_naming_the_value(
    tmp_path: Path, values: dict, complaint: str
) -> None:
    with pytest.raises(RenderError) as refused:
        render(tmp_path, values)
    assert "execution error at (quanze/templates/configmap.yaml" in str(refused.value)
    assert complaint in str(refused.value)


def test_the_defaults_and_a_service_render(tmp_path: Path) -> None:
    render(tmp_path, {})
    render(tmp_path, SERVICE)


def test_strict_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    """The check of rendered objects can fail: a field Kubernetes does not know is an error."""
    values = tmp_path / "v.yaml"
    values.write_text(yaml.safe_dump(SERVICE))
    deployment = copy.deepcopy(template(CHART, values, work=tmp_path).one("Deployment"))
    kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)
    quanze_pod_spec = deployment["spec"]["template"]["spec"]
    quanze_pod_spec["containers"][0]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_the_readme_documents_every_value() -> None:
    readme = chart_values_reference.README.read_text()
    assert chart_values_reference.render(readme) == readme, (
        "run: python -m scripts.chart_values_reference"
    )
    assert chart_values_reference.undocumented() == []
