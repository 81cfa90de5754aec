"""The opt-in read engine: single statements without BEGIN, COMMIT or a ping, and a read that
meets a connection the database dropped is run again on a new one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from stackline_infra.db.engine import create_engine, create_read_engine, read


async def _backend_pid(connection: AsyncConnection) -> int:
    pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def test_a_read_on_a_connection_the_database_dropped_runs_again(database_url: str) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    reads = create_read_engine(url, pool_size=1)
    admin = create_engine(url, pool_size=1)
    try:
        first = await read(reads, _backend_pid)
        # What a restarted database does to every pooled connection.
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        second = await read(reads, _backend_pid)
        assert second != first
        assert await read(reads, _backend_pid) == second
    finally:
        await reads.dispose()
        await admin.dispose()


async def test_a_refused_statement_is_not_run_again(database_url: str) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    reads = create_read_engine(url, pool_size=1)
    runs = 0

    async def refused(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await connection.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(ProgrammingError):
            await read(reads, refused)
        assert runs == 1
    finally:
        await reads.dispose()


async def test_on_postgresql_each_statement_commits_on_its_own(database_url: str) -> None:
    reads = create_read_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))

    async def in_transaction(connection: AsyncConnection) -> bool:
        await connection.execute(text("SELECT 1"))
        raw = await connection.get_raw_connection()
        status = raw.driver_connection.info.transaction_status  # type: ignore[union-attr]
        return bool(status != 0)

    try:
        assert not await read(reads, in_transaction)
    finally:
        await reads.dispose()


async def test_an_sqlite_read_does_not_wait_for_another_writer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'stackline.db'}"
    writes = create_engine(url)
    reads = create_read_engine(url)
    try:
        async with writes.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (1)"))

        async def count(connection: AsyncConnection) -> int:
            found: int = (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one()
            return found

        # A writer holds the write lock (BEGIN IMMEDIATE) while the read runs: a deferred read
        # sees the last commit at once, where an immediate one would wait the busy timeout.
        async with writes.begin() as writer:
            await writer.execute(text("INSERT INTO t VALUES (2)"))
            assert await read(reads, count) == 1
        assert await read(reads, count) == 2
    finally:
        await reads.dispose()
        await writes.dispose()
