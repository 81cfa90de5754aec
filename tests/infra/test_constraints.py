"""A broken constraint is recognised by what the engine reports, on both engines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.constraints import Violation, violation
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.db.migrate import alembic_config
from stackline_infra.db.schema import Project, User
from stackline_infra.db.types import new_id


async def _violations(session: AsyncSession) -> tuple[Violation, Violation]:
    """A project of a user who does not exist, then a second project for the same repository."""
    async with session.begin_nested():
        session.add(Project(owner_id=new_id(), name="n", repo="octo/orphan", retention_days=30))
        with pytest.raises(IntegrityError) as orphan:
            await session.flush()
    owner = User(provider="local", provider_user_id="constraints", login="constraints")
    session.add(owner)
    await session.flush()
    session.add(Project(owner_id=owner.id, name="a", repo="octo/twice", retention_days=30))
    await session.flush()
    async with session.begin_nested():
        session.add(Project(owner_id=owner.id, name="b", repo="octo/twice", retention_days=30))
        with pytest.raises(IntegrityError) as twice:
            await session.flush()
    return violation(orphan.value), violation(twice.value)


async def test_postgres_names_the_constraint(session: AsyncSession) -> None:
    orphan, twice = await _violations(session)
    assert orphan == Violation("foreign_key", "fk_projects_owner_id_users")
    assert twice == Violation("unique", "uq_projects_owner_id_repo")
    assert twice.is_("unique", "uq_projects_owner_id_repo")
    assert not twice.is_("unique", "uq_some_other_constraint")
    assert not twice.is_("foreign_key", "uq_projects_owner_id_repo")


async def test_sqlite_gives_the_kind_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stackline.db'}"
    # Alembic runs its own event loop.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stackline.db'}")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            orphan, twice = await _violations(session)
            await session.rollback()
    finally:
        await engine.dispose()
    assert orphan == Violation("foreign_key", None)
    assert twice == Violation("unique", None)
    # Without a name, the kind decides.
    assert twice.is_("unique", "uq_projects_owner_id_repo")
    assert not orphan.is_("unique", "uq_projects_owner_id_repo")
