"""All SQL of AuthService."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import IngestKey, User


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def find_user(session: AsyncSession, provider: str, provider_user_id: str) -> User | None:
    return await session.scalar(
        select(User).where(User.provider == provider, User.provider_user_id == provider_user_id)
    )


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def find_ingest_key(session: AsyncSession, key_hash: bytes) -> IngestKey | None:
    return await session.scalar(select(IngestKey).where(IngestKey.key_hash == key_hash))


async def mark_key_used(session: AsyncSession, key_id: uuid.UUID, when: datetime) -> None:
    await session.execute(update(IngestKey).where(IngestKey.id == key_id).values(last_used_at=when))
