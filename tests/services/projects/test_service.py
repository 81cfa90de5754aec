from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.projects import service
from services.projects.purge import ProjectPurge
from stackline_contract import keyformat
from stackline_infra.db.schema import AuditEntry, IngestKey, Project
from stackline_infra.db.types import utcnow
from stackline_infra.errors import Conflict, InvalidArgument, NotFound
from stackline_infra.identity import Caller
from tests.support import factories


async def _audit(session: AsyncSession, caller: Caller) -> list[str]:
    rows = await session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.actor_user_id == caller.user_id)
        .order_by(AuditEntry.occurred_at)
    )
    return list(rows)


async def test_create_returns_the_key_once_and_stores_only_its_hash(session: AsyncSession) -> None:
    caller = await factories.caller(session)
    project, new_key = await service.create_project(
        session, caller, name="  Shop API ", repo="octo-org/shop-api", retention_days=0
    )
    assert project.name == "Shop API"
    assert project.retention_days == service.DEFAULT_RETENTION_DAYS
    assert keyformat.is_well_formed(new_key.secret)

    stored = await session.scalar(select(IngestKey).where(IngestKey.project_id == project.id))
    assert stored is not None
    assert stored.key_hash == keyformat.digest(new_key.secret)
    assert stored.prefix == new_key.secret[:10]
    # The secret appears nowhere in the database.
    dump = await session.scalar(
        text("SELECT count(*) FROM ingest_keys k WHERE position(:secret in k::text) > 0"),
        {"secret": new_key.secret},
    )
    assert dump == 0
    # Its public part, the DSN's, is kept in clear, and is no key.
    assert keyformat.is_well_formed_public(stored.public_key)
    assert new_key.key.public_key == stored.public_key
    assert await _audit(session, caller) == ["project.create", "ingest_key.create"]


async def test_the_projects_dsn_names_its_newest_key_that_is_not_being_replaced(
    session: AsyncSession,
) -> None:
    caller = await factories.caller(session)
    project, first = await service.create_project(
        session, caller, name="Shop", repo="octo-org/shop", retention_days=0
    )
    other, other_key = await service.create_project(
        session, caller, name="Cart", repo="octo-org/cart", retention_days=0
    )
    now = utcnow()

    async def listed() -> dict[uuid.UUID, str]:
        return (await service.list_projects(session, caller))[1]

    assert await listed() == {
        project.id: first.key.public_key,
        other.id: other_key.key.public_key,
    }
    # A key made later is the one meant to be handed out now.
    second = await service.create_ingest_key(session, caller, project.id, now=now)
    assert (await listed())[project.id] == second.key.public_key
    assert await service.project_dsn_public_key(session, project.id) == second.key.public_key
    # Rotating it moves the DSN to its successor, though the old key works through its grace.
    rotated = await service.rotate_ingest_key(
        session, caller, project.id, second.key.id, grace=timedelta(hours=1), now=now
    )
    assert (await listed())[project.id] == rotated.new.key.public_key
    # With every key revoked, the project has no DSN; the other project keeps its own.
    for key in (first.key, rotated.new.key, rotated.old):
        await service.revoke_ingest_key(session, caller, project.id, key.id, now=now)
    assert await listed() == {other.id: other_key.key.public_key}
    assert await service.project_dsn_public_key(session, project.id) == ""


@pytest.mark.parametrize(
    ("repo", "stored"),
    [("octo-org/shop-api", "octo-org/shop-api"), (" a/b.c_d-e ", "a/b.c_d-e")],
)
async def test_repos_are_validated_like_github_names(
    session: AsyncSession, repo: str, stored: str
) -> None:
    caller = await factories.caller(session)
    project, _ = await service.create_project(
        session, caller, name="x", repo=repo, retention_days=30
    )
    assert project.repo == stored


@pytest.mark.parametrize(
    "repo",
    [
        "",
        "shop-api",
        "octo/",
        "/shop",
        "-octo/shop",
        "octo/shop/extra",
        "octo/..",
        "octo/sh op",
        "https://github.com/o/r",
    ],
)
async def test_bad_repos_are_refused_naming_the_field(session: AsyncSession, repo: str) -> None:
    caller = await factories.caller(session)
    with pytest.raises(InvalidArgument) as refused:
        await service.create_project(session, caller, name="x", repo=repo, retention_days=0)
    assert refused.value.field == "repo"


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [("", 0, "name"), ("x" * 101, 0, "name"), ("ok", 4000, "retention_days")],
)
async def test_bad_names_and_retention_are_refused(
    session: AsyncSession, name: str, days: int, field: str
) -> None:
    caller = await factories.caller(session)
    with pytest.raises(InvalidArgument) as refused:
        await service.create_project(
            session, caller, name=name, repo="octo/shop", retention_days=days
        )
    assert refused.value.field == field


async def test_one_project_per_repo_per_user_whatever_the_case(session: AsyncSession) -> None:
    caller = await factories.caller(session)
    other = await factories.caller(session)
    await service.create_project(session, caller, name="a", repo="Octo/Shop", retention_days=0)
    with pytest.raises(Conflict):
        await service.create_project(session, caller, name="b", repo="octo/shop", retention_days=0)
    # Another user may map the same repository.
    await service.create_project(session, other, name="c", repo="octo/shop", retention_days=0)


async def test_users_see_and_change_only_their_projects(session: AsyncSession) -> None:
    owner = await factories.caller(session)
    stranger = await factories.caller(session)
    project, _ = await service.create_project(
        session, owner, name="mine", repo="octo/mine", retention_days=0
    )

    assert [p.id for p in (await service.list_projects(session, owner))[0]] == [project.id]
    assert (await service.list_projects(session, stranger)) == ([], {})
    for attempt in (
        service.get_project(session, stranger, project.id),
        service.update_project(session, stranger, project.id, name="stolen", retention_days=None),
        service.delete_project(session, stranger, project.id, now=utcnow()),
        service.create_ingest_key(session, stranger, project.id, now=utcnow()),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert (await service.get_project(session, owner, project.id))[0].name == "mine"


async def test_update_and_delete(session: AsyncSession) -> None:
    caller = await factories.caller(session)
    project, _ = await service.create_project(
        session, caller, name="old", repo="octo/upd", retention_days=0
    )
    updated = await service.update_project(
        session, caller, project.id, name="new", retention_days=30
    )
    assert (updated.name, updated.retention_days) == ("new", 30)
    key_ids = [k.id for k in (await service.get_project(session, caller, project.id))[1]]
    assert await service.delete_project(session, caller, project.id, now=utcnow()) == key_ids

    # Gone from every read at once, though its row waits for the purge; the repository is
    # free for a new project straight away.
    with pytest.raises(NotFound):
        await service.get_project(session, caller, project.id)
    assert (await service.list_projects(session, caller)) == ([], {})
    again, _ = await service.create_project(
        session, caller, name="again", repo="octo/upd", retention_days=0
    )

    # Nothing of IngestService's is left (it had none), so the purge removes the row and keys.
    purge = ProjectPurge(
        async_sessionmaker(bind=session.bind, join_transaction_mode="create_savepoint")
    )
    # At least this one: deleted projects of other tests share the database.
    assert await purge.run() >= 1
    for column in (Project.id, IngestKey.project_id):
        assert await session.scalar(select(func.count()).where(column == project.id)) == 0
    assert (await service.get_project(session, caller, again.id))[0].name == "again"
    assert await _audit(session, caller) == [
        "project.create",
        "ingest_key.create",
        "project.update",
        "project.delete",
        "project.create",
        "ingest_key.create",
    ]
    # The entry recording the deletion outlives the project.
    deletion = await session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "project.delete", AuditEntry.project_id == project.id
        )
    )
    assert deletion is not None and deletion.details == {"name": "new", "repo": "octo/upd"}


async def test_keys_are_added_and_revoked(session: AsyncSession) -> None:
    caller = await factories.caller(session)
    project, first = await service.create_project(
        session, caller, name="k", repo="octo/keys", retention_days=0
    )
    second = await service.create_ingest_key(session, caller, project.id, now=utcnow())
    assert second.secret != first.secret

    now = utcnow()
    revoked = await service.revoke_ingest_key(session, caller, project.id, first.key.id, now=now)
    assert revoked.revoked_at == now
    later = now + timedelta(minutes=5)
    again = await service.revoke_ingest_key(session, caller, project.id, first.key.id, now=later)
    assert again.revoked_at == now

    _, keys = await service.get_project(session, caller, project.id)
    assert {(k.id, k.revoked_at is None) for k in keys} == {
        (first.key.id, False),
        (second.key.id, True),
    }
    with pytest.raises(NotFound):
        await service.revoke_ingest_key(session, caller, project.id, project.id, now=now)
    assert (await _audit(session, caller)).count("ingest_key.revoke") == 1


async def test_a_rotated_key_stops_at_the_end_of_its_grace(session: AsyncSession) -> None:
    caller = await factories.caller(session)
    project, first = await service.create_project(
        session, caller, name="r", repo="octo/rotate", retention_days=0
    )
    now = utcnow()
    rotated = await service.rotate_ingest_key(
        session, caller, project.id, first.key.id, grace=timedelta(hours=1), now=now
    )
    assert rotated.old.revoked_at == now + timedelta(hours=1)
    assert rotated.new.key.revoked_at is None
    # Still in its grace: it has a successor already, so it is not rotated again...
    with pytest.raises(Conflict, match="being replaced already"):
        await service.rotate_ingest_key(
            session, caller, project.id, first.key.id, grace=timedelta(0), now=now
        )
    # ...revoking it cuts the grace short...
    cut = await service.revoke_ingest_key(session, caller, project.id, first.key.id, now=now)
    assert cut.revoked_at == now
    # ...and a revoked key is not rotated either.
    with pytest.raises(Conflict, match="revoked already"):
        await service.rotate_ingest_key(
            session,
            caller,
            project.id,
            first.key.id,
            grace=timedelta(hours=1),
            now=now + timedelta(seconds=1),
        )
    with pytest.raises(InvalidArgument):
        await service.rotate_ingest_key(
            session, caller, project.id, rotated.new.key.id, grace=timedelta(days=8), now=now
        )


@pytest.mark.parametrize(
    ("source_root", "stored"),
    [
        ("./.well-known/", ".well-known/"),  # a prefix removed, not the characters . and /
        ("./web/./public", "web/public/"),
        ("web//public/", "web/public/"),
        ("apps/api/../web/", "apps/web/"),  # climbs back, never out
        (" packages/api ", "packages/api/"),
        (".", ""),
        ("./", ""),
        ("", ""),
    ],
)
async def test_a_source_root_is_normalised_as_a_path(
    session: AsyncSession, source_root: str, stored: str
) -> None:
    caller = await factories.caller(session)
    project, _ = await service.create_project(
        session, caller, name="x", repo="a/b", retention_days=0
    )
    [mapping] = await service.set_path_mappings(
        session, caller, project.id, [("/srv/app/", source_root)]
    )
    assert mapping.source_root == stored


@pytest.mark.parametrize(
    "source_root",
    ["../etc/", "./../etc/", "web/../../etc", "..", "/etc/", "web\\src", "a/\x00"],
)
async def test_a_source_root_that_leaves_the_repository_is_refused(
    session: AsyncSession, source_root: str
) -> None:
    caller = await factories.caller(session)
    project, _ = await service.create_project(
        session, caller, name="x", repo="a/b", retention_days=0
    )
    with pytest.raises(InvalidArgument) as refused:
        await service.set_path_mappings(session, caller, project.id, [("/srv/app/", source_root)])
    assert refused.value.field == "mappings[0].source_root"


async def test_a_user_holds_at_most_the_projects_the_cap_allows(session: AsyncSession) -> None:
    caller = await factories.caller(session)
    caps = service.Caps(projects_per_user=2, keys_per_project=10)
    for repo in ("octo/one", "octo/two"):
        await service.create_project(
            session, caller, name="p", repo=repo, retention_days=0, caps=caps
        )
    with pytest.raises(Conflict, match="delete one first"):
        await service.create_project(
            session, caller, name="p", repo="octo/three", retention_days=0, caps=caps
        )
    # Another user's count is their own.
    other = await factories.caller(session)
    await service.create_project(
        session, other, name="p", repo="octo/one", retention_days=0, caps=caps
    )


async def test_keys_in_their_grace_count_towards_the_cap_until_it_ends(
    session: AsyncSession,
) -> None:
    caller = await factories.caller(session)
    caps = service.Caps(projects_per_user=5, keys_per_project=2)
    project, first = await service.create_project(
        session, caller, name="p", repo="octo/keys", retention_days=0, caps=caps
    )
    now = utcnow()
    await service.rotate_ingest_key(
        session, caller, project.id, first.key.id, grace=timedelta(hours=1), now=now
    )
    with pytest.raises(Conflict, match="revoke one first"):
        await service.create_ingest_key(session, caller, project.id, now=now, caps=caps)
    later = now + timedelta(hours=1)
    await service.create_ingest_key(session, caller, project.id, now=later, caps=caps)
