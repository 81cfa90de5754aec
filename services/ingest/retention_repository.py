"""All SQL of the retention job: bounded deletes of what a project no longer keeps.

Every statement removes at most `limit` rows, picked by index, and runs in its own short
transaction, so no lock is held for long and a run cut short leaves nothing half done: the next
run picks up where it stopped. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so two
replicas running the job at once share the work instead of queueing on the same rows, and a row
an ingest batch is writing is left for the next run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, Select, Table, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import AuditEntry, Event, Incident, Project

_events = cast(Table, Event.__table__)
_incidents = cast(Table, Incident.__table__)
_audit = cast(Table, AuditEntry.__table__)


def _pick(session: AsyncSession, query: Select[tuple[uuid.UUID]]) -> Select[tuple[uuid.UUID]]:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


async def _delete(session: AsyncSession, table: Table, ids: Select[tuple[uuid.UUID]]) -> int:
    result = await session.execute(
        delete(table).where(table.c.id.in_(_pick(session, ids).scalar_subquery()))
    )
    return cast(CursorResult[object], result).rowcount


async def project_retentions(session: AsyncSession) -> list[tuple[uuid.UUID, int]]:
    """Every project with the days it keeps its events."""
    rows = await session.execute(select(Project.id, Project.retention_days).order_by(Project.id))
    return [(project_id, days) for project_id, days in rows]


async def delete_events(
    session: AsyncSession, project_id: uuid.UUID, received_before: datetime, limit: int
) -> int:
    """Remove up to `limit` of a project's events received before the cutoff."""
    c = _events.c
    return await _delete(
        session,
        _events,
        select(c.id)
        .where(c.project_id == project_id, c.received_at < received_before)
        .limit(limit),
    )


async def delete_empty_incidents(
    session: AsyncSession, project_id: uuid.UUID, last_seen_before: datetime, limit: int
) -> int:
    """Remove up to `limit` of a project's incidents last seen before the cutoff that have no
    event left; their per-commit counts go with them (ON DELETE CASCADE)."""
    c = _incidents.c
    has_event = exists().where(_events.c.incident_id == c.id)
    return await _delete(
        session,
        _incidents,
        select(c.id)
        .where(c.project_id == project_id, c.last_seen < last_seen_before, ~has_event)
        .limit(limit),
    )


async def delete_audit_entries(session: AsyncSession, before: datetime, limit: int) -> int:
    """Remove up to `limit` audit entries written before the cutoff."""
    c = _audit.c
    return await _delete(session, _audit, select(c.id).where(c.occurred_at < before).limit(limit))
