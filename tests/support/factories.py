"""Rows for service-level tests, written through the session under test."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import Project, User
from stackline_infra.identity import Caller


async def user(session: AsyncSession, login: str | None = None) -> User:
    login = login or f"user-{secrets.token_hex(4)}"
    row = User(provider="local", provider_user_id=login.lower(), login=login, name=login)
    session.add(row)
    await session.flush()
    return row


async def caller(session: AsyncSession) -> Caller:
    return Caller((await user(session)).id, "203.0.113.7")


async def project(session: AsyncSession, owner_id: uuid.UUID, repo: str | None = None) -> Project:
    row = Project(
        owner_id=owner_id,
        name="Test",
        repo=repo or f"octo/{secrets.token_hex(4)}",
        retention_days=90,
    )
    session.add(row)
    await session.flush()
    return row
