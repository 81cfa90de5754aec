"""The audit log: who did what to which project, when, and from where."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import AuditEntry
from stackline_infra.db.types import new_id, utcnow


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor_user_id: uuid.UUID | None,
    source_ip: str | None,
    project_id: uuid.UUID | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction, so it commits or rolls back with the change."""
    await session.execute(
        insert(AuditEntry).values(
            id=new_id(),
            occurred_at=utcnow(),
            action=action,
            actor_user_id=actor_user_id,
            source_ip=source_ip or None,
            project_id=project_id,
            target=target,
            details=details or {},
        )
    )
