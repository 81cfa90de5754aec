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
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Table, delete, exists, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db import partitions
from stackline_infra.db.schema import (
    AuditEntry,
    Event,
    EventKey,
    Incident,
    Project,
    SourceMap,
)

_events = cast(Table, Event.__table__)
_event_keys = cast(Table, EventKey.__table__)
_incidents = cast(Table, Incident.__table__)
_audit = cast(Table, AuditEntry.__table__)
_source_maps = cast(Table, SourceMap.__table__)


def _pick(session: AsyncSession, query: Select[Any]) -> Select[Any]:
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


async def deleted_projects(session: AsyncSession) -> list[uuid.UUID]:
    """Projects marked deleted whose rows are still there: the purge's work."""
    rows = await session.scalars(
        select(Project.id).where(Project.deleted_at.is_not(None)).order_by(Project.deleted_at)
    )
    return list(rows)


async def delete_events(
    session: AsyncSession, project_id: uuid.UUID, received_before: datetime | None, limit: int
) -> int:
    """Remove up to `limit` of a project's events received before the cutoff (None: all)."""
    c = _events.c
    query = select(c.id).where(c.project_id == project_id)
    if received_before is not None:
        query = query.where(c.received_at < received_before)
    return await _delete(session, _events, query.limit(limit))


async def delete_empty_incidents(
    session: AsyncSession, project_id: uuid.UUID, last_seen_before: datetime | None, limit: int
) -> int:
    """Remove up to `limit` of a project's incidents last seen before the cutoff (None: any)
    that have no event left; their per-commit counts go with them (ON DELETE CASCADE)."""
    c = _incidents.c
    has_event = exists().where(_events.c.incident_id == c.id)
    query = select(c.id).where(c.project_id == project_id, ~has_event)
    if last_seen_before is not None:
        query = query.where(c.last_seen < last_seen_before)
    return await _delete(session, _incidents, query.limit(limit))


async def delete_source_maps(session: AsyncSession, project_id: uuid.UUID, limit: int) -> int:
    """Remove up to `limit` of a deleted project's source maps."""
    c = _source_maps.c
    return await _delete(
        session, _source_maps, select(c.id).where(c.project_id == project_id).limit(limit)
    )


async def delete_audit_entries(session: AsyncSession, before: datetime, limit: int) -> int:
    """Remove up to `limit` audit entries written before the cutoff."""
    c = _audit.c
    return await _delete(session, _audit, select(c.id).where(c.occurred_at < before).limit(limit))


async def delete_event_keys(
    session: AsyncSession, project_id: uuid.UUID, received_before: datetime | None, limit: int
) -> int:
    """Remove up to `limit` of a project's claimed event ids received before the cutoff (None:
    all): once the event has gone, the same id sent again is a new event."""
    c = _event_keys.c
    query = select(c.project_id, c.event_id).where(c.project_id == project_id)
    if received_before is not None:
        query = query.where(c.received_at < received_before)
    picked = _pick(session, query.limit(limit))
    result = await session.execute(
        delete(_event_keys).where(tuple_(c.project_id, c.event_id).in_(picked))
    )
    return cast(CursorResult[object], result).rowcount


async def longest_retention_days(session: AsyncSession) -> int:
    """The most days any project keeps its events; 0 when there is no project."""
    return await session.scalar(select(func.max(Project.retention_days))) or 0


async def event_partitions(session: AsyncSession) -> list[str]:
    """The names of the partitions of `events` (PostgreSQL)."""
    rows = await session.execute(
        text(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " WHERE parent.relname = 'events' ORDER BY child.relname"
        )
    )
    return [name for (name,) in rows]


async def create_event_partition(session: AsyncSession, week: datetime) -> None:
    await session.execute(text(partitions.create_sql(week)))


async def drop_event_partition(session: AsyncSession, week: datetime) -> None:
    """Drop a week of events whole. The lock it needs on `events` waits at most a moment for
    ingest's transactions (lock_timeout); a drop that cannot have it is left for the next run."""
    await session.execute(text("SET LOCAL lock_timeout = '2s'"))
    await session.execute(text(f"DROP TABLE {partitions.name_of(week)}"))
