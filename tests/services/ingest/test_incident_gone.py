"""A batch that lost its incident to the retention job is told apart from one that failed.

The job may remove an incident with no event left just after a batch found it; the batch then
fails on its event's foreign key to the incident and is run again, opening a new incident.
PostgreSQL only: SQLite's transactions hold the write lock from their first read, so the race
cannot happen there.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stackline.ingest.v1 import ingest_pb2

from services.ingest import service
from services.ingest.events import prepare
from stackline_infra.db.schema import Event
from stackline_infra.db.types import utcnow
from tests.support import factories


async def test_an_event_whose_incident_was_removed_is_incident_gone(
    session: AsyncSession,
) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    proto = ingest_pb2.Event(
        project_id=str(project.id),
        event_id=str(uuid.uuid4()),
        platform="python",
        exception=ingest_pb2.ExceptionInfo(type="ValueError", message="bad"),
    )
    row = service._event_row(prepare(proto, utcnow()), uuid.uuid4(), utcnow())
    with pytest.raises(IntegrityError) as caught:
        async with session.begin_nested():
            await session.execute(insert(Event).values(**row))
    assert service.is_incident_gone(caught.value)
    assert not service.is_project_gone(caught.value)
