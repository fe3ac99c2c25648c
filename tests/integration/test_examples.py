"""The examples/ applications run as their READMEs say, against a real sidecar, and show what
the policies decided: the assistant denied without guidance and allowed under it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.load import Sidecar, sidecar
from tests.support import EXAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sidecar, str]]:
    """One worker with HTTP on: (sidecar, AuthZEN base URL)."""
    with sidecar(tmp_path_factory.mktemp("examples"), "--set=http.address=127.0.0.1:0") as server:
        yield server, f"http://{server.wait_event('http_listening')['address']}"


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_python_case_app_shows_the_denial_and_the_allow_in_chinese(
    served: tuple[Sidecar, str],
) -> None:
    server, _ = served
    shown = _run(sys.executable, str(EXAMPLES / "python" / "case_app.py"), server.address)
    denied, allowed = shown.split("讯问犯罪嫌疑人（在")
    assert "：拒绝" in denied
    assert "检察官助理须在承办检察官的指导下履行职责" in denied
    assert "（《意见》十七）" in denied
    assert "：允许" in allowed
    assert "！须：记录指导本次行为的检察官" in allowed


def test_the_authzen_curl_example_gets_the_decision_and_our_reasons(
    served: tuple[Sidecar, str],
) -> None:
    _, base = served
    answer = json.loads(_run("sh", str(EXAMPLES / "authzen" / "evaluation.sh"), base))
    assert answer["decision"] is False
    assert [r["code"] for r in answer["context"]["reasons"]] == ["assistant_requires_guidance"]
    assert answer["context"]["reasons"][0]["article"] == "十七"


def test_examples_read_me_names_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for example in (
        "python/case_app.py",
        "java/CaseApp.java",
        "authzen/evaluation.sh",
        "clients/node/examples",
    ):
        assert example in readme, example
