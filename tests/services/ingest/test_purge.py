"""Deleting a project answers at once and its rows are purged behind the call, in batches, by
the services that own them; a purge killed with SIGKILL is finished by the next one.

Runs on PostgreSQL and on SQLite (the one-machine store), each with a database of its own: the
purge runs as its own process (`python -m services.ingest.purge`), as a restarted service would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, Table, func, insert, select, update
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2

from services.auth.purge import UserPurge
from services.ingest import service
from services.ingest.events import PreparedEvent, prepare
from services.ingest.purge import PurgeJob
from services.ingest.server import build_host as ingest_host
from services.projects.purge import ProjectPurge
from services.projects.server import build_host as projects_host
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import (
    Event,
    EventKey,
    Incident,
    IncidentCommit,
    IngestKey,
    Project,
    Release,
    User,
)
from stackline_infra.db.types import utcnow
from tests.conftest import _fresh_database
from tests.support import factories
from tests.support.clocks import HANG_GUARD_SECONDS

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 3000
INCIDENTS = 30
BATCH = 100


@pytest.fixture(params=["postgresql", "sqlite"])
def database(
    request: pytest.FixtureRequest, postgres_admin_url: str, tmp_path: Path
) -> Iterator[str]:
    """The URL the service is given (postgresql://... or sqlite:///...), migrated to head."""
    if request.param == "postgresql":
        yield from _fresh_database(postgres_admin_url, "purge")
        return
    url = f"sqlite:///{tmp_path / 'stackline.db'}"
    command.upgrade(alembic_config(url), "head")
    yield url  # noqa: PT022 (a generator: the PostgreSQL branch has its teardown)


def _sync(url: str) -> Engine:
    return create_sync_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _table(model: type) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _fill(engine: Engine, login: str, *, deleted: bool) -> tuple[uuid.UUID, uuid.UUID]:
    """A user with one project holding EVENTS events over INCIDENTS incidents, a key and
    releases; marked deleted as DELETE /api/me leaves them when `deleted`."""
    now = utcnow()
    user_id, project_id = uuid.uuid4(), uuid.uuid4()
    incidents = [uuid.uuid4() for _ in range(INCIDENTS)]
    with engine.begin() as connection:
        connection.execute(
            insert(_table(User)),
            {"id": user_id, "provider": "local", "provider_user_id": login, "login": login},
        )
        connection.execute(
            insert(_table(Project)),
            {"id": project_id, "owner_id": user_id, "name": "Shop", "repo": f"{login}/shop"},
        )
        connection.execute(
            insert(_table(IngestKey)),
            {
                "project_id": project_id,
                "prefix": "slk_x",
                "key_hash": uuid.uuid4().bytes * 2,
                "public_key": uuid.uuid4().hex,
            },
        )
        connection.execute(
            insert(_table(Release)),
            [
                {"project_id": project_id, "version": f"v{n}", "commit_sha": "a" * 40}
                for n in range(250)
            ],
        )
        connection.execute(
            insert(_table(Incident)),
            [
                {
                    "id": incident,
                    "project_id": project_id,
                    "fingerprint": f"f{n}",
                    "grouping_version": 2,
                    "title": "TypeError in a.js:1",
                    "exception_type": "TypeError",
                    "message": "x",
                    "first_seen": now,
                    "last_seen": now,
                    "count": EVENTS // INCIDENTS,
                }
                for n, incident in enumerate(incidents)
            ],
        )
        connection.execute(
            insert(_table(IncidentCommit)),
            [
                {
                    "incident_id": incident,
                    "commit_sha": "a" * 40,
                    "environment": "production",
                    "count": 1,
                    "first_seen": now,
                    "last_seen": now,
                }
                for incident in incidents
            ],
        )
        events = [
            (uuid.uuid4(), incidents[n % INCIDENTS], now - timedelta(seconds=n))
            for n in range(EVENTS)
        ]
        connection.execute(
            insert(_table(EventKey)),
            [{"project_id": project_id, "event_id": e, "received_at": t} for e, _, t in events],
        )
        connection.execute(
            insert(_table(Event)),
            [
                {
                    "project_id": project_id,
                    "incident_id": incident,
                    "event_id": event_id,
                    "occurred_at": when,
                    "received_at": when,
                    "platform": "node",
                    "exception_type": "TypeError",
                    "message": "x",
                    "raw_stack": "TypeError: x",
                    "frames": [],
                    "causes": [],
                    "context": {},
                }
                for event_id, incident, when in events
            ],
        )
        if deleted:
            connection.execute(
                update(_table(User)).where(User.id == user_id).values(deleted_at=now)
            )
            connection.execute(
                update(_table(Project)).where(Project.id == project_id).values(deleted_at=now)
            )
    return user_id, project_id


def _counts(engine: Engine, project_id: uuid.UUID) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            model.__tablename__: connection.execute(
                select(func.count()).select_from(_table(model)).where(column == project_id)
            ).scalar_one()
            for model, column in (
                (EventKey, EventKey.project_id),
                (Event, Event.project_id),
                (Incident, Incident.project_id),
                (Release, Release.project_id),
                (IngestKey, IngestKey.project_id),
                (Project, Project.id),
            )
        }


def _purge_command(url: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STACKLINE_RETENTION_BATCH_SIZE": str(BATCH),
        "STACKLINE_LOG_LEVEL": "DEBUG",
        "STACKLINE_LOG_FORMAT": "text",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.ingest.purge"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


async def _finish(url: str) -> tuple[int, int]:
    """ProjectsService's and AuthService's parts of the purge, as their services run them."""
    engine = create_engine(
        url.replace("sqlite://", "sqlite+aiosqlite://", 1).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    )
    try:
        sessions = create_sessionmaker(engine)
        projects = await ProjectPurge(sessions, batch_size=BATCH).run()
        return projects, await UserPurge(sessions).run()
    finally:
        await engine.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_a_purge_killed_midway_is_finished_by_the_next(database: str) -> None:
    engine = _sync(database)
    try:
        _, deleted = _fill(engine, "gone", deleted=True)
        kept_user, kept = _fill(engine, "kept", deleted=False)
        full = _counts(engine, kept)

        # The project's row cannot go while IngestService still holds its rows.
        assert asyncio.run(_finish(database)) == (0, 0)
        assert _counts(engine, deleted)["projects"] == 1

        first = _purge_command(database)
        try:
            assert first.stderr is not None
            for line in first.stderr:
                # Logged after its batch committed: the kill lands in the middle of the purge.
                if f"purge removed {BATCH} events" in line:
                    first.send_signal(signal.SIGKILL)
                    break
            first.wait(HANG_GUARD_SECONDS)
        finally:
            first.kill()
        assert first.returncode == -signal.SIGKILL
        halfway = _counts(engine, deleted)
        assert 0 < halfway["events"] <= EVENTS - BATCH
        assert halfway["incidents"] == INCIDENTS

        second = _purge_command(database)
        _, log = second.communicate(timeout=HANG_GUARD_SECONDS)
        assert second.returncode == 0, log
        assert (
            f"purge of 1 deleted projects removed {halfway['events']} events, {INCIDENTS}"
            " incidents" in log
        )
        assert asyncio.run(_finish(database)) == (1, 1)

        assert _counts(engine, deleted) == dict.fromkeys(full, 0)
        with engine.connect() as connection:
            assert (
                connection.execute(
                    select(func.count()).select_from(_table(IncidentCommit))
                ).scalar_one()
                == INCIDENTS
            )  # the kept project's, every one
            users = connection.execute(select(User.id)).scalars().all()
        # The other account and its project were never touched.
        assert users == [kept_user]
        assert _counts(engine, kept) == full
    finally:
        engine.dispose()


class _ObservedPurge(ProjectPurge):
    """ProjectsService's purge, telling the test when it has removed one project's row (other
    tests' deleted projects share the database, so any removal is not enough)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], project_id: uuid.UUID) -> None:
        super().__init__(sessions)
        self._observed = sessions
        self._project_id = project_id
        self.removed = asyncio.Event()

    async def run(self) -> int:
        removed = await super().run()
        async with self._observed() as session:
            if await session.get(Project, self._project_id) is None:
                self.removed.set()
        return removed


async def test_the_services_purge_on_their_own_schedule(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        owner = await factories.user(session)
        project = await factories.project(session, owner.id)
        project_id = project.id
    async with sessions.begin() as session:
        await service.store(session, [_event(project_id)], utcnow())
        await session.execute(
            update(Project).where(Project.id == project_id).values(deleted_at=utcnow())
        )

    observed = _ObservedPurge(sessions, project_id)
    hosts = [
        ingest_host(engine, purge=PurgeJob(sessions), purge_interval_seconds=0.05),
        projects_host(engine, purge=observed, purge_interval_seconds=0.05),
    ]
    for host in hosts:
        host.bind("127.0.0.1:0")
        await host.start()
    try:
        await asyncio.wait_for(observed.removed.wait(), HANG_GUARD_SECONDS)
    finally:
        for host in hosts:
            await host.stop(grace=1)
    async with sessions() as session:
        for column in (Project.id, Event.project_id, Incident.project_id, EventKey.project_id):
            assert await session.scalar(select(func.count()).where(column == project_id)) == 0


def _event(project_id: uuid.UUID) -> PreparedEvent:
    now = utcnow()
    stack = "TypeError: boom\n    at getUser (/var/task/src/users.js:42:17)"
    proto = ingest_pb2.Event(
        project_id=str(project_id),
        event_id=str(uuid.uuid4()),
        platform="node",
        deploy_root="/var/task",
        exception=ingest_pb2.ExceptionInfo(type="TypeError", message="boom", stack=stack),
    )
    proto.timestamp.FromDatetime(now)
    return prepare(proto, now)
