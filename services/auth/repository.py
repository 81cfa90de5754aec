"""All SQL of AuthService."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import (
    AuditEntry,
    Event,
    Incident,
    IncidentCommit,
    IngestKey,
    OAuthState,
    PathMapping,
    Project,
    RefreshToken,
    User,
)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def find_user(session: AsyncSession, provider: str, provider_user_id: str) -> User | None:
    return await session.scalar(
        select(User).where(User.provider == provider, User.provider_user_id == provider_user_id)
    )


async def add_user_unless_present(session: AsyncSession, user: User) -> User | None:
    """The user, added; None when a concurrent sign-in of the same account added it first (the
    unique provider id refused this one, and only its savepoint is rolled back)."""
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        return None
    return user


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    # Foreign keys cascade to projects, their keys, mappings, incidents and events.
    await session.execute(delete(User).where(User.id == user_id))


async def forget_in_audit_log(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Strip the personal fields from the user's audit entries and their projects' entries."""
    their_projects = select(Project.id).where(Project.owner_id == user_id)
    await session.execute(
        update(AuditEntry)
        .where(or_(AuditEntry.actor_user_id == user_id, AuditEntry.project_id.in_(their_projects)))
        .values(actor_user_id=None, source_ip=None, details={})
    )


async def find_ingest_key(session: AsyncSession, key_hash: bytes) -> IngestKey | None:
    return await session.scalar(select(IngestKey).where(IngestKey.key_hash == key_hash))


async def find_ingest_key_by_public_key(session: AsyncSession, public_key: str) -> IngestKey | None:
    return await session.scalar(select(IngestKey).where(IngestKey.public_key == public_key))


async def mark_key_used(session: AsyncSession, key_id: uuid.UUID, when: datetime) -> None:
    await session.execute(update(IngestKey).where(IngestKey.id == key_id).values(last_used_at=when))


async def add_oauth_state(session: AsyncSession, state: OAuthState, now: datetime) -> None:
    # Sign-ins abandoned halfway leave rows behind; each new one sweeps them.
    await session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
    session.add(state)
    await session.flush()


async def take_oauth_state(session: AsyncSession, state_hash: bytes, now: datetime) -> str | None:
    """The PKCE verifier of a live state, which is used up by this call."""
    return await session.scalar(
        delete(OAuthState)
        .where(OAuthState.state_hash == state_hash, OAuthState.expires_at > now)
        .returning(OAuthState.verifier_salt)
    )


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def find_refresh_token(session: AsyncSession, token_hash: bytes) -> RefreshToken | None:
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )


async def spend_refresh_token(session: AsyncSession, token_id: uuid.UUID, when: datetime) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.id == token_id).values(spent_at=when)
    )


async def revoke_refresh_family(
    session: AsyncSession, family_id: uuid.UUID, when: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=when)
    )


def _export_queries(user_id: uuid.UUID) -> list[tuple[str, Select[Any]]]:
    """What an export holds, kind by kind; secrets (hashes, PKCE verifiers) are left out."""
    projects = select(Project.id).where(Project.owner_id == user_id).scalar_subquery()
    incidents = select(Incident.id).where(Incident.project_id.in_(projects)).scalar_subquery()
    return [
        (
            "user",
            select(
                User.id,
                User.provider,
                User.login,
                User.name,
                User.avatar_url,
                User.created_at,
                User.updated_at,
            ).where(User.id == user_id),
        ),
        (
            "sessions",
            select(
                RefreshToken.id,
                RefreshToken.family_id,
                RefreshToken.created_at,
                RefreshToken.expires_at,
                RefreshToken.spent_at,
                RefreshToken.revoked_at,
            )
            .where(RefreshToken.user_id == user_id)
            .order_by(RefreshToken.created_at),
        ),
        (
            "projects",
            select(
                Project.id,
                Project.name,
                Project.repo,
                Project.retention_days,
                Project.created_at,
                Project.updated_at,
            )
            .where(Project.owner_id == user_id)
            .order_by(Project.created_at),
        ),
        (
            "ingest_keys",
            select(
                IngestKey.id,
                IngestKey.project_id,
                IngestKey.prefix,
                IngestKey.created_at,
                IngestKey.last_used_at,
                IngestKey.revoked_at,
            )
            .where(IngestKey.project_id.in_(projects))
            .order_by(IngestKey.created_at),
        ),
        (
            "path_mappings",
            select(
                PathMapping.project_id,
                PathMapping.stack_root,
                PathMapping.source_root,
                PathMapping.created_at,
            ).where(PathMapping.project_id.in_(projects)),
        ),
        (
            "incidents",
            select(*(c for c in Incident.__table__.columns))
            .where(Incident.project_id.in_(projects))
            .order_by(Incident.first_seen),
        ),
        (
            "incident_commits",
            select(*(c for c in IncidentCommit.__table__.columns)).where(
                IncidentCommit.incident_id.in_(incidents)
            ),
        ),
        (
            "events",
            select(*(c for c in Event.__table__.columns))
            .where(Event.project_id.in_(projects))
            .order_by(Event.occurred_at),
        ),
        (
            "audit_log",
            select(
                AuditEntry.id,
                AuditEntry.occurred_at,
                AuditEntry.action,
                AuditEntry.project_id,
                AuditEntry.target,
                AuditEntry.source_ip,
                AuditEntry.details,
            )
            .where(or_(AuditEntry.actor_user_id == user_id, AuditEntry.project_id.in_(projects)))
            .order_by(AuditEntry.occurred_at),
        ),
    ]


async def export(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[tuple[str, dict[str, Any] | None]]:
    """Every row an export holds, streamed from the database, kind by kind.

    Each kind opens with (kind, None), so that a kind with no rows still shows.
    """
    for kind, query in _export_queries(user_id):
        yield kind, None
        result = await session.stream(query.execution_options(yield_per=500))
        async for row in result.mappings():
            yield kind, dict(row)


async def add_audit_entry(session: AsyncSession, entry: AuditEntry) -> None:
    """Appends an entry in the transaction of the change it records: both commit, or neither."""
    # An actor the gateway saw no address for has none, rather than an empty one.
    entry.source_ip = entry.source_ip or None
    session.add(entry)
    await session.flush()
