"""Keys that rotate and stop, the audit log, and a user's data: export and deletion."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.purge import UserPurge
from services.auth.tokens import TokenIssuer
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.ingest.purge import PurgeJob
from services.projects.purge import ProjectPurge
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.schema import (
    AuditEntry,
    Event,
    Incident,
    IngestKey,
    Project,
    RefreshToken,
    User,
)
from tests.conftest import GATEWAY_URL, gateway_settings, running_stack
from tests.services.gateway.test_sentry_envelopes import auth, envelope, event_item, python_event
from tests.support.api import Account, ProjectWithKey, create_project, node_event, sign_in
from tests.support.clocks import HANG_GUARD_SECONDS, FakeClock, FakeWallClock
from tests.support.redis import redis_url
from tools.github_standin import GitHubStandin

KEY_CACHE_SECONDS = GatewaySettings.model_fields["ingest_key_cache_seconds"].default


@dataclass
class Clocked:
    """A gateway and services whose clocks move only when the test moves them."""

    client: httpx.AsyncClient
    gateway_clock: FakeClock  # the key cache's
    wall_clock: FakeWallClock  # AuthService's and ProjectsService's
    targets: dict[str, str]


@pytest.fixture
async def clocked(
    engine: AsyncEngine, token_issuer: TokenIssuer, github_standin: GitHubStandin
) -> AsyncIterator[Clocked]:
    wall_clock, gateway_clock = FakeWallClock(), FakeClock()
    async with running_stack(engine, token_issuer, github_standin, wall_clock=wall_clock) as stack:
        app = create_app(gateway_settings(stack.targets), clock=gateway_clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40020))
            async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
                yield Clocked(client, gateway_clock, wall_clock, stack.targets)


async def _ingest_status(client: httpx.AsyncClient, key: str) -> int:
    response = await client.post(
        "/api/ingest", json=node_event(), headers={"Authorization": f"Bearer {key}"}
    )
    return response.status_code


async def _first_key_id(
    client: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> str:
    detail = (await client.get(f"/api/projects/{project.id}", headers=account.headers)).json()
    return str(detail["project"]["ingest_keys"][0]["id"])


async def test_a_revoked_key_stops_at_once_here_and_on_other_replicas_within_the_cache_period(
    clocked: Clocked,
) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    other_clock = FakeClock()
    other = create_app(gateway_settings(clocked.targets), clock=other_clock)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other, client=("127.0.0.1", 40021))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as replica:
            assert await _ingest_status(client, project.key) == 200
            assert await _ingest_status(replica, project.key) == 200
            key_id = await _first_key_id(client, account, project)
            revoked = await client.delete(
                f"/api/projects/{project.id}/keys/{key_id}", headers=account.headers
            )
            assert revoked.status_code == 200
            # The gateway that revoked it refuses it at once, though it had it cached...
            assert await _ingest_status(client, project.key) == 403
            # ...another replica trusts what it resolved for its cache period (docs/identity.md)
            other_clock.advance(KEY_CACHE_SECONDS - 0.001)
            assert await _ingest_status(replica, project.key) == 200
            # ...and asks again once it is over.
            other_clock.advance(0.001)
            assert await _ingest_status(replica, project.key) == 403


async def test_with_redis_a_revocation_reaches_every_replica_at_once(clocked: Clocked) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    key_id = await _first_key_id(client, account, project)
    url = redis_url()
    # Two replicas sharing Redis, their caches on clocks that never move: only a message
    # can make them ask AuthService again.
    apps = [
        create_app(gateway_settings(clocked.targets, redis_url=url), clock=FakeClock())
        for _ in range(2)
    ]
    async with AsyncExitStack() as stack:
        replicas = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            await asyncio.wait_for(
                app.state.gateway.revocations.subscribed.wait(), HANG_GUARD_SECONDS
            )
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40022))
            replicas.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL)
                )
            )
        first, second = replicas
        dsn = await _project_dsn(first, account, project)
        assert dsn is not None
        assert await _ingest_status(first, project.key) == 200
        assert await _ingest_status(second, project.key) == 200
        assert await _sentry_status(second, dsn) == 200  # the DSN's form cached too
        revoked = await first.delete(
            f"/api/projects/{project.id}/keys/{key_id}", headers=account.headers
        )
        assert revoked.status_code == 200
        assert await _ingest_status(first, project.key) == 403
        # The other replica hears of it from Redis, not from its cache period.
        deadline = asyncio.get_running_loop().time() + HANG_GUARD_SECONDS
        while await _ingest_status(second, project.key) != 403:
            assert asyncio.get_running_loop().time() < deadline, "the replica never heard"
            await asyncio.sleep(0.01)
        # One message, by key id, drops both forms.
        assert await _sentry_status(second, dsn) == 403


async def _rotate(
    client: httpx.AsyncClient, account: Account, project: ProjectWithKey, key_id: str, **body: int
) -> httpx.Response:
    return await client.post(
        f"/api/projects/{project.id}/keys/{key_id}/rotate", json=body, headers=account.headers
    )


async def _key_count(client: httpx.AsyncClient, account: Account, project: ProjectWithKey) -> int:
    detail = (await client.get(f"/api/projects/{project.id}", headers=account.headers)).json()
    return len(detail["project"]["ingest_keys"])


async def test_rotating_with_no_grace_stops_the_old_key_now(clocked: Clocked) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    assert await _ingest_status(client, project.key) == 200  # resolved, and cached
    key_id = await _first_key_id(client, account, project)
    rotated = await _rotate(client, account, project, key_id, grace_seconds=0)
    assert rotated.status_code == 201, rotated.text
    assert await _ingest_status(client, project.key) == 403
    assert await _ingest_status(client, rotated.json()["ingest_key"]) == 200


async def test_a_key_in_its_grace_is_not_rotated_again_and_revoking_it_stops_it_now(
    clocked: Clocked,
) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    key_id = await _first_key_id(client, account, project)
    assert (await _rotate(client, account, project, key_id, grace_seconds=3600)).status_code == 201
    again = await _rotate(client, account, project, key_id, grace_seconds=3600)
    assert again.status_code == 409
    assert "being replaced already" in again.json()["error"]["message"]
    assert await _key_count(client, account, project) == 2
    assert await _ingest_status(client, project.key) == 200  # in its grace, and cached
    revoked = await client.delete(
        f"/api/projects/{project.id}/keys/{key_id}", headers=account.headers
    )
    assert revoked.status_code == 200
    assert await _ingest_status(client, project.key) == 403


async def test_the_cache_does_not_trust_a_key_past_the_end_of_its_grace(clocked: Clocked) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    key_id = await _first_key_id(client, account, project)
    assert (await _rotate(client, account, project, key_id, grace_seconds=10)).status_code == 201
    assert await _ingest_status(client, project.key) == 200  # cached for 10 s, not 30
    clocked.wall_clock.advance(10)
    clocked.gateway_clock.advance(10)
    assert await _ingest_status(client, project.key) == 403


async def test_a_rotated_key_works_through_its_grace_period_then_stops(clocked: Clocked) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    key_id = await _first_key_id(client, account, project)

    rotated = await client.post(
        f"/api/projects/{project.id}/keys/{key_id}/rotate",
        json={"grace_seconds": 3600},
        headers=account.headers,
    )
    assert rotated.status_code == 201, rotated.text
    new_key = rotated.json()["ingest_key"]
    assert rotated.json()["old_key"]["revoked_at"] is not None
    assert await _ingest_status(client, project.key) == 200
    assert await _ingest_status(client, new_key) == 200

    # A second before the grace ends, asked afresh (the gateway's cache period over): it works.
    clocked.wall_clock.advance(3599)
    clocked.gateway_clock.advance(KEY_CACHE_SECONDS)
    assert await _ingest_status(client, project.key) == 200
    # At its end it stops, once the gateway asks again; the new key carries on.
    clocked.wall_clock.advance(1)
    clocked.gateway_clock.advance(KEY_CACHE_SECONDS)
    assert await _ingest_status(client, project.key) == 403
    assert await _ingest_status(client, new_key) == 200

    again = await client.post(
        f"/api/projects/{project.id}/keys/{key_id}/rotate", headers=account.headers
    )
    assert again.status_code == 409
    too_long = await client.post(
        f"/api/projects/{project.id}/keys/{rotated.json()['key']['id']}/rotate",
        json={"grace_seconds": 8 * 86_400},
        headers=account.headers,
    )
    assert too_long.status_code == 400


async def _sentry_status(client: httpx.AsyncClient, dsn: str) -> int:
    """An event sent as sentry-sdk sends it with this DSN."""
    parts = urlsplit(dsn)
    response = await client.post(
        f"/api/{parts.path.strip('/')}/envelope/",
        content=envelope(event_item(python_event())),
        headers=auth(parts.username or ""),
    )
    return response.status_code


async def _project_dsn(
    client: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> str | None:
    detail = (await client.get(f"/api/projects/{project.id}", headers=account.headers)).json()
    return detail["project"]["dsn"]  # type: ignore[no-any-return]


async def test_rotating_a_key_gives_a_new_dsn_and_the_old_one_works_through_the_grace(
    clocked: Clocked,
) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    old_dsn = await _project_dsn(client, account, project)
    assert old_dsn is not None
    assert await _sentry_status(client, old_dsn) == 200  # resolved, and cached
    key_id = await _first_key_id(client, account, project)

    rotated = await _rotate(client, account, project, key_id, grace_seconds=3600)
    assert rotated.status_code == 201, rotated.text
    new_dsn = rotated.json()["dsn"]
    assert new_dsn != old_dsn
    assert rotated.json()["old_key"]["dsn"] == old_dsn
    assert await _project_dsn(client, account, project) == new_dsn
    assert await _sentry_status(client, old_dsn) == 200
    assert await _sentry_status(client, new_dsn) == 200

    # A second before the grace ends, asked afresh: the old DSN works...
    clocked.wall_clock.advance(3599)
    clocked.gateway_clock.advance(KEY_CACHE_SECONDS)
    assert await _sentry_status(client, old_dsn) == 200
    # ...and at its end it stops, as the old key does; the new one carries on.
    clocked.wall_clock.advance(1)
    clocked.gateway_clock.advance(KEY_CACHE_SECONDS)
    assert await _sentry_status(client, old_dsn) == 403
    assert await _ingest_status(client, project.key) == 403
    assert await _sentry_status(client, new_dsn) == 200


async def test_revoking_a_key_stops_its_dsn_at_once(clocked: Clocked) -> None:
    client = clocked.client
    account = await sign_in(client)
    project = await create_project(client, account)
    dsn = await _project_dsn(client, account, project)
    assert dsn is not None
    # Cached by both of its forms: the DSN's public part, and the key itself.
    assert await _sentry_status(client, dsn) == 200
    assert await _ingest_status(client, project.key) == 200
    key_id = await _first_key_id(client, account, project)
    revoked = await client.delete(
        f"/api/projects/{project.id}/keys/{key_id}", headers=account.headers
    )
    assert revoked.status_code == 200
    assert revoked.json()["dsn"] == dsn
    # The clocks have not moved: only the revocation can have dropped the cached entries.
    assert await _sentry_status(client, dsn) == 403
    assert await _ingest_status(client, project.key) == 403
    # A project whose keys are all revoked shows no DSN.
    assert await _project_dsn(client, account, project) is None


async def test_a_deleted_projects_key_is_refused_then_forgotten(
    gateway: httpx.AsyncClient,
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    assert await _ingest_status(gateway, project.key) == 200  # resolved, and cached
    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    (incident,) = listed.json()["incidents"]
    deleted = await gateway.delete(f"/api/projects/{project.id}", headers=account.headers)
    assert deleted.status_code in (200, 204)
    # Its incidents are gone from the API with it, though their rows wait for the purge.
    assert (
        await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)
    ).status_code == 404
    after = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    assert after.status_code == 404 and after.json()["error"]["field"] == "repo"
    # The gateway let go of the project's keys with the call, and AuthService no longer
    # resolves them though the project's row waits for its purge: refused at once.
    assert await _ingest_status(gateway, project.key) == 401
    assert (
        await gateway.get(f"/api/projects/{project.id}", headers=account.headers)
    ).status_code == 404


async def test_the_audit_log_says_who_did_what_from_where(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    key_id = (await gateway.get(f"/api/projects/{project.id}", headers=account.headers)).json()[
        "project"
    ]["ingest_keys"][0]["id"]
    await gateway.patch(
        f"/api/projects/{project.id}", json={"name": "Renamed"}, headers=account.headers
    )
    rotated = await gateway.post(
        f"/api/projects/{project.id}/keys/{key_id}/rotate", headers=account.headers
    )
    await gateway.delete(f"/api/projects/{project.id}/keys/{key_id}", headers=account.headers)
    new_key = {"Authorization": f"Bearer {rotated.json()['ingest_key']}"}
    assert (
        await gateway.post("/api/ingest", json=node_event(), headers=new_key)
    ).status_code == 200
    incident = (
        await gateway.get("/api/incidents", params={"repo": project.repo}, headers=account.headers)
    ).json()["incidents"][0]
    await gateway.patch(
        f"/api/incidents/{incident['id']}", json={"status": "resolved"}, headers=account.headers
    )

    pages, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (
            await gateway.get(
                f"/api/projects/{project.id}/audit", params=params, headers=account.headers
            )
        ).json()
        pages.append(page["entries"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    entries = [e for page in pages for e in page]
    assert [e["action"] for e in reversed(entries)] == [
        "project.create",
        "ingest_key.create",
        "project.update",
        "ingest_key.create",
        "ingest_key.rotate",
        "ingest_key.revoke",
        "incident.status",
    ]
    assert all(
        e["actor_user_id"] == account.user_id and e["source_ip"] == "127.0.0.1" for e in entries
    )
    assert entries[0]["details"] == {"from": "open", "to": "resolved"}

    stranger = await sign_in(gateway)
    assert (
        await gateway.get(f"/api/projects/{project.id}/audit", headers=stranger.headers)
    ).status_code == 404


async def _project_with_an_incident(gateway: httpx.AsyncClient) -> tuple[Account, str, str]:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    assert (
        await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    ).status_code == 200
    return account, project.id, project.key


async def test_export_holds_everything_and_no_secret(gateway: httpx.AsyncClient) -> None:
    account, project_id, key = await _project_with_an_incident(gateway)
    refresh = (await gateway.post("/api/auth/dev-login", json={"login": account.login})).json()[
        "refresh_token"
    ]
    response = await gateway.get("/api/me/export", headers=account.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    export = json.loads(response.content)
    assert set(export) == {
        "user",
        "sessions",
        "projects",
        "ingest_keys",
        "path_mappings",
        "incidents",
        "incident_commits",
        "events",
        "audit_log",
    }
    assert [u["login"] for u in export["user"]] == [account.login]
    assert [p["id"] for p in export["projects"]] == [project_id]
    assert (
        len(export["ingest_keys"]) == 1
        and len(export["incidents"]) == 1
        and len(export["events"]) == 1
    )
    assert export["events"][0]["frames"][0]["file"] == "src/api/users.js"
    assert export["path_mappings"] == []
    assert {e["action"] for e in export["audit_log"]} >= {"user.sign_in", "project.create"}
    for secret in (key, refresh, account.token):
        assert secret not in response.text
    assert "hash" not in response.text


async def test_deleting_an_account_removes_everything_it_owns(
    gateway: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    account, project_id, key = await _project_with_an_incident(gateway)
    other, other_project_id, _ = await _project_with_an_incident(gateway)
    user_id, project = uuid.UUID(account.user_id), uuid.UUID(project_id)

    assert (await gateway.delete("/api/me", headers=account.headers)).status_code == 204

    # The call marked the account and its projects deleted and cleared who the user was; the
    # rows go behind it, each by the purge of the service that owns it.
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None and user.deleted_at is not None
        assert (user.login, user.name, user.provider_user_id) == (
            "deleted",
            None,
            f"deleted:{user_id}",
        )
        assert await session.scalar(select(Project.deleted_at).where(Project.id == project))
    assert await _ingest_status(gateway, key) == 401
    assert (await gateway.get("/api/projects", headers=account.headers)).json() == {"projects": []}
    # Its projects are not purged yet, so its row stays. (The purges cover the whole database,
    # which other tests share: what they remove is checked by this account's rows, not counted.)
    await UserPurge(sessions).run()
    async with sessions() as session:
        assert await session.get(User, user_id) is not None
    await PurgeJob(sessions).run()
    await ProjectPurge(sessions).run()
    assert await UserPurge(sessions).run() >= 1

    async with sessions() as session:
        for table, column, value in (
            (User, User.id, user_id),
            (Project, Project.id, project),
            (IngestKey, IngestKey.project_id, project),
            (Incident, Incident.project_id, project),
            (Event, Event.project_id, project),
            (RefreshToken, RefreshToken.user_id, user_id),
        ):
            assert (
                await session.scalar(select(func.count()).select_from(table).where(column == value))
                == 0
            )
        remaining = (
            await session.scalars(select(AuditEntry).where(AuditEntry.project_id == project))
        ).all()
        assert remaining, "the audit trail outlives the account"
        assert all(
            e.actor_user_id is None and e.source_ip is None and e.details == {} for e in remaining
        )
        assert (
            await session.scalar(
                select(func.count())
                .select_from(Project)
                .where(Project.id == uuid.UUID(other_project_id))
            )
            == 1
        )

    assert await _ingest_status(gateway, key) in (401, 403)
    # The access token outlives the account by at most its hour, and opens nothing.
    assert (
        await gateway.post(
            "/api/projects", json={"name": "x", "repo": "octo/x"}, headers=account.headers
        )
    ).status_code == 401
    assert (await gateway.get("/api/projects", headers=account.headers)).json() == {"projects": []}
    assert (await gateway.get("/api/me", headers=other.headers)).status_code == 200
