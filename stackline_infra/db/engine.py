"""Engines and sessions for PostgreSQL (psycopg 3) and SQLite (aiosqlite)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from stackline_infra.db.types import json_dumps

# How long an SQLite writer waits for another process's write lock.
_SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url)
    return create_async_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=pool_size,
        # A connection that died with a restarted database is replaced, not handed out.
        pool_pre_ping=pre_ping,
        pool_timeout=5,
        connect_args={"connect_timeout": 5, "application_name": "stackline"},
    )


def create_read_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """Opt-in, for pure reads through `read`: on PostgreSQL each statement commits on its own
    (autocommit: no BEGIN, no COMMIT) and a pooled connection is not pinged at checkout, so a
    one-statement read is one round trip instead of four. A connection that died with a
    restarted database fails its statement; `read` then runs the read again on a new one.

    Each statement sees its own snapshot, as under the default READ COMMITTED: code that needs
    two statements to agree must not use it. On SQLite a read takes a deferred transaction,
    which never waits for another process's write lock.
    """
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url, begin="BEGIN")
    return create_async_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        isolation_level="AUTOCOMMIT",
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_timeout=5,
        connect_args={"connect_timeout": 5, "application_name": "stackline"},
    )


Result = TypeVar("Result")


async def read(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[Result]]) -> Result:
    """`work` on a connection of a `create_read_engine` engine, run once more on a new
    connection if the first was found dead (a pure read is safe to repeat). The failed
    statement invalidated the whole pool, so the second try does not meet another dead one."""
    try:
        async with engine.connect() as connection:
            return await work(connection)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    async with engine.connect() as connection:
        return await work(connection)


def _create_sqlite_engine(url: str, *, begin: str = "BEGIN IMMEDIATE") -> AsyncEngine:
    engine = create_async_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so that BEGIN below
        # is the only one issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Several service processes share the file. A deferred transaction that
        # reads and then writes fails at once with "database is locked" when
        # another process holds the write lock; IMMEDIATE waits for it instead.
        connection.exec_driver_sql(begin)

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def is_connection_error(exc: BaseException) -> bool:
    """True when the database could not be reached, as opposed to refusing a statement.

    OperationalError is what psycopg raises for a refused or lost connection
    and sqlite3 for a lock held past busy_timeout; the pool raises its own
    TimeoutError when no connection frees up in time.
    """
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
