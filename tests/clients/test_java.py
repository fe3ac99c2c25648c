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

import pytest

from tests.integration.load import sidecar

ROOT = Path(__file__).resolve().parent.parent.parent
JAVA = ROOT / "clients" / "java"
GENERATED = JAVA / "src" / "main" / "java" / "quanze" / "v1"


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    assert not missing, f"{', '.join(missing)} not found: run ./scripts/bootstrap --for-tests"


def _maven(target: Path, *goals: str) -> None:
    """`mvn GOALS` offline on Debian's jars, building into `target`; fails with Maven's output."""
    _require("java", "mvn")
    command = [
        "mvn",
        "-o",
        "-q",
        "-s",
        "debian-settings.xml",
        f"-Dmaven.repo.local={ROOT / 'build' / 'm2'}",
        f"-Dquanze.bin={Path(sys.executable).parent / 'quanze'}",
        f"-DbuildDirectory={target}",
        *goals,
    ]
    run = subprocess.run(
        command, cwd=JAVA, capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}"


def test_java_client_passes_its_tests_against_a_real_sidecar(tmp_path: Path) -> None:
    _maven(tmp_path / "target", "test")


@pytest.mark.slow
def test_the_java_case_app_example_shows_the_denial_and_the_allow_in_chinese(
    tmp_path: Path,
) -> None:
    """examples/java/CaseApp.java, run as its header says, against a real sidecar."""
    _maven(tmp_path / "target", "-DskipTests", "package")
    classpath = f"{tmp_path / 'target' / 'classes'}:/usr/share/java/*"  # Debian's jars
    example = ROOT / "examples" / "java" / "CaseApp.java"
    with sidecar(tmp_path) as server:
        run = subprocess.run(
            ["java", "-cp", classpath, str(example), server.address],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    denied, allowed = run.stdout.split("讯问犯罪嫌疑人（在")
    assert "：拒绝" in denied, run.stdout
    assert "检察官助理须在承办检察官的指导下履行职责" in denied, run.stdout
    assert "：允许" in allowed, run.stdout
    assert "！须：记录指导本次行为的检察官" in allowed, run.stdout


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
