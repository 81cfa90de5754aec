"""Retention: time moves on an injected clock and the job removes exactly what is past keeping.

Every scenario runs on PostgreSQL and on SQLite (the one-machine store). A run cut by SIGKILL is
finished by the next one, as a Kubernetes CronJob would run it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from prometheus_client import REGISTRY
from sqlalchemy import ColumnElement, func, insert, select, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2

from services.ingest import retention, service
from services.ingest.events import PreparedEvent, prepare
from services.ingest.retention import RetentionJob
from services.ingest.server import build_host
from stackline_infra.db.engine import create_engine
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import AuditEntry, Event, Incident, IncidentCommit, Project
from stackline_infra.db.types import new_id
from tests.conftest import _fresh_database
from tests.support import factories
from tests.support.clocks import HANG_GUARD_SECONDS, FakeWallClock

ROOT = Path(__file__).resolve().parents[3]
DAY = 24 * 3600


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite file built by the real migrations, as `make run` builds it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('retention') / 'stackline.db'}"
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
async def engine(
    request: pytest.FixtureRequest, engine: AsyncEngine, sqlite_url: str
) -> AsyncIterator[AsyncEngine]:
    """PostgreSQL's engine, then an SQLite one; the session fixture, and every test, follows."""
    if request.param == "postgresql":
        yield engine
        return
    sqlite = create_engine(sqlite_url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    yield sqlite
    await sqlite.dispose()


@pytest.fixture
def sessions(session: AsyncSession) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test's connection: each job transaction is a savepoint of the test's,
    rolled back with it."""
    return async_sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def _event(
    project_id: uuid.UUID, when: datetime, *, error_type: str = "TypeError"
) -> PreparedEvent:
    stack = f"{error_type}: boom\n    at getUser (/var/task/src/users.js:42:17)"
    proto = ingest_pb2.Event(
        project_id=str(project_id),
        event_id=str(uuid.uuid4()),
        platform="node",
        deploy_root="/var/task",
        commit_sha="a" * 40,
        environment="production",
        exception=ingest_pb2.ExceptionInfo(type=error_type, message="boom", stack=stack),
    )
    proto.timestamp.FromDatetime(when)
    return prepare(proto, when)


async def _ingest(session: AsyncSession, events: list[PreparedEvent], when: datetime) -> None:
    results = await service.store(session, events, when)
    assert None not in results


async def _count(session: AsyncSession, model: type, where: ColumnElement[bool]) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(where)) or 0


async def _project(session: AsyncSession, retention_days: int) -> Project:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    project.retention_days = retention_days
    await session.flush()
    return project


async def test_events_past_their_projects_retention_go_and_their_incidents_with_them(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock = FakeWallClock()
    short = await _project(session, retention_days=30)
    long = await _project(session, retention_days=90)
    start = clock()
    # Day 0: a bug seen once (it will run out) and a bug that keeps happening.
    await _ingest(session, [_event(short.id, start, error_type="OnceError")], start)
    await _ingest(session, [_event(short.id, start), _event(long.id, start)], start)
    clock.advance(20 * DAY)
    await _ingest(session, [_event(short.id, clock())], clock())
    clock.advance(15 * DAY)  # day 35: day 0 is past 30 days, not past 90

    job = RetentionJob(sessions, batch_size=1, clock=clock)
    report = await job.run()

    # The database is shared with other tests: what they stored ages too, so the report counts
    # at least what this test's projects lost.
    assert report.removed["events"] >= 2
    assert report.removed["incidents"] >= 1
    incidents = {
        i.exception_type: i
        for i in await session.scalars(select(Incident).where(Incident.project_id == short.id))
    }
    assert set(incidents) == {"TypeError"}, "the bug with no event left is gone"
    assert await _count(session, Event, Event.project_id == short.id) == 1
    assert await _count(session, Event, Event.project_id == long.id) == 1
    # The per-commit counts went with the incident they counted.
    orphans = IncidentCommit.incident_id.not_in(select(Incident.id))
    assert await _count(session, IncidentCommit, orphans) == 0

    clock.advance(60 * DAY)  # day 95: everything of both projects is past keeping
    await job.run()
    mine = [short.id, long.id]
    assert await _count(session, Event, Event.project_id.in_(mine)) == 0
    assert await _count(session, Incident, Incident.project_id.in_(mine)) == 0

    again = await job.run()
    assert again.removed == {"events": 0, "incidents": 0, "audit_log": 0}


async def test_audit_entries_are_kept_a_year(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock = FakeWallClock()
    project = await _project(session, retention_days=90)
    ages = {"old": 366, "recent": 364}
    for action, days in ages.items():
        await session.execute(
            insert(AuditEntry).values(
                id=new_id(),
                occurred_at=clock() - timedelta(days=days),
                action=f"test.{action}",
                project_id=project.id,
                details={},
            )
        )
    report = await RetentionJob(sessions, clock=clock).run()
    assert report.removed["audit_log"] >= 1
    actions = set(
        await session.scalars(select(AuditEntry.action).where(AuditEntry.project_id == project.id))
    )
    assert actions == {"test.recent"}


async def test_a_run_is_counted_in_the_metrics(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock = FakeWallClock()
    project = await _project(session, retention_days=1)
    await _ingest(session, [_event(project.id, clock()) for _ in range(3)], clock())
    clock.advance(2 * DAY)

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    events_before = sample("stackline_ingest_retention_rows_removed_total", table="events")
    runs_before = sample("stackline_ingest_retention_runs_total", outcome="success")
    await RetentionJob(sessions, clock=clock).run()
    removed = sample("stackline_ingest_retention_rows_removed_total", table="events")
    assert removed - events_before == 3
    assert sample("stackline_ingest_retention_runs_total", outcome="success") == runs_before + 1
    assert sample("stackline_ingest_retention_last_success_timestamp_seconds") > 0
    assert sample("stackline_ingest_retention_run_duration_seconds_count") >= 1


class _Observed(RetentionJob):
    """The real job, telling the test when a run has finished."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.finished = asyncio.Event()

    async def run(self) -> retention.RetentionReport:
        report = await super().run()
        self.finished.set()
        return report


async def test_the_service_runs_the_job_on_its_schedule(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    clock = FakeWallClock()
    project = await _project(session, retention_days=1)
    await _ingest(session, [_event(project.id, clock())], clock())
    clock.advance(2 * DAY)
    job = _Observed(sessions, clock=clock)
    host = build_host(engine, retention=job, retention_interval_seconds=3600)
    host.bind("127.0.0.1:0")
    await host.start()
    try:
        await asyncio.wait_for(job.finished.wait(), HANG_GUARD_SECONDS)
    finally:
        await host.stop(grace=1)
    assert await _count(session, Event, Event.project_id == project.id) == 0


# The crash test runs the CronJob command as its own process on a database of its own.


@pytest.fixture
def crash_database(postgres_admin_url: str) -> Iterator[str]:
    yield from _fresh_database(postgres_admin_url, "retention")


_FILL = """
    INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
        VALUES (:user, 'local', 'octocat', 'octocat', now(), now());
    INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
        VALUES (:project, :user, 'Shop', 'octo/shop', 30, now(), now());
    INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
            exception_type, message, first_seen, last_seen, count, created_at)
        VALUES (:incident, :project, 'f1', 2, 'open', 'TypeError in a.js:1', 'TypeError', 'x',
            now() - interval '40 days', now(), 3000, now());
    INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at,
            platform, exception_type, message, raw_stack, frames, context)
        SELECT gen_random_uuid(), :project, :incident, gen_random_uuid(),
            now() - interval '40 days', now() - interval '40 days' + n * interval '1 second',
            'node', 'TypeError', 'x', 'TypeError: x', '[]', '{}'
        FROM generate_series(1, :old) AS n;
    INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at,
            platform, exception_type, message, raw_stack, frames, context)
        SELECT gen_random_uuid(), :project, :incident, gen_random_uuid(), now(), now(),
            'node', 'TypeError', 'x', 'TypeError: x', '[]', '{}'
        FROM generate_series(1, 5) AS n
"""
OLD_EVENTS = 3000


def _run_command(url: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STACKLINE_RETENTION_BATCH_SIZE": "100",
        "STACKLINE_LOG_LEVEL": "DEBUG",
        "STACKLINE_LOG_FORMAT": "text",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.ingest.retention"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def test_a_run_killed_midway_is_finished_by_the_next(crash_database: str) -> None:
    sync = create_sync_engine(crash_database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with sync.begin() as connection:
            ids = {"user": uuid.uuid4(), "project": uuid.uuid4(), "incident": uuid.uuid4()}
            for statement in filter(str.strip, _FILL.split(";")):
                connection.execute(text(statement), {**ids, "old": OLD_EVENTS})

        first = _run_command(crash_database)
        try:
            assert first.stderr is not None
            for line in first.stderr:
                # Logged after its batch committed: the kill lands in the middle of the run.
                if "retention removed 100 events" in line:
                    first.send_signal(signal.SIGKILL)
                    break
            first.wait(HANG_GUARD_SECONDS)
        finally:
            first.kill()
        assert first.returncode == -signal.SIGKILL
        with sync.connect() as connection:
            left = connection.execute(text("SELECT count(*) FROM events")).scalar_one()
        assert 5 <= left <= OLD_EVENTS + 5 - 100

        second = _run_command(crash_database)
        _, log = second.communicate(timeout=HANG_GUARD_SECONDS)
        assert second.returncode == 0, log
        assert f"retention run removed {left - 5} events, 0 incidents" in log
        with sync.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 5
            assert connection.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 1
    finally:
        sync.dispose()
