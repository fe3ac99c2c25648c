"""Reading a rendered pod the way the kubelet would set it up, and laying it out in a folder.

`lay_out` makes, under a temporary root, what the container would see: config.yaml and
health.py from the ConfigMap, the volumes with the modes Kubernetes gives them (an emptyDir is
0777 without the sticky bit, an in-memory one is a tmpfs, 1777; fsGroup adds setgid and the
group), and a ConfigMap volume as the kubelet's atomic writer makes it (files are symbolic links
into a timestamped folder through `..data`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from tests.helm.render import Rendered

PREFIXES = ("/etc/quanze", "/run/quanze", "/var/cache/quanze", "/var/log/quanze")
IMAGE_BIN = "/opt/quanze/bin"


def quanze_pod(rendered: Rendered) -> dict[str, Any]:
    """The pod spec that holds the quanze container (the service's or the application's)."""
    pods = [
        o["spec"]["template"]["spec"]
        for o in rendered.objects
        if o["kind"] == "Deployment"
        and any(c["name"] == "quanze" for c in o["spec"]["template"]["spec"]["containers"])
    ]
    assert len(pods) == 1, f"{len(pods)} pods hold a quanze container"
    return pods[0]


def container(pod: dict[str, Any], name: str = "quanze") -> dict[str, Any]:
    return next(c for c in pod["containers"] if c["name"] == name)


def config_map(rendered: Rendered) -> dict[str, str]:
    """The data of the ConfigMap holding Quanze's config.yaml (and the probe's health.py)."""
    maps = [o for o in rendered.objects if o["kind"] == "ConfigMap" and "config.yaml" in o["data"]]
    assert len(maps) == 1, f"{len(maps)} ConfigMaps hold a config.yaml"
    return dict(maps[0]["data"])


def config_of(rendered: Rendered) -> dict[str, Any]:
    return dict(yaml.safe_load(config_map(rendered)["config.yaml"]))


def mount_for(pod: dict[str, Any], path: str, name: str = "quanze") -> tuple[dict, dict]:
    """The volumeMount of the container that holds `path`, and its volume."""
    mounts = [
        m
        for m in container(pod, name)["volumeMounts"]
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
    ]
    assert mounts, f"no volume of container {name} holds {path}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return mount, volume


def rewrite(value: Any, root: Path) -> Any:
    """`value` with every container path under PREFIXES moved under `root`."""
    if isinstance(value, dict):
        return {k: rewrite(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite(v, root) for v in value]
    if isinstance(value, str):
        for prefix in PREFIXES:
            value = value.replace(prefix, f"{root}{prefix}")
    return value


def empty_dir(path: Path, *, memory: bool = False, fs_group: int | None = None) -> None:
    """A folder as the kubelet makes an emptyDir (disk: 0777; memory: a tmpfs, 1777)."""
    path.mkdir(parents=True, exist_ok=True)
    mode = 0o1777 if memory else 0o777
    if fs_group is not None:
        os.chown(path, 0, fs_group)
        mode |= stat.S_ISGID
    path.chmod(mode)


def atomic_writer(directory: Path, files: dict[str, str], *, fs_group: int | None = None) -> None:
    """A ConfigMap (or Secret) volume as the kubelet's AtomicWriter lays it out."""
    payload = directory / "..2026_12_06_00_00_00.000000001"
    payload.mkdir(parents=True)
    for name, text in files.items():
        (payload / name).write_text(text)
        if fs_group is not None:
            os.chown(payload / name, 0, fs_group)
        (payload / name).chmod(0o444 if fs_group is None else 0o440)
        (directory / name).symlink_to(f"..data/{name}")
    (directory / "..data").symlink_to(payload.name)


def secret_file(path: Path, data: bytes, *, fs_group: int) -> None:
    """One file of a Secret volume with defaultMode 0440 under the pod's fsGroup."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chown(path, 0, fs_group)
    path.chmod(0o440)


def probe_command(probe: dict[str, Any], root: Path, venv_bin: Path) -> list[str]:
    """The probe's exec command as it would run here: the image's Python is the venv's."""
    command = rewrite(probe["exec"]["command"], root)
    return [c.replace(IMAGE_BIN, str(venv_bin)) for c in command]
