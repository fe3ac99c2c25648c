"""Every example values file renders to valid Kubernetes objects that fit together.

Objects are checked against Kubernetes 1.30's schemas (kubernetes-validate, strict: unknown
fields are errors); cert-manager's Certificate, a custom resource it has no schema for, against
the fields cert-manager v1 defines. Then what a schema cannot see: the pod is hardened, its
probes reach what the server listens on, every file the configuration names is mounted, and the
Service, PodDisruptionBudget, HorizontalPodAutoscaler and NetworkPolicy select the pods.
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.helm.pod import config_map, config_of, container, mount_for, quanze_pod
from tests.helm.render import KUBE_VERSION, Rendered, app_chart, template

CERTIFICATE_SPEC = {
    "secretName", "commonName", "dnsNames", "duration", "renewBefore", "privateKey", "usages",
    "issuerRef", "ipAddresses", "uris", "emailAddresses", "subject", "keystores",
    "revisionHistoryLimit", "secretTemplate", "isCA", "literalSubject", "nameConstraints",
    "otherNames", "additionalOutputFormats", "encodeUsagesInRequest", "signatureAlgorithm",
}  # fmt: skip
KEY_USAGES = {"digital signature", "key encipherment", "server auth", "client auth"}


def test_every_object_validates_against_the_kubernetes_schemas(rendered: Rendered) -> None:
    assert rendered.objects, "the example rendered nothing"
    for source, obj in zip(rendered.sources, rendered.objects, strict=True):
        if obj["apiVersion"] == "cert-manager.io/v1":
            _check_certificate(obj)
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            raise AssertionError(f"{source}: {obj['kind']} {path}: {exc.message}") from None


def _check_certificate(obj: dict[str, Any]) -> None:
    assert obj["kind"] == "Certificate"
    spec = obj["spec"]
    assert set(spec) <= CERTIFICATE_SPEC, set(spec) - CERTIFICATE_SPEC
    assert spec["secretName"]
    assert spec["dnsNames"]
    assert spec["issuerRef"]["name"]
    assert set(spec["usages"]) <= KEY_USAGES
    assert {"server auth", "client auth"} <= set(spec["usages"]), "the probes present it"
    assert spec["privateKey"]["rotationPolicy"] in ("Always", "Never")


def test_the_quanze_container_is_hardened(rendered: Rendered) -> None:
    pod = quanze_pod(rendered)
    context = container(pod)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 10001
    assert context["runAsGroup"] == 10001
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["securityContext"]["fsGroup"] == 10001, "secrets are 0440 for the pod's group"
    assert container(pod)["resources"]["requests"]["memory"]


def test_what_the_server_writes_is_on_a_writable_volume(rendered: Rendered) -> None:
    pod, config = quanze_pod(rendered), config_of(rendered)
    written = [config["policies"]["cache_dir"], "/tmp"]
    if "decision_log" in config:
        written.append(config["decision_log"]["directory"])
    if config["server"]["address"].startswith("unix:"):
        written.append(config["server"]["address"][len("unix:") :])
    for path in written:
        mount, volume = mount_for(pod, path)
        assert not mount.get("readOnly"), f"{path} is on a read-only mount"
        assert "emptyDir" in volume or "persistentVolumeClaim" in volume, (path, volume)
    # The cache must sit in a sticky folder (Quanze refuses it otherwise): a tmpfs emptyDir.
    _, cache = mount_for(pod, config["policies"]["cache_dir"])
    assert cache["emptyDir"]["medium"] == "Memory"
    assert (
        config["policies"]["cache_dir"]
        != mount_for(pod, config["policies"]["cache_dir"])[0]["mountPath"]
    ), "the cache must be a folder Quanze makes, not the volume's root (owned by root)"


def test_every_file_the_configuration_names_is_mounted(rendered: Rendered) -> None:
    pod, config = quanze_pod(rendered), config_of(rendered)
    quanze = container(pod)
    assert quanze["command"][-2:] == ["--config", "/etc/quanze/config.yaml"]
    data = config_map(rendered)
    for path, key in (
        ("/etc/quanze/config.yaml", "config.yaml"),
        ("/etc/quanze/health.py", "health.py"),
    ):
        mount, volume = mount_for(pod, path)
        assert mount["mountPath"] == path
        assert mount["subPath"] == key
        assert key in data
        assert key in [i["key"] for i in volume["configMap"]["items"]]
        assert rendered.one("ConfigMap", volume["configMap"]["name"])["data"] == data
    files = [config["server"].get("tls", {}).get(k, "") for k in ("cert", "key", "client_ca")] + [
        config[section].get("allowed_signers_file", "")
        for section in ("policies", "directory")
        if section in config
    ]
    files.append(config.get("decision_log", {}).get("signing_key_file", ""))
    path = config.get("directory", {}).get("path", "")
    files.append(path if path.startswith("/") else "")
    for file in filter(None, files):
        mount, volume = mount_for(pod, file)
        source = volume.get("secret") or volume.get("configMap")
        assert source, f"{file} is on neither a Secret nor a ConfigMap: {volume}"
        relative = posixpath.relpath(file, mount["mountPath"])
        assert relative in [i["path"] for i in source["items"]], (file, source)
        assert mount.get("readOnly") is True


def test_the_probes_ask_health_where_the_server_listens(rendered: Rendered) -> None:
    pod, config = quanze_pod(rendered), config_of(rendered)
    quanze = container(pod)
    probes = [quanze[p] for p in ("startupProbe", "livenessProbe", "readinessProbe")]
    address = config["server"]["address"]
    workers = config["server"]["workers"]
    for probe in probes:
        assert probe["timeoutSeconds"] >= 2
        assert probe["failureThreshold"] >= 1
        if "grpc" in probe:  # plaintext behind a mesh: Kubernetes' own gRPC probe
            assert "tls" not in config["server"]
            assert config["server"]["allow_insecure_remote"] is True
            port = next(p for p in quanze["ports"] if p["name"] == "grpc")["containerPort"]
            assert probe["grpc"]["port"] == port == int(address.rsplit(":", 1)[1])
            continue
        python, script, timeout, *rest = probe["exec"]["command"]
        assert python == "/opt/quanze/bin/python"
        assert script == "/etc/quanze/health.py"
        assert 1 <= float(timeout) < probe["timeoutSeconds"]
        if address.startswith("unix:"):
            socket = address[len("unix:") :]
            stem, suffix = socket.rsplit(".", 1)
            expected = (
                [address]
                if workers == 1
                else [f"unix:{stem}-w{i}.{suffix}" for i in range(workers)]
            )
            assert rest == expected
        else:
            tls = config["server"]["tls"]
            assert rest[0] == "--tls"
            assert rest[1] == tls["cert"].replace("tls.crt", "ca.crt")
            for file in rest[1:4]:
                mount_for(pod, file)
            assert rest[-1] == f"127.0.0.1:{address.rsplit(':', 1)[1]}"


def test_the_socket_folder_is_shared_with_the_application(rendered: Rendered) -> None:
    config = config_of(rendered)
    address = config["server"]["address"]
    if not address.startswith("unix:"):
        assert rendered.one("Service")["spec"]["ports"][0]["port"] == int(address.split(":")[-1])
        return
    pod = quanze_pod(rendered)
    folder = posixpath.dirname(address[len("unix:") :])
    mount, volume = mount_for(pod, folder)
    assert mount["mountPath"] == folder
    assert "emptyDir" in volume
    app = next(c for c in pod["containers"] if c["name"] != "quanze")
    app_mount, app_volume = mount_for(pod, folder, name=app["name"])
    assert app_volume["name"] == volume["name"]
    assert app_mount["mountPath"] == folder
    target = next(e["value"] for e in app["env"] if e["name"] == "QUANZE_TARGET")
    sockets = target[len("unix:") :].split(",")
    assert len(sockets) == config["server"]["workers"]
    assert all(posixpath.dirname(s) == folder for s in sockets)
    assert config["server"]["socket_mode"] == "0660"
    assert int(config["server"]["socket_group"]) == pod["securityContext"]["fsGroup"]


def test_the_pods_roll_when_the_configuration_changes(rendered: Rendered) -> None:
    template = next(
        o
        for o in rendered.objects
        if o["kind"] == "Deployment"
        and any(c["name"] == "quanze" for c in o["spec"]["template"]["spec"]["containers"])
    )["spec"]["template"]
    digest = hashlib.sha256(config_map(rendered)["config.yaml"].encode()).hexdigest()
    annotations = template["metadata"]["annotations"]
    assert digest in annotations.values(), annotations


def test_service_objects_select_the_pods(rendered: Rendered) -> None:
    if config_of(rendered)["server"]["address"].startswith("unix:"):
        assert "Service" not in rendered.kinds()
        assert "PodDisruptionBudget" not in rendered.kinds()
        return
    deployment = rendered.one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = rendered.one("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"] for p in container(deployment["spec"]["template"]["spec"])["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    replicas = (
        rendered.one("HorizontalPodAutoscaler")["spec"]["minReplicas"]
        if "HorizontalPodAutoscaler" in rendered.kinds()
        else deployment["spec"]["replicas"]
    )
    assert pdb["spec"]["minAvailable"] < replicas, "a PDB that never allows an eviction"
    if "HorizontalPodAutoscaler" in rendered.kinds():
        target = rendered.one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    policy = rendered.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    for rule in policy["ingress"]:
        assert rule["from"], "an empty `from` admits every source"
        assert {p["port"] for p in rule["ports"]} <= ports


def test_the_shutdown_fits_in_the_grace_period(rendered: Rendered) -> None:
    server = config_of(rendered)["server"]
    pod = quanze_pod(rendered)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    drain = config_of(rendered).get("decision_log", {}).get("ship", {}).get("drain_seconds", 0)
    assert server["shutdown_delay_seconds"] + server["shutdown_grace_seconds"] + drain + 1 <= grace


def test_the_notes_tell_how_to_reach_it(rendered: Rendered, example: Path) -> None:
    values = yaml.safe_load(example.read_text())
    if values["mode"] == "service":
        assert "rollout status deployment/quanze" in rendered.notes
        assert "quanze.cases.svc:8600" in rendered.notes
    else:  # rendered inside case-app: the subchart's notes are not shown, as in Helm
        assert rendered.notes == ""


@pytest.mark.parametrize("workers", [1, 3])
def test_the_sidecar_target_names_every_workers_socket(tmp_path: Path, workers: int) -> None:
    values = tmp_path / "workers.yaml"
    values.write_text(yaml.safe_dump({"quanze": {"server": {"workers": workers}}}))
    rendered = template(app_chart(tmp_path), values, release="cases", work=tmp_path)
    app = container(quanze_pod(rendered), "case-app")
    target = next(e["value"] for e in app["env"] if e["name"] == "QUANZE_TARGET")
    expected = (
        "unix:/run/quanze/quanze.sock"
        if workers == 1
        else "unix:" + ",".join(f"/run/quanze/quanze-w{i}.sock" for i in range(workers))
    )
    assert target == expected
