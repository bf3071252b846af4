"""A private PostgreSQL server for the tests: `initdb` in a temp dir, a free loopback port.

Never a mock and never the system cluster: the `postgres_url` fixture starts its own server
from Debian's `postgresql` binaries (as the `postgres` OS user when we are root, as CI is), and
stops it at the end of the session. Without the binaries the tests that need it are skipped,
except under CI=true, where that is a failure (CI must install `postgresql`).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .ports import free_port

__all__ = ["PrivatePostgres", "fresh_database", "postgres_url"]

_USER = "postgres"


def _bindir() -> Path | None:
    """The newest Debian PostgreSQL bin dir, else one on PATH; `LINKATLAS_PG_BINDIR` wins."""
    chosen = os.environ.get("LINKATLAS_PG_BINDIR")
    if chosen:
        return Path(chosen)

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path))

    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(found) / "initdb").exists() and (Path(found) / "pg_ctl").exists():
            return Path(found)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None




class PrivatePostgres:
    """One throwaway server: data, socket and log all under one temp dir."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="linkatlas-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        # PostgreSQL refuses to run as root: run it as the `postgres` OS user then.
        self._as: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root, and runuser is missing")
            self._as = [runuser, "-u", _USER, "--"]
            shutil.chown(self.root, user=_USER)

    def _run(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, env=env,
                              cwd=self.root, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}{log}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", _USER, "-A", "trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        for attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                       " -c max_connections=300")
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                          "-w", "-t", "60", "-o", options, "start")
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{database}"


def fresh_database(url: str, name: str) -> str:
    """Create the empty database `name` on the server of `url`; its URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


_shared: list[tuple[PrivatePostgres, str]] = []
_users = 0


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of an empty database `linkatlas` on a private server for this session.

    One server per test process, even if several modules (or conftest.py) import this fixture.
    """
    global _users
    bindir = _bindir()
    if bindir is None:
        message = "PostgreSQL binaries not found: apt-get install -y postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if not _shared:
        server = PrivatePostgres(bindir)
        try:
            server.start()
            _shared.append((server, fresh_database(server.url(), "linkatlas")))
        except BaseException:
            server.stop()
            raise
    _users += 1
    try:
        yield _shared[0][1]
    finally:
        _users -= 1
        if _users == 0:
            _shared.pop()[0].stop()
