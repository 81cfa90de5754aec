"""All SQL of ProjectsService."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import (
    AuditEntry,
    Event,
    EventKey,
    Incident,
    IngestKey,
    PathMapping,
    Project,
    Release,
    SourceMap,
    User,
)


async def add_project(session: AsyncSession, project: Project) -> Project:
    session.add(project)
    await session.flush()
    return project


# A project marked deleted is gone for every read here; only the purge (purge.py) sees it.
_LIVE = Project.deleted_at.is_(None)


async def find_by_repo(session: AsyncSession, owner_id: uuid.UUID, repo: str) -> Project | None:
    return await session.scalar(
        select(Project).where(
            Project.owner_id == owner_id, func.lower(Project.repo) == repo.lower(), _LIVE
        )
    )


async def account_deleted(session: AsyncSession, owner_id: uuid.UUID) -> bool:
    """Whether the account was deleted (its access token may live on for its hour). Held FOR
    SHARE until the caller commits, so an account deletion cannot slip in before the insert
    of a project that would outlive it."""
    query = select(User.deleted_at).where(User.id == owner_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return (await session.scalar(query)) is not None


async def count_projects(session: AsyncSession, owner_id: uuid.UUID) -> int:
    return int(
        await session.scalar(select(func.count()).where(Project.owner_id == owner_id, _LIVE)) or 0
    )


async def count_live_keys(session: AsyncSession, project_id: uuid.UUID, now: datetime) -> int:
    """Keys that still work: never revoked, or in their rotation grace."""
    return int(
        await session.scalar(
            select(func.count()).where(
                IngestKey.project_id == project_id,
                or_(IngestKey.revoked_at.is_(None), IngestKey.revoked_at > now),
            )
        )
        or 0
    )


async def list_projects(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[Project]:
    result = await session.scalars(
        select(Project)
        .where(Project.owner_id == owner_id, _LIVE)
        .order_by(Project.created_at, Project.id)
    )
    return result.all()


async def get_owned_project(
    session: AsyncSession, owner_id: uuid.UUID, project_id: uuid.UUID, *, for_update: bool = False
) -> Project | None:
    query = select(Project).where(Project.id == project_id, Project.owner_id == owner_id, _LIVE)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def mark_deleted(session: AsyncSession, project_id: uuid.UUID, when: datetime) -> None:
    await session.execute(update(Project).where(Project.id == project_id).values(deleted_at=when))


async def add_key(session: AsyncSession, key: IngestKey) -> IngestKey:
    session.add(key)
    await session.flush()
    return key


async def list_keys(session: AsyncSession, project_id: uuid.UUID) -> Sequence[IngestKey]:
    result = await session.scalars(
        select(IngestKey)
        .where(IngestKey.project_id == project_id)
        .order_by(IngestKey.created_at, IngestKey.id)
    )
    return result.all()


async def unrevoked_keys(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> Sequence[IngestKey]:
    """The keys of these projects that were never revoked nor set to stop."""
    if not project_ids:
        return []
    result = await session.scalars(
        select(IngestKey).where(
            IngestKey.project_id.in_(project_ids), IngestKey.revoked_at.is_(None)
        )
    )
    return result.all()


async def get_key(
    session: AsyncSession, project_id: uuid.UUID, key_id: uuid.UUID
) -> IngestKey | None:
    return await session.scalar(
        select(IngestKey).where(IngestKey.id == key_id, IngestKey.project_id == project_id)
    )


async def path_mappings(session: AsyncSession, project_id: uuid.UUID) -> Sequence[PathMapping]:
    result = await session.scalars(
        select(PathMapping)
        .where(PathMapping.project_id == project_id)
        .order_by(PathMapping.stack_root)
    )
    return result.all()


async def replace_path_mappings(
    session: AsyncSession, project_id: uuid.UUID, mappings: Sequence[tuple[str, str]]
) -> None:
    await session.execute(delete(PathMapping).where(PathMapping.project_id == project_id))
    session.add_all(
        PathMapping(project_id=project_id, stack_root=stack_root, source_root=source_root)
        for stack_root, source_root in mappings
    )
    await session.flush()


async def get_release(session: AsyncSession, project_id: uuid.UUID, version: str) -> Release | None:
    return await session.get(Release, (project_id, version))


async def add_release(session: AsyncSession, release: Release) -> Release:
    session.add(release)
    await session.flush()
    return release


async def recent_releases(
    session: AsyncSession, project_id: uuid.UUID, limit: int
) -> Sequence[Release]:
    result = await session.scalars(
        select(Release)
        .where(Release.project_id == project_id)
        .order_by(Release.updated_at.desc(), Release.version)
        .limit(limit)
    )
    return result.all()


async def set_key_expiry(session: AsyncSession, key_id: uuid.UUID, when: datetime) -> None:
    """The key stops working at `when`, unless it was set to stop earlier."""
    await session.execute(
        update(IngestKey)
        .where(
            IngestKey.id == key_id, or_(IngestKey.revoked_at.is_(None), IngestKey.revoked_at > when)
        )
        .values(revoked_at=when)
    )


async def audit_entries(
    session: AsyncSession,
    project_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[AuditEntry]:
    """Newest first; `before` is the (time, id) of the previous page's last entry."""
    query = select(AuditEntry).where(AuditEntry.project_id == project_id)
    if before is not None:
        when, entry_id = before
        query = query.where(
            or_(
                AuditEntry.occurred_at < when,
                (AuditEntry.occurred_at == when) & (AuditEntry.id < entry_id),
            )
        )
    query = query.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def add_audit_entry(session: AsyncSession, entry: AuditEntry) -> None:
    """Appends an entry in the transaction of the change it records: both commit, or neither."""
    # An actor the gateway saw no address for has none, rather than an empty one.
    entry.source_ip = entry.source_ip or None
    session.add(entry)
    await session.flush()


async def deleted_projects(session: AsyncSession) -> Sequence[uuid.UUID]:
    """Projects marked deleted whose row is still there: the purge's work."""
    result = await session.scalars(
        select(Project.id).where(Project.deleted_at.is_not(None)).order_by(Project.deleted_at)
    )
    return result.all()


async def delete_releases(session: AsyncSession, project_id: uuid.UUID, limit: int) -> int:
    """Remove up to `limit` of a deleted project's releases."""
    picked = select(Release.version).where(Release.project_id == project_id).limit(limit)
    result = await session.execute(
        delete(Release).where(
            Release.project_id == project_id, Release.version.in_(picked.scalar_subquery())
        )
    )
    return cast(CursorResult[object], result).rowcount


async def ingest_holds(session: AsyncSession, project_id: uuid.UUID) -> bool:
    """Whether IngestService's purge has rows of the project left to remove."""
    for model in (EventKey, Event, Incident, SourceMap):
        found = await session.scalar(
            select(model.project_id).where(model.project_id == project_id).limit(1)
        )
        if found is not None:
            return True
    return False


async def delete_project(session: AsyncSession, project_id: uuid.UUID) -> None:
    """Remove a purged project's row; its keys and path mappings (a few dozen rows at most) go
    with it (ON DELETE CASCADE)."""
    await session.execute(
        delete(Project).where(Project.id == project_id, Project.deleted_at.is_not(None))
    )
