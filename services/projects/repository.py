"""All SQL of ProjectsService."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import AuditEntry, IngestKey, PathMapping, Project, Release


async def add_project(session: AsyncSession, project: Project) -> Project:
    session.add(project)
    await session.flush()
    return project


async def find_by_repo(session: AsyncSession, owner_id: uuid.UUID, repo: str) -> Project | None:
    return await session.scalar(
        select(Project).where(
            Project.owner_id == owner_id, func.lower(Project.repo) == repo.lower()
        )
    )


async def count_projects(session: AsyncSession, owner_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).where(Project.owner_id == owner_id)) or 0)


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
        select(Project).where(Project.owner_id == owner_id).order_by(Project.created_at, Project.id)
    )
    return result.all()


async def get_owned_project(
    session: AsyncSession, owner_id: uuid.UUID, project_id: uuid.UUID, *, for_update: bool = False
) -> Project | None:
    query = select(Project).where(Project.id == project_id, Project.owner_id == owner_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def delete_project(session: AsyncSession, project_id: uuid.UUID) -> None:
    await session.execute(delete(Project).where(Project.id == project_id))


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
