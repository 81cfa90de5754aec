"""All SQL of IncidentsService."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import BigInteger, Executable, Integer, Row, bindparam, cast, func, select, tuple_
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
# loading them into the session cost more than the query), and `environments`.
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

# The statements a poll runs are built once, with their values as parameters: building one per
# request (its comparisons and coercions) cost more Python than sending it. SQLAlchemy then finds
# each compiled in its cache.
_OWNED_PROJECT = select(
    Project.id,
    Project.repo,
    select(func.coalesce(cast(func.sum(IncidentVersion.version), BigInteger), 0))
    .where(IncidentVersion.project_id == Project.id)
    .scalar_subquery(),
).where(
    Project.owner_id == bindparam("owner_id"),
    func.lower(Project.repo) == bindparam("repo"),
    # A deleted project is gone at once, while its incidents are purged behind it.
    Project.deleted_at.is_(None),
)


def _dialect(reader: Reader) -> str:
    bind = reader.get_bind() if isinstance(reader, AsyncSession) else reader
    return bind.dialect.name


@cache
def _list_statement(dialect: str, *, by_status: bool, after: bool) -> Executable:
    """LISTED_COLUMNS and the incident's environments (other than ""), each incident's in one
    correlated subquery of the primary key of incident_commits: one statement for the page."""
    found = (
        select(
            # An array on PostgreSQL, a JSON array on SQLite; distinct, in no order.
            func.array_agg(IncidentCommit.environment.distinct())
            if dialect == "postgresql"
            else func.json_group_array(IncidentCommit.environment.distinct())
        )
        .where(IncidentCommit.incident_id == Incident.id, IncidentCommit.environment != "")
        .scalar_subquery()
        .label("environments")
    )
    query = select(*LISTED_COLUMNS, found).where(Incident.project_id == bindparam("project_id"))
    if by_status:
        query = query.where(Incident.status == bindparam("status"))
    if after:
        query = query.where(
            tuple_(Incident.last_seen, Incident.id)
            < tuple_(
                bindparam("after_seen", type_=Incident.__table__.c.last_seen.type),
                bindparam("after_id", type_=Incident.__table__.c.id.type),
            )
        )
    return query.order_by(Incident.last_seen.desc(), Incident.id.desc()).limit(
        bindparam("limit", type_=Integer)
    )


async def owned_project_for_repo(
    session: Reader, owner_id: uuid.UUID, repo: str
) -> Row[uuid.UUID, str, int] | None:
    """The caller's project for a repository (one at most: the pair is unique), with its
    incident-list version: the sum of its shards."""
    result = await session.execute(_OWNED_PROJECT, {"owner_id": owner_id, "repo": repo.lower()})
    return result.one_or_none()


async def list_incidents(
    session: Reader,
    project_id: uuid.UUID,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[Sequence[Row[Any]], list[list[str]]]:
    """LISTED_COLUMNS, newest last_seen first, and each row's environments, sorted; `after` is
    the (last_seen, id) of the previous page's last row.

    Read in the order of ix_incidents_project_status_last_seen (one status) or
    ix_incidents_project_last_seen (all), from the cursor's position: no sort, no skipped rows.
    """
    dialect = _dialect(session)
    parameters: dict[str, object] = {"project_id": project_id, "limit": limit}
    if status is not None:
        parameters["status"] = status
    if after is not None:
        parameters["after_seen"], parameters["after_id"] = after
    query = _list_statement(dialect, by_status=status is not None, after=after is not None)
    rows = (await session.execute(query, parameters)).all()
    if dialect == "postgresql":
        environments = [sorted(row.environments or ()) for row in rows]
    else:
        environments = [sorted(orjson.loads(row.environments)) for row in rows]
    return rows, environments


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
