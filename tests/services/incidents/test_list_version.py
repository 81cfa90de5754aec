"""The incident list's version (the ETag of GET /api/incidents): it changes with every change
that changes the page, and with nothing else; an unchanged poll is answered without the list.

Every change is made by the code that makes it in production (ingest's store, IncidentsService's
triage, the retention job), each in its own committed transaction, since the version is raised
by database triggers at commit. Runs on PostgreSQL and on SQLite, each a database of its own so
that the retention job's clock touches no other test's rows.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from psycopg import pq
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2

from services.incidents import service
from services.ingest import service as ingest
from services.ingest.events import PreparedEvent, prepare
from services.ingest.retention import RetentionJob
from stackline_infra.db.engine import create_engine, create_read_engine, read
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import IncidentCommit, IncidentVersion, Project
from stackline_infra.errors import NotFound
from stackline_infra.identity import Caller
from tests.conftest import _fresh_database
from tests.support import factories
from tests.support.clocks import HANG_GUARD_SECONDS, FakeWallClock

WEB = "https://github.com"
DAY = 24 * 3600
REPO = "Octo/Polled"


@pytest.fixture(scope="module")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    yield from _fresh_database(postgres_admin_url, "listversion")


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path) -> str:
    """The async driver's URL of a database built by the real migrations."""
    if request.param == "postgresql":
        return postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"sqlite:///{tmp_path / 'stackline.db'}"
    command.upgrade(alembic_config(url), "head")
    return url.replace("sqlite://", "sqlite+aiosqlite://", 1)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = create_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def reads(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The engine IncidentsService reads the list through (each statement on its own)."""
    engine = create_read_engine(database_url)
    yield engine
    await engine.dispose()


def _event(
    project_id: uuid.UUID, when: datetime, error_type: str, event_id: uuid.UUID | None = None
) -> PreparedEvent:
    stack = f"{error_type}: boom\n    at getUser (/var/task/src/users.js:42:17)"
    proto = ingest_pb2.Event(
        project_id=str(project_id),
        event_id=str(event_id or uuid.uuid4()),
        platform="node",
        deploy_root="/var/task",
        commit_sha="a" * 40,
        environment="production",
        exception=ingest_pb2.ExceptionInfo(type=error_type, message="boom", stack=stack),
    )
    proto.timestamp.FromDatetime(when)
    return prepare(proto, when)


class Poller:
    """The list as an editor polls it (every status, first page), read as IncidentsService
    reads it: the version and what the page shows."""

    def __init__(self, reads: AsyncEngine, caller: Caller) -> None:
        self.reads = reads
        self.caller = caller

    async def page(self, *, known: tuple[str, ...] = ()) -> service.Page:
        async def list_page(connection: AsyncConnection) -> service.Page:
            return await service.list_incidents(
                connection,
                self.caller,
                repo=REPO.lower(),
                status=None,
                page_size=0,
                cursor="",
                github_web_url=WEB,
                known_versions=known,
            )

        return await read(self.reads, list_page)

    async def look(self) -> tuple[str, list[tuple[object, ...]]]:
        page = await self.page()
        shown: list[tuple[object, ...]] = [
            (
                v.incident.id,
                v.incident.status,
                v.incident.count,
                v.incident.last_seen,
                v.incident.title,
                v.github_url,
                tuple(v.environments),
            )
            for v in page.incidents
        ]
        return page.version, shown


async def _owned(sessions: async_sessionmaker[AsyncSession]) -> tuple[Caller, Project]:
    async with sessions.begin() as session:
        caller = await factories.caller(session)
        project = await factories.project(session, caller.user_id, repo=REPO)
        project.retention_days = 30
    return caller, project


async def test_the_version_changes_with_the_page_and_only_with_it(
    sessions: async_sessionmaker[AsyncSession], reads: AsyncEngine
) -> None:
    clock = FakeWallClock()
    caller, project = await _owned(sessions)
    _, elsewhere = await _owned(sessions)
    poller = Poller(reads, caller)

    async def store(*events: PreparedEvent) -> None:
        async with sessions.begin() as session:
            assert None not in await ingest.store(session, list(events), clock())

    async def set_status(status: str) -> None:
        page = await poller.page()
        incident = next(v.incident for v in page.incidents if v.incident.exception_type == "B")
        async with sessions.begin() as session:
            await service.set_status(session, caller, incident.id, status, github_web_url=WEB)

    async def retention() -> None:
        await RetentionJob(sessions, batch_size=10, clock=clock).run()

    first = uuid.uuid4()
    # A bug seen once on day 0 (retention removes it on day 35) and one that keeps happening.
    await store(_event(project.id, clock(), "A"))
    clock.advance(20 * DAY)

    steps: list[tuple[str, Callable[[], Awaitable[object]], bool]] = [
        ("a new incident", lambda: store(_event(project.id, clock(), "B", first)), True),
        ("a repeat", lambda: store(_event(project.id, clock(), "B")), True),
        ("an event id sent again", lambda: store(_event(project.id, clock(), "B", first)), False),
        ("another project's event", lambda: store(_event(elsewhere.id, clock(), "B")), False),
        ("resolved", lambda: set_status("resolved"), True),
        ("resolved again", lambda: set_status("resolved"), False),
        ("ignored", lambda: set_status("ignored"), True),
        ("reopened", lambda: set_status("open"), True),
        ("nothing past keeping", retention, False),
        ("a poll", poller.page, False),
    ]
    version, shown = await poller.look()
    for name, change, changes_the_page in steps:
        clock.advance(60)
        await change()
        new_version, new_shown = await poller.look()
        assert (new_shown != shown) == changes_the_page, name
        assert (new_version != version) == changes_the_page, name
        version, shown = new_version, new_shown

    clock.advance(15 * DAY)
    await retention()
    new_version, new_shown = await poller.look()
    assert [i[4] for i in shown] != [i[4] for i in new_shown], "retention removed A"
    assert new_version != version


async def test_an_unchanged_poll_is_answered_without_the_list(
    sessions: async_sessionmaker[AsyncSession], reads: AsyncEngine
) -> None:
    caller, project = await _owned(sessions)
    async with sessions.begin() as session:
        await ingest.store(session, [_event(project.id, FakeWallClock()(), "A")], FakeWallClock()())
    poller = Poller(reads, caller)
    full = await poller.page()
    assert len(full.incidents) == 1

    for known in ((full.version,), ("stale", full.version), ("*",)):
        unchanged = await poller.page(known=known)
        assert unchanged.not_modified
        assert unchanged.version == full.version
        assert (unchanged.incidents, unchanged.next_cursor) == ((), "")
    assert not (await poller.page(known=("stale",))).not_modified


async def test_another_account_learns_nothing_from_a_version(
    sessions: async_sessionmaker[AsyncSession], reads: AsyncEngine
) -> None:
    caller, project = await _owned(sessions)
    async with sessions.begin() as session:
        await ingest.store(session, [_event(project.id, FakeWallClock()(), "A")], FakeWallClock()())
    version = (await Poller(reads, caller).page()).version

    # The same repository name, another account: its own (empty) list, never the other's 304.
    other, _ = await _owned(sessions)
    theirs = await Poller(reads, other).page(known=(version, "*"))
    assert theirs.version != version
    async with sessions.begin() as session:
        stranger = await factories.caller(session)
    with pytest.raises(NotFound):
        await Poller(reads, stranger).page(known=(version, "*"))


async def test_transactions_raising_two_projects_in_opposite_orders_both_commit(
    postgres_url: str,
) -> None:
    """Each change notes its project and the versions are raised at commit, in project order:
    raised at each change, A (P then Q) and B (Q then P) would wait on each other forever."""
    engine = create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=20
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        incidents: dict[str, list[uuid.UUID]] = {}
        projects = {}
        for name in ("P", "Q"):
            _, project = await _owned(sessions)
            projects[name] = project.id
            async with sessions.begin() as session:
                now = FakeWallClock()()
                stored = await ingest.store(
                    session, [_event(project.id, now, "A"), _event(project.id, now, "B")], now
                )
            incidents[name] = [s.incident_id for s in stored if s is not None]

        async def versions() -> dict[str, int]:
            async with sessions.begin() as session:
                return {
                    name: await session.scalar(
                        select(func.sum(IncidentVersion.version)).where(
                            IncidentVersion.project_id == project_id
                        )
                    )
                    or 0
                    for name, project_id in projects.items()
                }

        before = await versions()
        bump = text("UPDATE incidents SET count = count + 1 WHERE id = :id")
        # Two connections that raise the same shard (pid % 16): of 17, two must.
        opened = [await engine.connect() for _ in range(17)]
        try:
            by_shard: dict[int, list[AsyncConnection]] = {}
            for connection in opened:
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                by_shard.setdefault(pid % 16, []).append(connection)
            a, b = next(pair for pair in by_shard.values() if len(pair) >= 2)[:2]
            for connection in (a, b):
                await connection.commit()
                # A hang guard: were a change to wait on the other transaction, this fails.
                await connection.execute(text(f"SET lock_timeout = '{HANG_GUARD_SECONDS}s'"))
            await a.execute(bump, {"id": incidents["P"][0]})
            await b.execute(bump, {"id": incidents["Q"][1]})
            await a.execute(bump, {"id": incidents["Q"][0]})
            await b.execute(bump, {"id": incidents["P"][1]})
            await a.commit()
            await b.commit()
        finally:
            for connection in opened:
                await connection.close()
        assert await versions() == {name: version + 2 for name, version in before.items()}
    finally:
        await engine.dispose()


async def test_the_list_shows_each_incidents_environments_sorted(
    sessions: async_sessionmaker[AsyncSession], reads: AsyncEngine
) -> None:
    caller, project = await _owned(sessions)
    now = FakeWallClock()()
    async with sessions.begin() as session:
        stored = await ingest.store(
            session, [_event(project.id, now, "A"), _event(project.id, now, "B")], now
        )
        seen_more = next(s.incident_id for s in stored if s is not None)
        # Seen at another commit too, in "production" again, and once with no environment.
        session.add_all(
            IncidentCommit(
                incident_id=seen_more,
                commit_sha="b" * 40,
                environment=environment,
                count=1,
                first_seen=now,
                last_seen=now,
            )
            for environment in ("staging", "production", "", "canary")
        )
    page = await Poller(reads, caller).page()
    shown = {v.incident.id: list(v.environments) for v in page.incidents}
    assert shown.pop(seen_more) == ["canary", "production", "staging"]
    assert list(shown.values()) == [["production"]]


async def _round_trips(engine: AsyncEngine, work: Callable[[], Awaitable[object]]) -> int:
    """The requests `work` sends to PostgreSQL on the engine's one connection, from libpq's
    own trace: a simple Query or an extended-protocol Sync each wait for the server."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        pgconn = raw.driver_connection.pgconn  # type: ignore[union-attr]
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            await work()
        finally:
            pgconn.untrace()
        trace.seek(0)
        sent = [line.split("\t") for line in trace.read().splitlines()]
    return sum(1 for fields in sent if fields[0] == "F" and fields[2] in {"Query", "Sync"})


async def test_an_unchanged_poll_is_one_round_trip_to_postgresql(
    postgres_url: str,
) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    # One connection each, so that the traced connection is the one the poll uses.
    reads = create_read_engine(url, pool_size=1)
    engine = create_engine(url, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        caller, project = await _owned(sessions)
        async with sessions.begin() as session:
            now = FakeWallClock()()
            await ingest.store(session, [_event(project.id, now, "A")], now)
        poller = Poller(reads, caller)
        version = (await poller.page()).version

        async def poll() -> None:
            assert (await poller.page(known=(version,))).not_modified

        assert await _round_trips(reads, poll) == 1

        # The same poll in a session of the ordinary engine: ping, BEGIN, SELECT, COMMIT.
        async def poll_in_a_session() -> None:
            async with sessions.begin() as session:
                page = await service.list_incidents(
                    session,
                    caller,
                    repo=REPO.lower(),
                    status=None,
                    page_size=0,
                    cursor="",
                    github_web_url=WEB,
                    known_versions=(version,),
                )
            assert page.not_modified

        assert await _round_trips(engine, poll_in_a_session) == 4
    finally:
        await reads.dispose()
        await engine.dispose()
