"""Finds the PostgreSQL the tests run against, or starts a throwaway one.

In order: STACKLINE_TEST_POSTGRES_URL; a server on 127.0.0.1:5432 or the
local socket; a private cluster made with this machine's initdb in
.stackline/test-postgres. With none of these the run stops and says how to get one.
"""

from __future__ import annotations

import atexit
import getpass
import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) + sorted(
        glob.glob(f"/opt/homebrew/opt/postgresql*/bin/{name}")
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_private_cluster() -> str | None:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    # initdb refuses to run as root; root machines (CI) run a system server.
    if initdb is None or pg_ctl is None or os.geteuid() == 0:
        return None
    data = ROOT / ".stackline" / "test-postgres"
    if data.exists():
        shutil.rmtree(data)
    data.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    subprocess.run(
        [
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(data / "server.log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
        ],
        check=True,
        capture_output=True,
    )
    atexit.register(
        lambda: subprocess.run(
            [pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, check=False
        )
    )
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def admin_url() -> str:
    """A URL to the `postgres` database with rights to create databases."""
    configured = os.environ.get("STACKLINE_TEST_POSTGRES_URL")
    if configured:
        return configured
    for candidate in (
        "postgresql://postgres@127.0.0.1:5432/postgres",
        f"postgresql://{getpass.getuser()}@127.0.0.1:5432/postgres",
        "postgresql:///postgres",
    ):
        if _reachable(candidate):
            return candidate
    started = _start_private_cluster()
    if started:
        return started
    raise RuntimeError(
        "The tests need PostgreSQL 14 or newer. Start one on 127.0.0.1:5432"
        " (user postgres, trust auth), install it so that `initdb` is on PATH"
        " (apt install postgresql / brew install postgresql), or set STACKLINE_TEST_POSTGRES_URL."
    )


def create_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
