from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import service
from services.auth.tokens import TokenIssuer
from stackline_contract import keyformat
from stackline_infra.db.schema import AuditEntry, IngestKey, OAuthState
from stackline_infra.db.types import utcnow
from stackline_infra.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from tests.contract.test_keyformat import ISSUED_KEY, ISSUED_KEY_DIGEST
from tests.support import factories

REFRESH_TTL = timedelta(days=30)


async def test_dev_login_creates_the_user_once_and_signs_a_token(
    session: AsyncSession, token_issuer: TokenIssuer
) -> None:
    now = utcnow()
    first = await service.dev_login(
        session,
        token_issuer,
        enabled=True,
        login="Octo-Cat",
        source_ip="127.0.0.1",
        refresh_ttl=REFRESH_TTL,
        now=now,
    )
    again = await service.dev_login(
        session,
        token_issuer,
        enabled=True,
        login="octo-cat",
        source_ip="127.0.0.1",
        refresh_ttl=REFRESH_TTL,
        now=now,
    )
    assert first.user.id == again.user.id
    assert first.user.provider == "local"

    claims = jwt.decode(
        first.token,
        key=token_issuer.key.private_key.public_key(),
        algorithms=["EdDSA"],
        audience="stackline-api",
        issuer="stackline",
    )
    assert claims["sub"] == str(first.user.id)
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(first.token)["kid"] == token_issuer.key.kid
    assert first.expires_at == now + timedelta(hours=1)
    assert first.refresh_expires_at == now + REFRESH_TTL

    sign_ins = (
        await session.scalars(select(AuditEntry).where(AuditEntry.actor_user_id == first.user.id))
    ).all()
    assert [entry.action for entry in sign_ins] == ["user.sign_in", "user.sign_in"]
    assert sign_ins[0].source_ip == "127.0.0.1"


async def test_dev_login_is_refused_when_switched_off(
    session: AsyncSession, token_issuer: TokenIssuer
) -> None:
    with pytest.raises(FailedPrecondition):
        await service.dev_login(
            session,
            token_issuer,
            enabled=False,
            login="octocat",
            source_ip="127.0.0.1",
            refresh_ttl=REFRESH_TTL,
            now=utcnow(),
        )


@pytest.mark.parametrize(
    "login", ["", "-octo", "octo-", "octo--cat", "a" * 40, "octo cat", "octo/cat"]
)
async def test_dev_login_refuses_logins_github_would_refuse(
    session: AsyncSession, token_issuer: TokenIssuer, login: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await service.dev_login(
            session,
            token_issuer,
            enabled=True,
            login=login,
            source_ip="127.0.0.1",
            refresh_ttl=REFRESH_TTL,
            now=utcnow(),
        )
    assert refused.value.field == "login"


async def test_get_user(session: AsyncSession) -> None:
    user = await factories.user(session)
    assert (await service.get_user(session, user.id)).login == user.login
    with pytest.raises(NotFound):
        await service.get_user(session, uuid.UUID("01a21444-e0d3-7766-a35c-6caf537ea19d"))


async def _key(session: AsyncSession, **fields: object) -> tuple[str, IngestKey]:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    secret = keyformat.generate()
    row = IngestKey(
        project_id=project.id,
        prefix=keyformat.display_prefix(secret),
        key_hash=keyformat.digest(secret),
        public_key=keyformat.generate_public(),
        **fields,
    )
    session.add(row)
    await session.flush()
    return secret, row


async def test_a_key_resolves_to_its_project_and_is_marked_used(session: AsyncSession) -> None:
    secret, row = await _key(session)
    assert row.last_used_at is None
    resolved = await service.resolve_ingest_key(session, secret, now=utcnow())
    assert resolved == service.ResolvedKey(row.project_id, row.id, stops_at=None)
    await session.refresh(row)
    assert row.last_used_at is not None


async def test_unknown_malformed_and_revoked_keys(session: AsyncSession) -> None:
    with pytest.raises(Unauthenticated, match="unknown"):
        await service.resolve_ingest_key(session, keyformat.generate(), now=utcnow())
    with pytest.raises(Unauthenticated, match="malformed"):
        await service.resolve_ingest_key(session, "slk_not-a-key", now=utcnow())
    secret, _ = await _key(session, revoked_at=utcnow())
    with pytest.raises(PermissionDenied):
        await service.resolve_ingest_key(session, secret, now=utcnow())


async def test_a_key_in_its_rotation_grace_works_until_the_end_of_it(
    session: AsyncSession,
) -> None:
    now = utcnow()
    stops_at = now + timedelta(hours=24)
    secret, row = await _key(session, revoked_at=stops_at)
    expected = service.ResolvedKey(row.project_id, row.id, stops_at=stops_at)
    assert await service.resolve_ingest_key(session, secret, now=now) == expected
    last_moment = stops_at - timedelta(microseconds=1)
    assert await service.resolve_ingest_key(session, secret, now=last_moment) == expected
    with pytest.raises(PermissionDenied):
        await service.resolve_ingest_key(session, secret, now=stops_at)


async def test_a_keys_public_part_resolves_as_the_key_does_and_stops_with_it(
    session: AsyncSession,
) -> None:
    now = utcnow()
    stops_at = now + timedelta(hours=1)
    _, row = await _key(session, revoked_at=stops_at)
    expected = service.ResolvedKey(row.project_id, row.id, stops_at=stops_at)
    # One row: the grace of a rotated key is its public part's too.
    assert await service.resolve_ingest_key(session, row.public_key, now=now) == expected
    await session.refresh(row)
    assert row.last_used_at == now
    with pytest.raises(PermissionDenied):
        await service.resolve_ingest_key(session, row.public_key, now=stops_at)
    with pytest.raises(Unauthenticated, match="unknown"):
        await service.resolve_ingest_key(session, keyformat.generate_public(), now=now)
    with pytest.raises(Unauthenticated, match="malformed"):
        await service.resolve_ingest_key(session, row.public_key[:-1] + "!", now=now)


async def test_last_used_is_written_at_most_once_a_minute(session: AsyncSession) -> None:
    secret, row = await _key(session)
    first = utcnow()
    await service.resolve_ingest_key(session, secret, now=first)
    await service.resolve_ingest_key(session, secret, now=first + timedelta(seconds=59))
    await session.refresh(row)
    assert row.last_used_at == first
    await service.resolve_ingest_key(session, secret, now=first + timedelta(seconds=60))
    await session.refresh(row)
    assert row.last_used_at == first + timedelta(seconds=60)


async def test_a_key_stored_by_an_earlier_release_resolves(session: AsyncSession) -> None:
    # The row as 0.1.0 wrote it: display prefix and SHA-256, never the key; and the public
    # part migration 0006 gave it.
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    row = IngestKey(
        project_id=project.id,
        prefix="slk_cawJMp",
        key_hash=bytes.fromhex(ISSUED_KEY_DIGEST),
        public_key=keyformat.generate_public(),
    )
    session.add(row)
    await session.flush()
    assert await service.resolve_ingest_key(
        session, ISSUED_KEY, now=utcnow()
    ) == service.ResolvedKey(project.id, row.id, stops_at=None)


async def test_sign_in_states_expire_and_unused_ones_are_deleted(session: AsyncSession) -> None:
    now = utcnow()
    old_state, old_verifier = await service.begin_github_login(session, now=now)
    _, fresh_verifier = await service.begin_github_login(session, now=now)
    assert old_verifier != fresh_verifier
    later = now + service.OAUTH_STATE_TTL
    # The next sign-in started after ten minutes deletes every state that expired unused.
    await service.begin_github_login(session, now=later)
    kept = (await session.scalars(select(OAuthState.state_hash))).all()
    assert len(kept) == 1
    with pytest.raises(InvalidArgument, match="expired or was already used"):
        await service.take_github_login(session, old_state, now=later)


async def test_a_state_gives_back_its_verifier_once(session: AsyncSession) -> None:
    now = utcnow()
    state, verifier = await service.begin_github_login(session, now=now)
    assert await service.take_github_login(session, state, now=now) == verifier
    with pytest.raises(InvalidArgument):
        await service.take_github_login(session, state, now=now)
