"""A throwaway PostgreSQL server for tests: Debian's `postgresql` package, started here, on loopback.

Debian's server rather than the `pgserver` wheel: it is the maintained build operators run in
production (the wheel bundles its own binaries and was last released in 2024), `apt-get install
postgresql` is one line in CI (`.ci/run` installs it when missing), and the same binaries serve
the test and a VM deployment. PostgreSQL refuses to run as root, so as root (CI) the server runs
as the package's `postgres` user. Password authentication over TCP, as a deployment uses it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_pipeline.sandbox.server import free_port

USER = "dagster"
PASSWORD = "test-only-password"  # a throwaway server on 127.0.0.1 that the test deletes
DATABASE = "dagster"
INSTALL_HINT = "apt-get install -y postgresql (make system-packages does it)"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its connection from."""
        return {
            "DAGSTER_POSTGRES_HOST": self.host,
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": USER,
            "DAGSTER_POSTGRES_PASSWORD": PASSWORD,
            "DAGSTER_POSTGRES_DB": DATABASE,
        }


def server_bin_dir() -> Path | None:
    """The newest server Debian installed (/usr/lib/postgresql/<major>/bin)."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "postgres").exists()]
    return max(found, key=lambda p: int(p.parent.name), default=None)


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    bindir = server_bin_dir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL server binaries not found; CI must install them: {INSTALL_HINT}")
        pytest.skip(f"PostgreSQL server not installed: {INSTALL_HINT}")
    # Under /tmp, not pytest's tmp_path: the server user must be able to reach it when we are root.
    root = Path(tempfile.mkdtemp(prefix="sync-pg-"))
    data, socket_dir = root / "data", root / "sock"
    socket_dir.mkdir()
    password_file = root / "pw"
    password_file.write_text(PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for path in (socket_dir, password_file):
            shutil.chown(path, "postgres")
    port = free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={password_file}"]
    initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True, timeout=120)
    log = open(root / "server.log", "wb")  # noqa: SIM115 (handed to the server, closed below)
    server = subprocess.Popen(
        _as_server_user(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(socket_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",  # a test database: durability is not what is under test
                "-c",
                "max_connections=200",  # webserver, daemon, two code servers and their runs
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        ready = [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", USER]
        while subprocess.run(ready, capture_output=True, check=False).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start:\n" + (root / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        create = [str(bindir / "createdb"), "-h", str(socket_dir), "-p", str(port), "-U", USER, DATABASE]
        subprocess.run(_as_server_user(create), check=True, capture_output=True, timeout=60)
        yield Postgres("127.0.0.1", port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
