"""An organisation directory of its own, followed and gated beside the policies: real sidecars.

Every test starts from a copy of the directory bundled with the policies and changes it the way
HR would: clerk-C1 leaves PROC-CITY-A, so the clerk's `record.take`, allowed before, is denied
with `office_not_held`; or a date is mistyped, which the gate refuses.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from quanze.client import Answer, Client
from quanze.server import cli
from quanze.server.config import Config, DirectoryConfig, PolicyConfig, ServerConfig
from quanze.server.policy.bundle import content_revision
from quanze.server.policy.directory import read_directory
from quanze.server.testing import running_server
from tests.integration.policy_repo import DirectoryRepo, git
from tests.integration.support import (
    health_with_details,
    start,
    status,
    stop,
    wait_serving,
    wait_until,
)
from tests.server.policy.test_source import ssh_key, ssh_signing
from tests.support import (
    CLERK_TAKES_RECORD,
    bundled_directory,
    split_directory,
    trimmed_policies,
    without_clerk,
    write_json,
)

pytestmark = pytest.mark.slow

WAIT = 60.0  # a directory revision's gate is one `quanze directory check`: about a second


def codes(answer: Answer) -> list[str]:
    return [reason.code for reason in answer.reasons]


def directory_config(path: Path | str, cache: Path, **directory: Any) -> Config:
    """The bundled policies with the organisation directory at `path`, polled every 0.2 s."""
    return Config(
        server=ServerConfig(shutdown_delay_seconds=0.0),
        policies=PolicyConfig(cache_dir=str(cache)),
        directory=DirectoryConfig(path=str(path), poll_interval_seconds=0.2, **directory),
    )


def test_a_changed_directory_file_serves_and_a_broken_one_never_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "hr" / "directory.json", bundled_directory())
    first = read_directory(path).revision
    with (
        running_server(directory_config(path, tmp_path / "cache")) as address,
        Client(address, timeout=10) as client,
    ):
        answer = client.check(CLERK_TAKES_RECORD)
        policies, _, directory = answer.policy_revision.partition("+directory.")
        assert directory == first
        assert answer.decision is True, codes(answer)

        write_json(path, without_clerk(bundled_directory()))
        left = read_directory(path).revision
        wait_until(
            lambda: (
                client.check(CLERK_TAKES_RECORD).policy_revision == f"{policies}+directory.{left}"
            ),
            "the changed directory serves",
            WAIT,
        )
        answer = client.check(CLERK_TAKES_RECORD)
        assert answer.decision is False
        assert "office_not_held" in codes(answer)

        mistyped = without_clerk(bundled_directory())
        mistyped["procuratorates"]["PROC-CITY-A"]["clerks"]["clerk-A1"]["from"] = "last spring"
        write_json(path, mistyped)
        broken = f"{policies}+directory.{read_directory(path).revision}"
        wait_until(lambda: status(address).last_failed_revision == broken, "it is refused", WAIT)
        refused = status(address)
        assert refused.active_revision == f"{policies}+directory.{left}"
        assert refused.last_error.startswith("`quanze directory check` failed (exit 1):")
        assert "procuratorates.PROC-CITY-A.clerks.clerk-A1.from: 'last spring'" in (
            refused.last_error
        )
        assert client.check(CLERK_TAKES_RECORD).policy_revision == refused.active_revision
        health, details = health_with_details(address)
        assert health == health_pb2.HealthCheckResponse.SERVING
        assert details["quanze-policy-last-failed-revision"] == broken

        assert cli.main(["status", "--address", address]) == 0
        text = capsys.readouterr().out
    assert "source            bundled policies " in text
    assert f"directory source  file {path}\n" in text
    assert f"active revision   {policies}+directory.{left}\n" in text
    assert f"last refused      {broken}\n" in text
    assert "error             `quanze directory check` failed (exit 1):\n" in text
    assert "directory.json:" in text


class Events:
    """Every JSON log line a `quanze serve` process writes, read as it writes them."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[dict[str, Any]] = []
        assert process.stderr is not None
        stream = process.stderr
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        try:
            for line in stream:
                try:
                    self.lines.append(json.loads(line))
                except json.JSONDecodeError:
                    self.lines.append({"event": None, "text": line})  # e.g. a traceback
        except (OSError, ValueError):  # the pipe was closed under us: the process is gone
            pass

    def wait_closed(self) -> None:
        self._reader.join(10)

    def named(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in list(self.lines)
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
        ]

    def gates(self, command: str) -> int:
        return len(self.named("gate_command_finished", command=command))


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[str, Events, Path, Path]]:
    """Two workers serving trimmed policies (tests required) and a folder of directory files."""
    policies = trimmed_policies(tmp_path / "policies")
    directory = split_directory(bundled_directory(), tmp_path / "hr")
    with start(
        "--address", "127.0.0.1:0", "--workers", "2",
        "--policies", str(policies), "--directory", str(directory), "--poll-interval", "0.3",
        "--set", f"policies.cache_dir={tmp_path / 'cache'}",
        "--set", "policies.require_tests_pass=true",
        cwd=tmp_path,
    ) as process:  # fmt: skip
        events = Events(process)
        try:
            wait_until(lambda: bool(events.named("starting_workers")), "workers start", 30)
            address = events.named("starting_workers")[0]["address"]
            wait_serving(address, timeout=WAIT)
            yield address, events, policies, directory
        finally:
            stop(process)
            events.wait_closed()


def test_a_directory_change_reloads_every_worker_without_the_policy_tests(
    sidecar: tuple[str, Events, Path, Path],
) -> None:
    address, events, policies, directory = sidecar
    revision = content_revision(policies)
    with Client(address, timeout=10) as client:
        answer = client.check(CLERK_TAKES_RECORD)
    assert answer.policy_revision == f"{revision}+directory.{read_directory(directory).revision}"
    assert answer.decision is True, codes(answer)
    assert (events.gates("quanze policy check"), events.gates("quanze policy test")) == (1, 1)
    assert events.gates("quanze directory check") == 1

    (directory / "PROC-CITY-A.json").unlink()
    city = without_clerk(bundled_directory())["procuratorates"]["PROC-CITY-A"]
    write_json(directory / "PROC-CITY-A.json", {"procuratorates": {"PROC-CITY-A": city}})
    changed = f"{revision}+directory.{read_directory(directory).revision}"

    def every_worker_serves_it() -> bool:
        # A new connection each time: the kernel spreads them over both workers.
        answers = []
        for _ in range(6):
            with Client(address, timeout=10) as client:
                answers.append(client.check(CLERK_TAKES_RECORD))
        return all(a.policy_revision == changed for a in answers)

    wait_until(every_worker_serves_it, "both workers serve the changed directory", WAIT)
    with Client(address, timeout=10) as client:
        assert "office_not_held" in codes(client.check(CLERK_TAKES_RECORD))
    assert events.gates("quanze directory check") == 2
    assert (events.gates("quanze policy check"), events.gates("quanze policy test")) == (1, 1)
    assert events.named("gate_verdict_reused", part="policies", revision=revision)


def test_a_policy_change_checks_the_directory_against_the_new_policies(
    sidecar: tuple[str, Events, Path, Path],
) -> None:
    address, events, policies, directory = sidecar
    messages = policies / "quanze/messages/data.json"
    document = json.loads(messages.read_text())
    document["office_not_held"]["en"] += " [edited]"
    write_json(messages, document)
    changed = f"{content_revision(policies)}+directory.{read_directory(directory).revision}"
    wait_until(lambda: status(address).active_revision == changed, "the new policies serve", WAIT)
    assert (events.gates("quanze policy check"), events.gates("quanze policy test")) == (2, 2)
    assert events.gates("quanze directory check") == 2  # the same directory, new policies


def test_a_signed_directory_repository_serves_only_signed_commits(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    key, public, _ = ssh_key(keys, "hr")
    allowed = keys / "allowed_signers"
    allowed.write_text(f'hr@example.org namespaces="git" {public}\n')
    repo = DirectoryRepo(tmp_path / "hr", bundled_directory(), sign=ssh_signing(key))
    config = directory_config(
        repo.remote,
        tmp_path / "cache",
        subdir=DirectoryRepo.SUBDIR,
        require_signed_commits=True,
        allowed_signers_file=str(allowed),
    )
    with running_server(config) as address, Client(address, timeout=10) as client:
        answer = client.check(CLERK_TAKES_RECORD)
        policies, _, directory = answer.policy_revision.partition("+directory.")
        assert directory == repo.first == git("rev-parse", "main", cwd=repo.remote)
        assert answer.decision is True, codes(answer)
        assert status(address).policy_source.endswith(
            f"; directory git {repo.remote} branch main subdir directory"
        )

        tampered = without_clerk(bundled_directory())
        tampered["description"] = "Edited by someone without an allowed key"
        unsigned = repo.publish(tampered, "unsigned", signed=False)
        refused = f"{policies}+directory.{unsigned}"
        wait_until(lambda: status(address).last_failed_revision == refused, "refused", WAIT)
        assert "directory.require_signed_commits is on" in status(address).last_error
        assert client.check(CLERK_TAKES_RECORD).decision is True

        signed = repo.publish(without_clerk(bundled_directory()), "signed")
        wait_until(
            lambda: (
                client.check(CLERK_TAKES_RECORD).policy_revision == f"{policies}+directory.{signed}"
            ),
            "the signed commit serves",
            WAIT,
        )
        assert "office_not_held" in codes(client.check(CLERK_TAKES_RECORD))


def test_a_link_added_to_a_followed_folder_is_refused_and_the_last_revision_serves(
    tmp_path: Path,
) -> None:
    folder = split_directory(bundled_directory(), tmp_path / "hr")
    with (
        running_server(directory_config(folder, tmp_path / "cache")) as address,
        Client(address, timeout=10) as client,
    ):
        serving = client.check(CLERK_TAKES_RECORD)
        assert serving.decision is True, codes(serving)
        # The clerk's office, moved out of the folder and linked back in: refused, not followed.
        outside = write_json(tmp_path / "elsewhere.json", without_clerk(bundled_directory()))
        link = folder / "zz-override.json"
        link.symlink_to(outside)
        wait_until(lambda: bool(status(address).source_error), "the source fails", WAIT)
        refused = status(address)
        assert refused.source_error == (
            f"{link}: a symbolic link to {outside}; policy and directory files are read as "
            "regular files only, as a git source exports them: replace the link with the file "
            "it points to"
        )
        assert refused.active_revision == serving.policy_revision
        answer = client.check(CLERK_TAKES_RECORD)
        assert (answer.decision, answer.policy_revision) == (True, serving.policy_revision)
