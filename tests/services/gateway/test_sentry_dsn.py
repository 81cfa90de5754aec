"""The DSN shown next to each project and key: its public part resolves as the key does (same
cache, same refusals, same failed-credential count), works on Sentry's routes only, and is
refused on another project's path; DSNs handed out before, the key itself, keep working."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.app import create_app
from stackline_contract import keyformat
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.schema import Event, IngestKey, Project
from tests.conftest import GATEWAY_URL, Stack, gateway_settings
from tests.contract.test_keyformat import ISSUED_KEY, ISSUED_KEY_DIGEST
from tests.services.gateway.test_sentry_envelopes import auth, envelope, event_item, python_event
from tests.support.api import Account, ProjectWithKey, create_project, node_event, sign_in

# Golden: a DSN as the gateway handed it out before keys had a public part, its user name the
# ingest key itself (ISSUED_KEY), for a project with this id. Apps hold such DSNs in their
# settings for years: never regenerate it.
ISSUED_DSN_PROJECT = "0b7e9c2a-5d1f-4c3e-9a8b-6f2d4e1c7a90"
ISSUED_DSN = (
    "http://slk_cawJMpV1ivyqbFXNOgCOaoj3Zc0BzdLZMMqN3WtpBz@stackline.test/"
    "15278904770110400811305127203439409808"
)


@pytest.fixture
async def account(gateway: httpx.AsyncClient) -> Account:
    return await sign_in(gateway)


@pytest.fixture
async def project(gateway: httpx.AsyncClient, account: Account) -> ProjectWithKey:
    return await create_project(gateway, account)


def _parts(dsn: str) -> tuple[str, str]:
    """A DSN's public key and the path its SDK posts envelopes to."""
    parts = urlsplit(dsn)
    assert parts.username is not None
    return parts.username, f"/api{parts.path}/envelope/"


async def _send(gateway: httpx.AsyncClient, dsn: str) -> httpx.Response:
    """An event sent as sentry-sdk sends it with this DSN: X-Sentry-Auth, the DSN's path."""
    public_key, path = _parts(dsn)
    return await gateway.post(
        path, content=envelope(event_item(python_event())), headers=auth(public_key)
    )


async def _stored(engine: AsyncEngine, project_id: str) -> int:
    async with create_sessionmaker(engine)() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.project_id == uuid.UUID(project_id))
        )
    return count or 0


async def _listed_dsn(gateway: httpx.AsyncClient, account: Account, project_id: str) -> str:
    listed = await gateway.get("/api/projects", headers=account.headers)
    assert listed.status_code == 200, listed.text
    (entry,) = [p for p in listed.json()["projects"] if p["id"] == project_id]
    return str(entry["dsn"])


async def test_the_dsn_is_shown_next_to_the_project_and_each_key_at_any_time(
    gateway: httpx.AsyncClient, account: Account, engine: AsyncEngine
) -> None:
    created = await gateway.post(
        "/api/projects",
        json={"name": "Shop", "repo": f"{account.login}/shop"},
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    project_id, secret, dsn = body["project"]["id"], body["ingest_key"], body["dsn"]
    public_key, _ = _parts(dsn)
    assert keyformat.is_well_formed_public(public_key)
    assert dsn == f"http://{public_key}@stackline.test/{uuid.UUID(project_id).int}"
    assert body["project"]["dsn"] == dsn
    assert body["project"]["ingest_keys"][0]["dsn"] == dsn

    # Shown again, next to the project and its key; the key itself never is.
    listed = await gateway.get("/api/projects", headers=account.headers)
    detail = await gateway.get(f"/api/projects/{project_id}", headers=account.headers)
    assert await _listed_dsn(gateway, account, project_id) == dsn
    assert detail.json()["project"]["dsn"] == dsn
    assert detail.json()["project"]["ingest_keys"][0]["dsn"] == dsn
    assert secret not in listed.text and secret not in detail.text

    # A key made later is the project's DSN from then on; each key keeps its own.
    second = await gateway.post(f"/api/projects/{project_id}/keys", headers=account.headers)
    assert second.status_code == 201, second.text
    second_dsn = second.json()["dsn"]
    assert second.json()["key"]["dsn"] == second_dsn != dsn
    assert await _listed_dsn(gateway, account, project_id) == second_dsn
    detail = await gateway.get(f"/api/projects/{project_id}", headers=account.headers)
    assert [k["dsn"] for k in detail.json()["project"]["ingest_keys"]] == [dsn, second_dsn]
    renamed = await gateway.patch(
        f"/api/projects/{project_id}", json={"name": "Shop 2"}, headers=account.headers
    )
    assert renamed.json()["project"]["dsn"] == second_dsn

    # Both DSNs send, by each way the SDKs carry the key.
    for shown in (dsn, second_dsn):
        assert (await _send(gateway, shown)).status_code == 200
    by_query = await gateway.post(
        _parts(dsn)[1],
        params={"sentry_key": public_key, "sentry_version": "7"},
        content=envelope(event_item(python_event())),
    )
    assert by_query.status_code == 200, by_query.text
    in_header = await gateway.post(
        _parts(dsn)[1], content=envelope(event_item(python_event()), header={"dsn": dsn})
    )
    assert in_header.status_code == 200, in_header.text
    assert await _stored(engine, project_id) == 4

    # The public part is for Sentry's routes: POST /api/ingest takes the ingest key only.
    native = await gateway.post(
        "/api/ingest", json=node_event(), headers={"Authorization": f"Bearer {public_key}"}
    )
    assert native.status_code == 401, native.text
    assert await _stored(engine, project_id) == 4


async def test_another_projects_dsn_is_refused_on_this_projects_path(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    other = await create_project(gateway, account)
    this_dsn = await _listed_dsn(gateway, account, project.id)
    other_dsn = await _listed_dsn(gateway, account, other.id)
    _, this_path = _parts(this_dsn)
    other_key, _ = _parts(other_dsn)
    body = envelope(event_item(python_event()))

    by_header = await gateway.post(this_path, content=body, headers=auth(other_key))
    by_query = await gateway.post(this_path, params={"sentry_key": other_key}, content=body)
    in_envelope = await gateway.post(
        this_path, content=envelope(event_item(python_event()), header={"dsn": other_dsn})
    )
    for refused in (by_header, by_query, in_envelope):
        assert refused.status_code == 403, refused.text
    assert await _stored(engine, project.id) == 0
    assert await _stored(engine, other.id) == 0


async def test_a_dsn_handed_out_before_keys_had_public_parts_keeps_working(
    gateway: httpx.AsyncClient, account: Account, engine: AsyncEngine
) -> None:
    # The project and key rows as an earlier release wrote them (the key's hash, never the key),
    # with the public part migration 0006 gave the key.
    project_id = uuid.UUID(ISSUED_DSN_PROJECT)
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        session.add(
            Project(
                id=project_id,
                owner_id=uuid.UUID(account.user_id),
                name="Shop",
                repo=f"{account.login}/shop",
                retention_days=90,
            )
        )
        await session.flush()
        session.add(
            IngestKey(
                project_id=project_id,
                prefix="slk_cawJMp",
                key_hash=bytes.fromhex(ISSUED_KEY_DIGEST),
                public_key=keyformat.generate_public(),
            )
        )
    try:
        assert _parts(ISSUED_DSN)[0] == ISSUED_KEY
        sent = await _send(gateway, ISSUED_DSN)
        assert sent.status_code == 200, sent.text
        assert await _stored(engine, ISSUED_DSN_PROJECT) == 1
        # The project now shows its new DSN, which works beside the old one.
        shown = await _listed_dsn(gateway, account, ISSUED_DSN_PROJECT)
        assert shown != ISSUED_DSN and _parts(shown)[1] == _parts(ISSUED_DSN)[1]
        assert (await _send(gateway, shown)).status_code == 200
    finally:
        # The golden key's hash is unique: leave the shared database without it.
        async with sessions.begin() as session:
            await session.execute(delete(Project).where(Project.id == project_id))


def _resolve_calls(code: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "stackline_auth_rpc_requests_total", {"method": "ResolveIngestKey", "code": code}
        )
        or 0.0
    )


@pytest.fixture
async def strict_gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway that refuses an address after three bad credentials a minute."""
    app = create_app(gateway_settings(stack.targets, failed_credentials_per_minute=3))
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
            yield client


async def test_public_parts_are_cached_refused_and_counted_as_keys_are(
    gateway: httpx.AsyncClient, account: Account, strict_gateway: httpx.AsyncClient
) -> None:
    project = await create_project(gateway, account)
    dsn = await _listed_dsn(gateway, account, project.id)

    # Resolved once, then served from the cache.
    before = _resolve_calls("OK")
    for _ in range(3):
        assert (await _send(strict_gateway, dsn)).status_code == 200
    assert _resolve_calls("OK") - before == 1

    # An unknown public part costs one lookup, its refusal cached; a mistyped one (its checksum
    # wrong) costs none. Each counts against the address, which is then refused with 429.
    public_key, path = _parts(dsn)
    unknown = keyformat.generate_public()
    mistyped = public_key[:-1] + ("A" if public_key[-1] != "A" else "B")
    before = _resolve_calls("UNAUTHENTICATED")
    body = envelope(event_item(python_event()))
    statuses = [
        (await strict_gateway.post(path, content=body, headers=auth(key))).status_code
        for key in (unknown, unknown, mistyped, unknown)
    ]
    assert statuses == [401, 401, 401, 429]
    assert _resolve_calls("UNAUTHENTICATED") - before == 1
    # A credential that verifies still passes from that address.
    assert (await _send(strict_gateway, dsn)).status_code == 200
