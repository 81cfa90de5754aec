"""All SQL of IncidentsService."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from stackline_infra.db.schema import (
    AuditEntry,
    Event,
    Incident,
    IncidentCommit,
    IncidentVersion,
    Project,
)

# The list's reads are Core statements: they run on a session, or on a read engine's connection.
Reader = AsyncSession | AsyncConnection

# The columns a listed incident shows (the list's rows are not ORM objects: for a page of 51,
# loading them into the session cost more than the query).
LISTED_COLUMNS = (
    Incident.id,
    Incident.project_id,
    Incident.status,
    Incident.title,
    Incident.exception_type,
    Incident.message,
    Incident.last_commit_sha,
    Incident.last_environment,
    Incident.count,
    Incident.first_seen,
    Incident.last_seen,
    Incident.culprit_file,
    Incident.culprit_line,
    Incident.culprit_column,
    Incident.culprit_function,
    Incident.regressed_at,
    Incident.regression_commit_sha,
)


async def owned_project_for_repo(
    session: Reader, owner_id: uuid.UUID, repo: str
) -> Row[uuid.UUID, str, int] | None:
    """The caller's project for a repository (one at most: the pair is unique), with its
    incident-list version: the sum of its shards."""
    version = (
        select(func.coalesce(cast(func.sum(IncidentVersion.version), BigInteger), 0))
        .where(IncidentVersion.project_id == Project.id)
        .scalar_subquery()
    )
    result = await session.execute(
        select(Project.id, Project.repo, version).where(
            Project.owner_id == owner_id,
            func.lower(Project.repo) == repo.lower(),
            # A deleted project is gone at once, while its incidents are purged behind it.
            Project.deleted_at.is_(None),
        )
    )
    return result.one_or_none()


async def list_incidents(
    session: Reader,
    project_id: uuid.UUID,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """LISTED_COLUMNS, newest last_seen first; `after` is the (last_seen, id) of the previous
    page's last row.

    Read in the order of ix_incidents_project_status_last_seen (one status) or
    ix_incidents_project_last_seen (all), from the cursor's position: no sort, no skipped rows.
    """
    query = select(*LISTED_COLUMNS).where(Incident.project_id == project_id)
    if status is not None:
        query = query.where(Incident.status == status)
    if after is not None:
        query = query.where(tuple_(Incident.last_seen, Incident.id) < tuple_(*after))
    query = query.order_by(Incident.last_seen.desc(), Incident.id.desc()).limit(limit)
    return (await session.execute(query)).all()


async def get_owned_incident(
    session: AsyncSession, owner_id: uuid.UUID, incident_id: uuid.UUID, *, for_update: bool = False
) -> Row[Incident, str] | None:
    query = (
        select(Incident, Project.repo)
        .join(Project, Project.id == Incident.project_id)
        .where(
            Incident.id == incident_id, Project.owner_id == owner_id, Project.deleted_at.is_(None)
        )
    )
    if for_update:
        query = query.with_for_update(of=Incident)
    return (await session.execute(query)).one_or_none()


async def latest_event(session: AsyncSession, incident_id: uuid.UUID) -> Event | None:
    return await session.scalar(
        select(Event)
        .where(Event.incident_id == incident_id)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(1)
    )


async def environments_of(
    session: Reader, incident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(IncidentCommit.incident_id, IncidentCommit.environment)
        .where(IncidentCommit.incident_id.in_(incident_ids), IncidentCommit.environment != "")
        .distinct()
        .order_by(IncidentCommit.incident_id, IncidentCommit.environment)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for incident_id, environment in rows:
        found.setdefault(incident_id, []).append(environment)
    return found


async def commits_of(
    session: AsyncSession, incident_id: uuid.UUID, *, limit: int
) -> Sequence[IncidentCommit]:
    result = await session.scalars(
        select(IncidentCommit)
        .where(IncidentCommit.incident_id == incident_id)
        .order_by(IncidentCommit.last_seen.desc())
        .limit(limit)
    )
    return result.all()


async def add_audit_entry(session: AsyncSession, entry: AuditEntry) -> None:
    """Appends an entry in the transaction of the change it records: both commit, or neither."""
    # An actor the gateway saw no address for has none, rather than an empty one.
    entry.source_ip = entry.source_ip or None
    session.add(entry)
    await session.flush()
