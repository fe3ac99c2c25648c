"""A real PostgreSQL server for the tests: Debian's binaries, a cluster made in a temp dir.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user (Debian's
package creates it). The server listens on a free TCP port on 127.0.0.1 and on a Unix socket in
its own directory; authentication is `trust` (nothing else can reach either). Without the
binaries the tests fail — never skip — naming the package to install (`./scripts/bootstrap
--for-tests` installs it).

`PostgresServer` can be stopped and started again on the same port and data, for the tests that
take the database away mid-way.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Self

import psycopg

from tests.support import free_port

_INSTALL = "install Debian's postgresql package (./scripts/bootstrap --for-tests does)"


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL server binaries on this machine."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    if not candidates:
        found = shutil.which("initdb")
        if found is None:
            raise RuntimeError(
                f"no PostgreSQL server binaries (initdb) on this machine: {_INSTALL}"
            )
        return Path(found).resolve().parent
    return Path(candidates[-1]).parent


class PostgresServer:
    """One PostgreSQL cluster in a temp dir of its own (owned by `postgres` when run as root)."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        # Not under pytest's temp dir: its parents are private to root, and the `postgres` user
        # must reach the cluster.
        self.root = Path(tempfile.mkdtemp(prefix="quanze-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self._user = self._run_as()
        self.sockets.mkdir()
        if self._user is not None:
            for path in (self.root, self.sockets):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            # A test server: durability off (the tests stop it with `fast`, which flushes).
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        self.start()

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                f"as root, PostgreSQL needs the `postgres` user to own its cluster: {_INSTALL}"
            ) from None

    def _pg(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self._user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr}{log}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: disconnect everyone; `immediate`: like a crash)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"quanze_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def held_tips(url: str) -> dict[str, int]:
    """Each stream's last seq in the central store at `url` ({} while it cannot be reached)."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return dict(conn.execute("SELECT stream, last_seq FROM quanze.streams").fetchall())
    except psycopg.Error:
        return {}
