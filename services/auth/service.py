"""AuthService rules: sign-in, tokens, ingest-key resolution. Takes a session; never commits."""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import repository
from services.auth.tokens import TokenIssuer
from stackline_infra import keyformat
from stackline_infra.db import audit
from stackline_infra.db.schema import User
from stackline_infra.db.types import utcnow
from stackline_infra.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

# GitHub's own rule for logins, so a local user can later be matched by name.
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")

# last_used_at is written at most this often per key; the gateway's key cache
# already keeps resolutions rare.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    expires_at: datetime


async def dev_login(
    session: AsyncSession, issuer: TokenIssuer, *, enabled: bool, login: str, source_ip: str
) -> SignedIn:
    if not enabled:
        raise FailedPrecondition("local sign-in is switched off")
    if not _LOGIN.fullmatch(login):
        raise InvalidArgument(
            "login must be 1-39 letters, digits or single hyphens, as on GitHub", field="login"
        )
    user = await repository.find_user(session, "local", login.lower())
    if user is None:
        user = await repository.add_user(
            session, User(provider="local", provider_user_id=login.lower(), login=login, name=login)
        )
    await audit.record(
        session,
        action="user.sign_in",
        actor_user_id=user.id,
        source_ip=source_ip,
        details={"provider": "local"},
    )
    now = utcnow()
    token, expires_at = issuer.issue(user_id=user.id, login=user.login, now=now)
    return SignedIn(user, token, expires_at)


async def get_user(session: AsyncSession, user_id: str) -> User:
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        raise NotFound("no such user") from None
    user = await repository.get_user(session, parsed)
    if user is None:
        raise NotFound("no such user")
    return user


async def resolve_ingest_key(session: AsyncSession, key: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The (project id, key id) a key belongs to."""
    if not keyformat.is_well_formed(key):
        raise Unauthenticated("malformed ingest key")
    digest = keyformat.digest(key)
    row = await repository.find_ingest_key(session, digest)
    # The lookup is by hash, so timing reveals nothing of the key; the
    # constant-time comparison guards against a database that matched loosely.
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthenticated("unknown ingest key")
    now = utcnow()
    if row.revoked_at is not None and row.revoked_at <= now:
        raise PermissionDenied("this ingest key has been revoked")
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
        await repository.mark_key_used(session, row.id, now)
    return row.project_id, row.id
