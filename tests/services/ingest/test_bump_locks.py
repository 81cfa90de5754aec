"""The incidents' bump on PostgreSQL takes no lock stronger than an UPDATE's own.

Concurrent batches of one bug all hold KEY SHARE locks on its incident while their transactions
are open: the foreign keys of the events and commit counts they insert take them. A bump that
locked the incident FOR UPDATE would wait for every one of those batches to end, and two
batches waiting for each other deadlock (PostgreSQL only: SQLite's transactions hold the
database's write lock and never run side by side).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest import repository, service
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.schema import Incident, IncidentCommit, Project
from stackline_infra.db.types import utcnow
from tests.services.ingest.test_service import _event
from tests.support import factories
from tests.support.clocks import HANG_GUARD_SECONDS


@pytest.fixture
async def project_id(engine: AsyncEngine) -> AsyncIterator[uuid.UUID]:
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        owner = await factories.user(session)
        project = await factories.project(session, owner.id)
    yield project.id
    async with sessions.begin() as session:
        await session.execute(delete(Project).where(Project.id == project.id))


async def test_a_bump_does_not_wait_for_another_batch_holding_its_incident_by_key(
    engine: AsyncEngine, project_id: uuid.UUID
) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        [stored] = await service.store(session, [_event(project_id)], utcnow())
    assert isinstance(stored, service.Stored)
    incident_id = stored.incident_id
    now = utcnow()

    async with sessions() as other, sessions() as bumping:
        # Another batch, still open, has counted an event at a commit new to the incident: the
        # new row's foreign key holds a KEY SHARE lock on the incident until it commits.
        await other.begin()
        await repository.count_commits(
            other,
            [
                {
                    "incident_id": incident_id,
                    "commit_sha": "b" * 40,
                    "environment": "production",
                    "count": 1,
                    "first_seen": now,
                    "last_seen": now,
                }
            ],
        )
        await bumping.begin()
        # Would wait for `other` to end, which only happens after this returns.
        await asyncio.wait_for(
            repository.bump_incidents(
                bumping,
                [
                    {
                        "incident_id": incident_id,
                        "n": 1,
                        "first_seen": now,
                        "last_seen": now,
                        "last_commit_sha": "a" * 40,
                        "last_environment": "production",
                        "title": "TypeError in src/users.js:42",
                        "culprit_file": "src/users.js",
                        "culprit_line": 42,
                        "culprit_column": 17,
                        "culprit_function": "getUser",
                    }
                ],
            ),
            HANG_GUARD_SECONDS,
        )
        await bumping.commit()
        await other.commit()

    async with sessions() as session:
        count = await session.scalar(select(Incident.count).where(Incident.id == incident_id))
    assert count == 2


async def test_counts_and_bump_in_one_statement_wait_for_no_batch_holding_the_incident_by_key(
    engine: AsyncEngine, project_id: uuid.UUID
) -> None:
    """The one statement that counts commits and bumps, as a batch stores: it takes no lock on
    the incident beyond the two statements', and both of its writes land."""
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        [stored] = await service.store(session, [_event(project_id)], utcnow())
    assert isinstance(stored, service.Stored)
    incident_id = stored.incident_id
    now = utcnow()

    def commit_row(sha: str) -> dict[str, object]:
        return {
            "incident_id": incident_id,
            "commit_sha": sha,
            "environment": "production",
            "count": 1,
            "first_seen": now,
            "last_seen": now,
        }

    async with sessions() as other, sessions() as bumping:
        await other.begin()
        await repository.count_commits(other, [commit_row("b" * 40)])
        await bumping.begin()
        await asyncio.wait_for(
            repository.count_and_bump(
                bumping,
                [commit_row("c" * 40)],
                [
                    {
                        "incident_id": incident_id,
                        "n": 1,
                        "first_seen": now,
                        "last_seen": now,
                        "last_commit_sha": "c" * 40,
                        "last_environment": "production",
                        "title": "TypeError in src/users.js:42",
                        "culprit_file": "src/users.js",
                        "culprit_line": 42,
                        "culprit_column": 17,
                        "culprit_function": "getUser",
                    }
                ],
            ),
            HANG_GUARD_SECONDS,
        )
        await bumping.commit()
        await other.commit()

    async with sessions() as session:
        incident = (
            await session.execute(
                select(Incident.count, Incident.last_commit_sha).where(Incident.id == incident_id)
            )
        ).one()
        commits = dict(
            (
                await session.execute(
                    select(IncidentCommit.commit_sha, IncidentCommit.count).where(
                        IncidentCommit.incident_id == incident_id
                    )
                )
            ).all()
        )
    assert tuple(incident) == (2, "c" * 40)
    assert commits["b" * 40] == 1
    assert commits["c" * 40] == 1
