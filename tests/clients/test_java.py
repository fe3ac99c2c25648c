"""The Java client (clients/java) passes its JUnit tests against real sidecars it starts.

Maven runs offline on Debian's jars (clients/java/debian-settings.xml), with its local
repository under build/; `./scripts/bootstrap --for-tests` installs the packages. A missing
toolchain fails these tests, never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
JAVA = ROOT / "clients" / "java"
GENERATED = JAVA / "src" / "main" / "java" / "quanze" / "v1"


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    assert not missing, f"{', '.join(missing)} not found: run ./scripts/bootstrap --for-tests"


def test_java_client_passes_its_tests_against_a_real_sidecar(tmp_path: Path) -> None:
    _require("java", "mvn")
    command = [
        "mvn",
        "-o",
        "-q",
        "-s",
        "debian-settings.xml",
        f"-Dmaven.repo.local={ROOT / 'build' / 'm2'}",
        f"-Dquanze.bin={Path(sys.executable).parent / 'quanze'}",
        f"-DbuildDirectory={tmp_path / 'target'}",
        "test",
    ]
    run = subprocess.run(
        command, cwd=JAVA, capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}"


def test_committed_java_code_matches_the_protos(tmp_path: Path) -> None:
    _require("protoc", "grpc_java_plugin")
    subprocess.run(
        [str(JAVA / "scripts" / "generate"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    generated = sorted(p.name for p in (tmp_path / "quanze" / "v1").iterdir())
    assert generated == sorted(p.name for p in GENERATED.iterdir())
    for name in generated:
        assert (GENERATED / name).read_text() == (tmp_path / "quanze" / "v1" / name).read_text(), (
            f"{name} is stale: run clients/java/scripts/generate"
        )
