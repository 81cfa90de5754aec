"""Grouping versions on real stacks stored in PostgreSQL: new rules for new incidents, and an
incident made under old rules keeps its events, its fingerprint and its version."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stackline.ingest.v1 import ingest_pb2

from services.ingest import service
from services.ingest.events import PreparedEvent, prepare
from services.ingest.grouping import GROUPING_VERSION
from stackline_infra.db.schema import Incident
from stackline_infra.db.types import new_id, utcnow
from tests.services.ingest.stacks.runs import NodeRun
from tests.support import factories


def _event(project_id: uuid.UUID, run: NodeRun, style: str) -> PreparedEvent:
    stack = run.call_styles[style]
    error_type, _, message = stack.split("\n", 1)[0].partition(": ")
    proto = ingest_pb2.Event(
        project_id=str(project_id),
        event_id=str(uuid.uuid4()),
        platform="node",
        deploy_root=str(run.root),
        exception=ingest_pb2.ExceptionInfo(type=error_type, message=message, stack=stack),
    )
    return prepare(proto, utcnow())


async def _incidents(session: AsyncSession, project_id: uuid.UUID) -> list[Incident]:
    query = select(Incident).where(Incident.project_id == project_id).order_by(Incident.created_at)
    return list(await session.scalars(query))


async def test_one_function_however_called_is_one_new_incident(
    session: AsyncSession, node_run: NodeRun
) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    styles = ("method", "plain", "alias", "method")
    events = [_event(project.id, node_run, style) for style in styles]
    assert len({e.fingerprints[1] for e in events}) == 3  # three incidents under version 1
    await service.store(session, events, utcnow())
    [incident] = await _incidents(session, project.id)
    assert (incident.count, incident.grouping_version) == (4, GROUPING_VERSION)
    assert incident.fingerprint == events[0].fingerprints[2]


async def test_an_incident_made_under_version_1_keeps_its_events_and_its_version(
    session: AsyncSession, node_run: NodeRun
) -> None:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    method = _event(project.id, node_run, "method")
    # The incident as the engine made it before version 2: version 1's fingerprint.
    old = Incident(
        id=new_id(),
        project_id=project.id,
        fingerprint=method.fingerprints[1],
        grouping_version=1,
        title=method.title,
        exception_type=method.exception_type,
        message=method.message,
        first_seen=method.occurred_at,
        last_seen=method.occurred_at,
        count=1,
    )
    session.add(old)
    await session.flush()
    assert method.fingerprints[1] != method.fingerprints[2]

    later = [_event(project.id, node_run, "method"), _event(project.id, node_run, "plain")]
    stored = await service.store(session, later, utcnow())
    found, new = await _incidents(session, project.id)
    await session.refresh(found)
    assert found.id == old.id
    assert [r.incident_id if r else None for r in stored] == [old.id, new.id]
    # The old incident kept its rules and counts on; the other call style, never stored under
    # version 1, is grouped under version 2 from the start.
    assert (found.grouping_version, found.fingerprint, found.count) == (
        1,
        method.fingerprints[1],
        2,
    )
    assert (new.grouping_version, new.fingerprint) == (2, later[1].fingerprints[2])
    again = await service.store(session, [_event(project.id, node_run, "alias")], utcnow())
    assert again[0] is not None and again[0].incident_id == new.id
