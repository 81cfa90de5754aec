"""Storing batches: one incident per bug, each event once, counts that add up.

Every test here runs on PostgreSQL and on SQLite (the one-machine store): the repository has a
branch of its own for each, and so does telling a deleted project's foreign key failure apart.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from stackline.ingest.v1 import ingest_pb2

from services.ingest import repository, service
from services.ingest.events import PreparedEvent, prepare
from services.ingest.service import Stored
from services.ingest.servicer import IngestServicer
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import Event, Incident, IncidentCommit, Project
from stackline_infra.db.types import utcnow
from stackline_infra.errors import PermissionDenied
from tests.support import factories


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite file built by the real migrations, as `make run` builds it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ingest') / 'stackline.db'}"
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
async def engine(
    request: pytest.FixtureRequest, engine: AsyncEngine, sqlite_url: str
) -> AsyncIterator[AsyncEngine]:
    """Overrides the shared engine for this module: PostgreSQL's, then an SQLite one. The
    session fixture, and with it every test, follows."""
    if request.param == "postgresql":
        yield engine
        return
    sqlite = create_engine(sqlite_url.replace("sqlite://", "sqlite+aiosqlite://", 1))
    yield sqlite
    await sqlite.dispose()


def _event(
    project_id: uuid.UUID,
    *,
    error_type: str = "TypeError",
    message: str = "boom",
    line: int = 42,
    function: str = "getUser",
    commit: str = "a" * 40,
    event_id: uuid.UUID | None = None,
    minutes_ago: int = 0,
) -> PreparedEvent:
    stack = f"{error_type}: {message}\n    at {function} (/var/task/src/users.js:{line}:17)"
    proto = ingest_pb2.Event(
        project_id=str(project_id),
        event_id=str(event_id or uuid.uuid4()),
        platform="node",
        deploy_root="/var/task",
        commit_sha=commit,
        environment="production",
        exception=ingest_pb2.ExceptionInfo(type=error_type, message=message, stack=stack),
    )
    proto.timestamp.FromDatetime(utcnow() - timedelta(minutes=minutes_ago))
    return prepare(proto, utcnow())


async def _store(session: AsyncSession, events: list[PreparedEvent]) -> list[Stored]:
    results = await service.store(session, events, utcnow())
    assert None not in results, "every project here exists"
    return [r for r in results if r is not None]


async def _incidents(session: AsyncSession, project_id: uuid.UUID) -> list[Incident]:
    return list(await session.scalars(select(Incident).where(Incident.project_id == project_id)))


async def _event_count(session: AsyncSession, project_id: uuid.UUID) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(Event).where(Event.project_id == project_id)
        )
        or 0
    )


async def test_a_thousand_events_of_one_bug_make_one_incident(session: AsyncSession) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    events = [
        _event(project.id, message=f"user {n} not found", line=40 + n % 7) for n in range(1000)
    ]
    for start in range(0, 1000, 250):
        await service.store(session, events[start : start + 250], utcnow())
    [incident] = await _incidents(session, project.id)
    assert incident.count == 1000
    assert await _event_count(session, project.id) == 1000


async def test_two_bugs_in_one_function_with_different_types_make_two(
    session: AsyncSession,
) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    await service.store(
        session,
        [_event(project.id, error_type="TypeError"), _event(project.id, error_type="RangeError")],
        utcnow(),
    )
    assert sorted(i.exception_type for i in await _incidents(session, project.id)) == [
        "RangeError",
        "TypeError",
    ]


async def test_an_event_id_counts_once_however_often_it_is_sent(session: AsyncSession) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    event = _event(project.id)
    first = await _store(session, [event, event])
    assert [r.duplicate for r in first] == [False, True]
    again = await _store(session, [event])
    assert again[0].duplicate and again[0].incident_id == first[0].incident_id
    [incident] = await _incidents(session, project.id)
    assert incident.count == 1
    assert await _event_count(session, project.id) == 1


async def test_event_ids_are_scoped_to_their_project(session: AsyncSession) -> None:
    owner = await factories.user(session)
    a, b = await factories.project(session, owner.id), await factories.project(session, owner.id)
    shared = uuid.uuid4()
    results = await _store(session, [_event(a.id, event_id=shared), _event(b.id, event_id=shared)])
    assert [r.duplicate for r in results] == [False, False]


async def test_seen_times_commit_and_regression(session: AsyncSession) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    await service.store(session, [_event(project.id, minutes_ago=10, commit="1" * 40)], utcnow())
    await service.store(session, [_event(project.id, minutes_ago=1, commit="2" * 40)], utcnow())
    # A late arrival from before does not move last_seen or the commit back.
    await service.store(session, [_event(project.id, minutes_ago=30, commit="0" * 40)], utcnow())
    [incident] = await _incidents(session, project.id)
    assert incident.last_commit_sha == "2" * 40
    assert timedelta(minutes=28) < incident.last_seen - incident.first_seen < timedelta(minutes=30)

    assert incident.regressed_at is None
    incident.status, incident.resolved_at = "resolved", utcnow()
    await session.flush()
    await service.store(session, [_event(project.id, commit="3" * 40)], utcnow())
    await session.refresh(incident)
    reopened: tuple[object, ...] = (incident.status, incident.resolved_at, incident.count)
    assert reopened == ("open", None, 4)
    assert incident.regression_commit_sha == "3" * 40
    assert incident.regressed_at is not None

    incident.status = "ignored"
    await session.flush()
    await service.store(session, [_event(project.id)], utcnow())
    await session.refresh(incident)
    assert incident.status == "ignored"


async def test_the_incident_shows_the_culprit_and_title_of_its_latest_event(
    session: AsyncSession,
) -> None:
    """Its permalink is at the latest commit: the first event's line may hold other code there."""
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    await service.store(session, [_event(project.id, line=42, minutes_ago=5)], utcnow())
    await service.store(session, [_event(project.id, line=57, commit="b" * 40)], utcnow())
    # A late arrival from before the deploy changes neither.
    await service.store(session, [_event(project.id, line=40, minutes_ago=30)], utcnow())
    [incident] = await _incidents(session, project.id)
    assert (incident.count, incident.culprit_line, incident.last_commit_sha) == (3, 57, "b" * 40)
    assert incident.title == "TypeError in src/users.js:57"


@pytest.fixture
async def committed_project(engine: AsyncEngine) -> AsyncIterator[uuid.UUID]:
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        owner = await factories.user(session)
        project = await factories.project(session, owner.id)
    yield project.id
    async with sessions.begin() as session:
        await session.execute(delete(Project).where(Project.id == project.id))


async def test_concurrent_batches_with_overlapping_ids_count_each_event_once(
    engine: AsyncEngine, committed_project: uuid.UUID
) -> None:
    sessions = create_sessionmaker(engine)
    events = [_event(committed_project, message=f"n={n}") for n in range(60)]

    async def store(batch: list[PreparedEvent]) -> None:
        async with sessions.begin() as session:
            await service.store(session, batch, utcnow())

    # Four writers, each with an overlapping half of the events, all at once.
    await asyncio.gather(*(store(events[i * 10 : i * 10 + 30]) for i in range(4)))
    async with sessions() as session:
        [incident] = await _incidents(session, committed_project)
        stored = await _event_count(session, committed_project)
    assert stored == 60
    assert incident.count == 60


async def test_commits_and_environments_an_incident_was_seen_at(session: AsyncSession) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    staging = _event(project.id, commit="1" * 40)
    staging.environment = "staging"
    await service.store(
        session,
        [_event(project.id, commit="1" * 40), _event(project.id, commit="1" * 40), staging],
        utcnow(),
    )
    unversioned = _event(project.id)
    unversioned.commit_sha, unversioned.environment = None, None
    await service.store(session, [_event(project.id, commit="2" * 40), unversioned], utcnow())
    [incident] = await _incidents(session, project.id)
    rows = await session.execute(
        select(IncidentCommit.commit_sha, IncidentCommit.environment, IncidentCommit.count).where(
            IncidentCommit.incident_id == incident.id
        )
    )
    assert sorted(tuple(row) for row in rows) == [
        ("", "", 1),
        ("1" * 40, "production", 2),
        ("1" * 40, "staging", 1),
        ("2" * 40, "production", 1),
    ]


async def _ingest(
    servicer: IngestServicer, events: list[ingest_pb2.Event]
) -> list[ingest_pb2.EventResult]:
    request = ingest_pb2.IngestEventsRequest(events=events)
    context: Any = None  # IngestEvents reads nothing from it
    return list((await servicer.IngestEvents(request, context)).results)


def _proto_event(project_id: uuid.UUID | str, message: str = "boom") -> ingest_pb2.Event:
    return ingest_pb2.Event(
        project_id=str(project_id),
        event_id=str(uuid.uuid4()),
        platform="node",
        exception=ingest_pb2.ExceptionInfo(
            type="TypeError", message=message, stack="TypeError: x\n    at f (/app/a.js:1:2)"
        ),
    )


@pytest.fixture
def project_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often a batch had its projects checked: only on the way round a deleted one."""
    checks: list[int] = []
    real = repository.existing_projects

    async def existing_projects(session: AsyncSession, project_ids: Any) -> set[uuid.UUID]:
        checks.append(len(project_ids))
        return await real(session, project_ids)

    monkeypatch.setattr(repository, "existing_projects", existing_projects)
    return checks


async def test_events_of_a_deleted_project_are_refused_and_the_rest_stored(
    engine: AsyncEngine, committed_project: uuid.UUID, project_checks: list[int]
) -> None:
    servicer = IngestServicer(create_sessionmaker(engine))
    live = await _ingest(servicer, [_proto_event(committed_project, "live")])
    assert live[0].incident_id and not live[0].HasField("rejection")
    assert project_checks == [], "the common path checks no project"

    # A key the gateway still trusts for a project deleted meanwhile: the batch fails on the
    # foreign key, and runs again without that project's events.
    gone = uuid.uuid4()
    results = await _ingest(
        servicer,
        [
            _proto_event(committed_project, "first"),
            _proto_event(gone),
            _proto_event(committed_project, "second"),
        ],
    )
    assert project_checks == [2]
    first, refused, second = results
    assert refused.rejection.code == PermissionDenied.code
    assert "no longer exists" in refused.rejection.message
    assert not refused.incident_id
    assert first.incident_id and second.incident_id and not first.HasField("rejection")
    async with create_sessionmaker(engine)() as session:
        assert await _event_count(session, committed_project) == 3
        assert await _event_count(session, gone) == 0


async def test_a_batch_only_of_a_deleted_project_is_all_refused(
    engine: AsyncEngine, project_checks: list[int]
) -> None:
    servicer = IngestServicer(create_sessionmaker(engine))
    results = await _ingest(servicer, [_proto_event(uuid.uuid4()), _proto_event(uuid.uuid4())])
    assert [r.rejection.code for r in results] == [PermissionDenied.code] * 2
    assert project_checks == [2]


async def test_a_failure_on_another_constraint_is_not_taken_for_a_deleted_project(
    engine: AsyncEngine, committed_project: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An incident row that breaks a NOT NULL constraint: an IntegrityError, but not the one of
    # a deleted project, so it propagates instead of being answered as PROJECT_GONE.
    real = service._incident_row

    def broken(first: PreparedEvent, now: Any) -> dict[str, Any]:
        return {**real(first, now), "status": None}

    monkeypatch.setattr(service, "_incident_row", broken)
    servicer = IngestServicer(create_sessionmaker(engine))
    with pytest.raises(IntegrityError) as failed:
        await _ingest(servicer, [_proto_event(committed_project)])
    assert not service.is_project_gone(failed.value)
