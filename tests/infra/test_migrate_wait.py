"""`python -m stackline_infra.db wait`, what a pod runs before it serves: it lets a version
start only once the migrations Job has brought the database to that version's newest head."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support import postgres
from tests.support.local_stack import ROOT


@pytest.fixture
def empty_database(postgres_admin_url: str) -> Iterator[str]:
    name = f"stackline_wait_{secrets.token_hex(4)}"
    url = postgres.create_database(postgres_admin_url, name)
    try:
        yield url
    finally:
        postgres.drop_database(postgres_admin_url, name)


def _db(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackline_infra.db", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_wait_refuses_an_unmigrated_database_and_passes_a_migrated_one(
    empty_database: str,
) -> None:
    before = _db(empty_database, "wait", "--timeout", "0")
    assert before.returncode == 1
    assert "has the migrations Job run?" in before.stderr

    assert _db(empty_database, "upgrade").returncode == 0
    after = _db(empty_database, "wait", "--timeout", "0")
    assert after.returncode == 0, after.stderr


def test_wait_gives_up_on_a_database_it_cannot_reach() -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/none"
    refused = _db(unreachable, "wait", "--timeout", "0")
    assert refused.returncode == 1
    assert "not reachable" in refused.stderr
