"""AuthService rules: sign-in, sessions, ingest-key resolution. Takes a session; never commits.

Calls to GitHub happen between transactions, never inside one: a slow GitHub
must not hold a database connection and its locks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import repository
from services.auth.github import GitHubUser
from services.auth.tokens import TokenIssuer, new_refresh_token, refresh_digest
from stackline_contract import keyformat
from stackline_infra.db.schema import AuditEntry, OAuthState, RefreshToken, User
from stackline_infra.db.types import new_id
from stackline_infra.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

# GitHub's own rule for logins, so a local user can later be matched by name.
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")

# last_used_at is written at most this often per key; the gateway's key cache
# already keeps resolutions rare.
_LAST_USED_RESOLUTION = timedelta(seconds=60)
# How long a browser has between leaving for GitHub and coming back.
OAUTH_STATE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


async def _open_session(
    session: AsyncSession,
    issuer: TokenIssuer,
    user: User,
    *,
    refresh_ttl: timedelta,
    now: datetime,
    family_id: uuid.UUID | None = None,
) -> SignedIn:
    token, expires_at = issuer.issue(user_id=user.id, login=user.login, now=now)
    refresh = new_refresh_token()
    await repository.add_refresh_token(
        session,
        RefreshToken(
            user_id=user.id,
            family_id=family_id or new_id(),
            token_hash=refresh_digest(refresh),
            expires_at=now + refresh_ttl,
        ),
    )
    return SignedIn(user, token, expires_at, refresh, now + refresh_ttl)


async def dev_login(
    session: AsyncSession,
    issuer: TokenIssuer,
    *,
    enabled: bool,
    login: str,
    source_ip: str,
    refresh_ttl: timedelta,
    now: datetime,
) -> SignedIn:
    if not enabled:
        raise FailedPrecondition("local sign-in is switched off")
    if not _LOGIN.fullmatch(login):
        raise InvalidArgument(
            "login must be 1-39 letters, digits or single hyphens, as on GitHub", field="login"
        )
    user = await repository.find_user(session, "local", login.lower())
    if user is None:
        user = await repository.add_user_unless_present(
            session, User(provider="local", provider_user_id=login.lower(), login=login, name=login)
        ) or await repository.find_user(session, "local", login.lower())
        if user is None:  # added and deleted again in between
            raise Unavailable("the account changed during sign-in; sign in again", retry_after=1)
    await repository.add_audit_entry(
        session,
        AuditEntry(
            action="user.sign_in",
            actor_user_id=user.id,
            source_ip=source_ip,
            details={"provider": "local"},
        ),
    )
    return await _open_session(session, issuer, user, refresh_ttl=refresh_ttl, now=now)


def _state_hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def _pkce_verifier(state: str, salt: str) -> str:
    """The PKCE verifier of a sign-in: 43 characters of RFC 7636's alphabet, computable only by
    whoever holds both the state (the browser) and the salt (the database)."""
    digest = hmac.new(salt.encode(), state.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def begin_github_login(session: AsyncSession, *, now: datetime) -> tuple[str, str]:
    """A fresh (state, PKCE verifier) pair, remembered for ten minutes as the state's hash and
    the verifier's salt: what the callback needs, and no more."""
    state = secrets.token_urlsafe(32)
    salt = secrets.token_urlsafe(32)
    await repository.add_oauth_state(
        session,
        OAuthState(
            state_hash=_state_hash(state), verifier_salt=salt, expires_at=now + OAUTH_STATE_TTL
        ),
        now,
    )
    return state, _pkce_verifier(state, salt)


async def take_github_login(session: AsyncSession, state: str, *, now: datetime) -> str:
    """The PKCE verifier of a sign-in under way; a state works once."""
    salt = await repository.take_oauth_state(session, _state_hash(state), now) if state else None
    if salt is None:
        raise InvalidArgument(
            "this sign-in expired or was already used; sign in again", field="state"
        )
    return _pkce_verifier(state, salt)


async def github_sign_in(
    session: AsyncSession,
    issuer: TokenIssuer,
    github_user: GitHubUser,
    *,
    source_ip: str,
    via: str,
    refresh_ttl: timedelta,
    now: datetime,
) -> SignedIn:
    """Create or update the Stackline user for a GitHub account, and open a session."""
    user = await repository.find_user(session, "github", str(github_user.id))
    if user is None:
        # A first sign-in, perhaps from several editors at once: one of them adds the user.
        user = await repository.add_user_unless_present(
            session,
            User(
                provider="github",
                provider_user_id=str(github_user.id),
                login=github_user.login,
                name=github_user.name,
                avatar_url=github_user.avatar_url,
            ),
        ) or await repository.find_user(session, "github", str(github_user.id))
        if user is None:  # added and deleted again in between: as good as never signed in
            raise Unavailable("the account changed during sign-in; sign in again", retry_after=1)
    else:
        # A GitHub login can be renamed; the numeric id is what identifies the account.
        user.login, user.name, user.avatar_url = (
            github_user.login,
            github_user.name,
            github_user.avatar_url,
        )
        await session.flush()
    await repository.add_audit_entry(
        session,
        AuditEntry(
            action="user.sign_in",
            actor_user_id=user.id,
            source_ip=source_ip,
            details={"provider": "github", "via": via},
        ),
    )
    return await _open_session(session, issuer, user, refresh_ttl=refresh_ttl, now=now)


@dataclass(frozen=True)
class Refreshed:
    signed_in: SignedIn | None
    # Why not, when signed_in is None: said to the caller only after the
    # transaction commits, so that revoking a copied token's session sticks.
    refusal: str = ""


async def refresh(
    session: AsyncSession,
    issuer: TokenIssuer,
    refresh_token: str,
    *,
    refresh_ttl: timedelta,
    now: datetime,
) -> Refreshed:
    row = await repository.find_refresh_token(session, refresh_digest(refresh_token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return Refreshed(None, "refresh token unknown, expired or revoked; sign in again")
    if row.spent_at is not None:
        # Spent already: someone else has a copy. End the session for both.
        await repository.revoke_refresh_family(session, row.family_id, now)
        return Refreshed(None, "refresh token already used; the session is ended, sign in again")
    user = await repository.get_user(session, row.user_id)
    if user is None:
        return Refreshed(None, "refresh token unknown, expired or revoked; sign in again")
    await repository.spend_refresh_token(session, row.id, now)
    return Refreshed(
        await _open_session(
            session, issuer, user, refresh_ttl=refresh_ttl, now=now, family_id=row.family_id
        )
    )


async def end_session(session: AsyncSession, refresh_token: str, *, now: datetime) -> None:
    row = await repository.find_refresh_token(session, refresh_digest(refresh_token))
    if row is not None:
        await repository.revoke_refresh_family(session, row.family_id, now)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def export_user(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[tuple[str, dict[str, Any] | None]]:
    user = await get_user(session, user_id)
    async for kind, row in repository.export(session, user.id):
        yield kind, row


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    user = await get_user(session, user_id)
    await repository.forget_in_audit_log(session, user.id)
    await repository.delete_user(session, user.id)
    # That it happened stays on record; who it was does not.
    await repository.add_audit_entry(
        session, AuditEntry(action="user.delete", actor_user_id=None, source_ip=None)
    )


@dataclass(frozen=True)
class ResolvedKey:
    project_id: uuid.UUID
    key_id: uuid.UUID
    # When a rotated key stops; None for a key with no end.
    stops_at: datetime | None


async def resolve_ingest_key(session: AsyncSession, key: str, *, now: datetime) -> ResolvedKey:
    """The project and key id a key, or a key's public part, belongs to, at `now` (a rotated
    key works until its end, and its public part with it: they are one row)."""
    if keyformat.is_well_formed_public(key):
        # Stored in clear, as Sentry keeps its DSNs' public keys: what it opens (sending
        # events) is what a browser bundle that ships it gives away anyway.
        row = await repository.find_ingest_key_by_public_key(session, key)
        if row is None or not hmac.compare_digest(row.public_key, key):
            raise Unauthenticated("unknown ingest key")
    elif keyformat.is_well_formed(key):
        digest = keyformat.digest(key)
        row = await repository.find_ingest_key(session, digest)
        # The lookup is by hash, so timing reveals nothing of the key; the
        # constant-time comparison guards against a database that matched loosely.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            raise Unauthenticated("unknown ingest key")
    else:
        raise Unauthenticated("malformed ingest key")
    if row.revoked_at is not None and row.revoked_at <= now:
        raise PermissionDenied("this ingest key has been revoked")
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
        await repository.mark_key_used(session, row.id, now)
    return ResolvedKey(row.project_id, row.id, row.revoked_at)
