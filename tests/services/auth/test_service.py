from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import service
from services.auth.tokens import TokenIssuer
from stackline_infra import keyformat
from stackline_infra.db.schema import AuditEntry, IngestKey
from stackline_infra.db.types import utcnow
from stackline_infra.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from tests.support import factories

REFRESH_TTL = timedelta(days=30)


async def test_dev_login_creates_the_user_once_and_signs_a_token(
    session: AsyncSession, token_issuer: TokenIssuer
) -> None:
    first = await service.dev_login(
        session,
        token_issuer,
        enabled=True,
        login="Octo-Cat",
        source_ip="127.0.0.1",
        refresh_ttl=REFRESH_TTL,
    )
    again = await service.dev_login(
        session,
        token_issuer,
        enabled=True,
        login="octo-cat",
        source_ip="127.0.0.1",
        refresh_ttl=REFRESH_TTL,
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
    assert first.expires_at - utcnow() <= timedelta(hours=1)

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
        )
    assert refused.value.field == "login"


async def test_get_user(session: AsyncSession) -> None:
    user = await factories.user(session)
    assert (await service.get_user(session, str(user.id))).login == user.login
    with pytest.raises(NotFound):
        await service.get_user(session, "not-a-uuid")
    with pytest.raises(NotFound):
        await service.get_user(session, "01a21444-e0d3-7766-a35c-6caf537ea19d")


async def _key(session: AsyncSession, **fields: object) -> tuple[str, IngestKey]:
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    secret = keyformat.generate()
    row = IngestKey(
        project_id=project.id,
        prefix=keyformat.display_prefix(secret),
        key_hash=keyformat.digest(secret),
        **fields,
    )
    session.add(row)
    await session.flush()
    return secret, row


async def test_a_key_resolves_to_its_project_and_is_marked_used(session: AsyncSession) -> None:
    secret, row = await _key(session)
    assert row.last_used_at is None
    project_id, key_id = await service.resolve_ingest_key(session, secret)
    assert (project_id, key_id) == (row.project_id, row.id)
    await session.refresh(row)
    assert row.last_used_at is not None


async def test_unknown_malformed_and_revoked_keys(session: AsyncSession) -> None:
    with pytest.raises(Unauthenticated, match="unknown"):
        await service.resolve_ingest_key(session, keyformat.generate())
    with pytest.raises(Unauthenticated, match="malformed"):
        await service.resolve_ingest_key(session, "slk_not-a-key")
    secret, _ = await _key(session, revoked_at=utcnow())
    with pytest.raises(PermissionDenied):
        await service.resolve_ingest_key(session, secret)
