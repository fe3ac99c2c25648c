"""Policies from git, reloaded without a restart: real repositories, real pushes, real servers.

Each revision marks one message (`assistant_duty`, cited by the contract's example answer), so
an answer shows which revision produced it as well as naming it in `policy_revision`.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from quanze.client import Answer, Client, QuanzeClientError
from quanze.server import cli
from quanze.server.config import Config, PolicyConfig, ServerConfig
from quanze.server.testing import running_server
from tests.integration.policy_repo import PolicyRepo, git
from tests.integration.support import (
    health_with_details,
    start,
    status,
    stop,
    wait_event,
    wait_serving,
    wait_until,
)
from tests.support import CONTRACT_EXAMPLE

pytestmark = pytest.mark.slow

REQUEST = json.loads(CONTRACT_EXAMPLE)
MARKED = "assistant_duty"
WAIT = 180.0  # a revision's gate: `policy check` and `policy test` on 2 busy cores


def marker(answer: Answer) -> str:
    text = next(r.message_en for r in answer.reasons if r.code == MARKED)
    return text.rsplit(" [", 1)[1].rstrip("]") if " [" in text else ""


@pytest.fixture
def repo(tmp_path: Path) -> PolicyRepo:
    return PolicyRepo(tmp_path / "repo")


def reload_config(repo: PolicyRepo, cache: Path, **policies: Any) -> Config:
    return Config(
        server=ServerConfig(shutdown_delay_seconds=0.0),
        policies=PolicyConfig(
            path=str(repo.remote), poll_interval_seconds=0.2, cache_dir=str(cache), **policies
        ),
    )


def test_a_pushed_commit_serves_and_broken_or_failing_ones_never_do(
    repo: PolicyRepo, tmp_path: Path
) -> None:
    first = git("rev-parse", "HEAD", cwd=repo.work)
    with (
        running_server(reload_config(repo, tmp_path / "cache")) as address,
        Client(address, timeout=10) as client,
    ):
        answer = client.check(REQUEST)
        assert answer.policy_revision == first
        assert status(address).active_revision == first

        repo.mark(MARKED, "r1")
        good = repo.commit("a good change")
        wait_until(
            lambda: client.check(REQUEST).policy_revision == good, "the good commit serves", WAIT
        )
        assert marker(client.check(REQUEST)) == "r1"

        repo.break_syntax()
        broken = repo.commit("does not compile")
        wait_until(lambda: status(address).last_failed_revision == broken, "it is refused", WAIT)
        refused = status(address)
        assert refused.active_revision == good
        assert "common.rego" in refused.last_error
        assert client.check(REQUEST).policy_revision == good
        health, details = health_with_details(address)
        assert health == health_pb2.HealthCheckResponse.SERVING
        assert details["quanze-policy-revision"] == good
        assert details["quanze-policy-last-failed-revision"] == broken
        assert "common.rego" in details["quanze-policy-last-error"]

        repo.restore("quanze/rules/common/common.rego")
        repo.set_article(MARKED, "十八")
        failing = repo.commit("compiles, but its own tests fail")
        wait_until(lambda: status(address).last_failed_revision == failing, "it is refused", WAIT)
        assert "failed" in status(address).last_error
        answer = client.check(REQUEST)
        assert answer.policy_revision == good
        assert answer.reasons[0].article == "十七"
        assert status(address).serving  # health stays SERVING on the last good revision


def test_under_load_every_answer_comes_from_the_revision_it_names(
    repo: PolicyRepo, tmp_path: Path
) -> None:
    """Two worker processes, clients calling throughout, good/broken/failing pushes."""
    revisions = {git("rev-parse", "HEAD", cwd=repo.work): ""}
    answers: list[Answer] = []  # every answer the load threads got, checked after they end
    errors: list[str] = []
    crashes: list[str] = []  # what ended a load thread, with the answer it had last
    stopping = threading.Event()
    with start(
        "--address", "127.0.0.1:0", "--workers", "2",
        "--policies", str(repo.remote), "--poll-interval", "0.3",
        "--set", f"policies.cache_dir={tmp_path / 'cache'}",
        # On the default budgets: they count CPU time, not the wait for 2 cores a gate keeps busy.
        cwd=tmp_path,
    ) as process:  # fmt: skip
        address = wait_event(process, "starting_workers")["address"]
        try:
            wait_serving(address, timeout=WAIT)

            def load() -> None:
                answer: Answer | None = None
                try:
                    while not stopping.is_set():
                        # A new connection each round: calls spread over both workers.
                        with Client(address, timeout=30) as client:
                            for _ in range(20):
                                try:
                                    answer = client.check(REQUEST)
                                except QuanzeClientError as exc:
                                    errors.append(str(exc))
                                    continue
                                answers.append(answer)
                                time.sleep(0.01)
                except Exception as exc:
                    crashes.append(f"{exc!r} after the answer {answer!r}")

            threads = [threading.Thread(target=load) for _ in range(3)]
            for thread in threads:
                thread.start()

            def serves(revision: str) -> bool:
                return bool(answers) and answers[-1].policy_revision == revision

            repo.mark(MARKED, "r1")
            revisions[good := repo.commit("good")] = "r1"
            wait_until(lambda: serves(good), "r1 serves", WAIT)
            repo.break_syntax()
            broken = repo.commit("broken")
            wait_until(
                lambda: status(address).last_failed_revision == broken, "broken refused", WAIT
            )
            repo.restore("quanze/rules/common/common.rego")
            repo.set_article(MARKED, "十八")
            failing = repo.commit("failing tests")
            wait_until(
                lambda: status(address).last_failed_revision == failing, "failing refused", WAIT
            )
            repo.set_article(MARKED, "十七")
            repo.mark(MARKED, "r2")
            revisions[second := repo.commit("good again")] = "r2"
            wait_until(lambda: serves(second), "r2 serves", WAIT)
            wait_until(
                lambda: sum(a.policy_revision == second for a in list(answers)) >= 20,
                "20 calls are answered from r2",
                WAIT,
            )
            stopping.set()
            for thread in threads:
                thread.join(60)
        finally:
            stopping.set()
            stop(process)
    assert [thread.name for thread in threads if thread.is_alive()] == []
    assert crashes == []
    assert errors == []
    assert answers
    served = Counter(answer.policy_revision for answer in answers)
    assert set(served) <= set(revisions)  # never the broken or failing revision
    assert len(served) == 3
    for answer in answers:
        revision = answer.policy_revision
        assert MARKED in [r.code for r in answer.reasons], f"{revision} answered {answer!r}"
        seen = marker(answer)
        assert seen == revisions[revision], f"{revision} answered as {seen!r}: {answer!r}"


def test_only_commits_signed_by_an_allowed_key_serve(repo: PolicyRepo, tmp_path: Path) -> None:
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(
        f'security@example.org namespaces="git" {key.with_suffix(".pub").read_text()}'
    )
    sign = ("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}")
    repo.mark(MARKED, "signed")
    git(*sign, "commit", "--quiet", "--amend", "-S", "--all", "--no-edit", cwd=repo.work)
    git("push", "--quiet", "--force", "origin", "main", cwd=repo.work)
    signed = git("rev-parse", "HEAD", cwd=repo.work)
    config = reload_config(
        repo,
        tmp_path / "cache",
        require_signed_commits=True,
        allowed_signers_file=str(allowed),
        require_tests_pass=False,
    )
    with running_server(config) as address, Client(address, timeout=10) as client:
        assert client.check(REQUEST).policy_revision == signed
        repo.mark(MARKED, "unsigned")
        unsigned = repo.commit("not signed")
        wait_until(
            lambda: status(address).last_failed_revision == unsigned, "unsigned refused", WAIT
        )
        assert "sign" in status(address).last_error
        assert marker(client.check(REQUEST)) == "signed"


def test_quanze_status_shows_the_active_revision(
    repo: PolicyRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = reload_config(repo, tmp_path / "cache", require_tests_pass=False)
    with running_server(config) as address:
        assert cli.main(["status", "--address", address]) == 0
        text = capsys.readouterr().out
        assert cli.main(["status", "--address", address, "--format", "json"]) == 0
        shown = json.loads(capsys.readouterr().out)
    revision = git("rev-parse", "HEAD", cwd=repo.work)
    assert f"active revision   {revision}" in text
    assert shown["active_revision"] == revision
    assert shown["serving"] is True
    assert str(repo.remote) in shown["policy_source"]


def test_quanze_status_explains_an_unreachable_sidecar(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--address", "127.0.0.1:1", "--timeout", "0.5"]) == 1
    assert "is `quanze serve` running there?" in capsys.readouterr().err
