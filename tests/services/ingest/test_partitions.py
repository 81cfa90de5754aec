"""PostgreSQL's weekly partitions of events: made by migration 0005 around the events a database
already holds, made ahead and dropped whole by the retention job as an injected clock moves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.retention import WEEKS_AHEAD, RetentionJob
from stackline_infra.db import partitions
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.types import utcnow
from tests.conftest import _fresh_database
from tests.support.clocks import FakeWallClock

DAY = 24 * 3600

_FILL = """
    INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
        VALUES (:user, 'local', 'octocat', 'octocat', now(), now());
    INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
        VALUES (:project, :user, 'Shop', 'octo/shop', 14, now(), now());
    INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
            exception_type, message, first_seen, last_seen, count, created_at)
        VALUES (:incident, :project, 'f1', 2, 'open', 'TypeError in a.js:1', 'TypeError', 'x',
            now() - interval '50 days', now(), 3, now());
    INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at,
            platform, exception_type, message, raw_stack, frames, context)
        SELECT gen_random_uuid(), :project, :incident, gen_random_uuid(), now() - ago, now() - ago,
            'node', 'TypeError', 'x', 'TypeError: x', '[]', '{}'
        FROM unnest(ARRAY[interval '50 days', interval '20 days', interval '1 minute']) AS ago
"""


@pytest.fixture
def database(postgres_admin_url: str) -> Iterator[str]:
    yield from _fresh_database(postgres_admin_url, "partitions")


def _fill_before_0005(database: str) -> None:
    """Take the database back to 0004, store three events (50 days, 20 days and a minute old)
    there, and migrate it to the head again."""
    sync = create_sync_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        command.downgrade(alembic_config(database), "0004")
        with sync.begin() as connection:
            ids = {"user": uuid.uuid4(), "project": uuid.uuid4(), "incident": uuid.uuid4()}
            for statement in filter(str.strip, _FILL.split(";")):
                connection.execute(text(statement), ids)
        command.upgrade(alembic_config(database), "head")
    finally:
        sync.dispose()


@pytest.fixture
def filled(database: str) -> str:
    _fill_before_0005(database)
    return database


@pytest.fixture
async def engine_at_head(filled: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(filled.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    await engine.dispose()


async def _rows_by_partition(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1")
        )
        return {name: count for name, count in rows}


async def _partition_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'events'::regclass"
            )
        )
        return {name for (name,) in rows}


async def test_0005_puts_the_events_a_database_holds_in_their_weeks(
    engine_at_head: AsyncEngine,
) -> None:
    now = utcnow()
    by_partition = await _rows_by_partition(engine_at_head)
    expected: dict[str, int] = {}
    for ago in (timedelta(days=50), timedelta(days=20), timedelta(minutes=1)):
        name = partitions.name_of(partitions.week_of(now - ago))
        expected[name] = expected.get(name, 0) + 1
    assert by_partition == expected, "each event in the partition of the week it was received"
    names = await _partition_names(engine_at_head)
    assert partitions.DEFAULT_PARTITION in names
    # Every week from the oldest event's to four weeks ahead.
    oldest = partitions.week_of(now - timedelta(days=50))
    ahead = partitions.week_of(now + timedelta(weeks=4))
    assert {partitions.name_of(w) for w in partitions.weeks_between(oldest, ahead)} <= names
    async with engine_at_head.connect() as connection:
        keys = await connection.execute(text("SELECT count(*) FROM event_keys"))
        assert keys.scalar_one() == 3


async def test_weeks_past_every_projects_retention_are_dropped_whole(
    engine_at_head: AsyncEngine,
) -> None:
    clock = FakeWallClock()
    job = RetentionJob(create_sessionmaker(engine_at_head), clock=clock)
    report = await job.run()

    # The only project keeps 14 days: the week of the 50-day-old event goes whole, and the
    # 20-day-old event, in a week that also holds days still kept, goes by a batched delete.
    old_week = partitions.name_of(partitions.week_of(clock() - timedelta(days=50)))
    assert old_week not in await _partition_names(engine_at_head)
    assert report.partitions_dropped >= 1
    assert report.removed["events"] in (0, 1)  # 0 when its week was dropped whole too
    assert sum((await _rows_by_partition(engine_at_head)).values()) == 1

    # Two months on, the week of today is past keeping too; weeks ahead of then are made.
    clock.advance(60 * DAY)
    report = await job.run()
    names = await _partition_names(engine_at_head)
    assert partitions.name_of(partitions.week_of(utcnow())) not in names
    for week in partitions.weeks_between(clock(), clock() + WEEKS_AHEAD * partitions.WEEK):
        assert partitions.name_of(week) in names
    assert await _rows_by_partition(engine_at_head) == {}
    async with engine_at_head.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM event_keys"))).scalar_one() == 0
        assert (await connection.execute(text("SELECT count(*) FROM incidents"))).scalar_one() == 0


def test_0005_goes_back_with_the_events(filled: str) -> None:
    command.downgrade(alembic_config(filled), "0004")
    sync = create_sync_engine(filled.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with sync.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 3
            kind = connection.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'events'")
            ).scalar_one()
            assert kind == "r", "a plain table again"
    finally:
        sync.dispose()
