"""Rate limits, counted in real Redis and shared by two gateway replicas; and a flood of
wrong keys, which costs AuthService little and leaves no key in any log."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from services.gateway.app import create_app
from stackline_contract import keyformat
from tests.conftest import GATEWAY_URL, Stack, gateway_settings
from tests.support.api import create_project, node_event, sign_in
from tests.support.redis import redis_url

Replicas = tuple[httpx.AsyncClient, httpx.AsyncClient]


def _address() -> str:
    # Each test its own client address, so runs sharing one Redis do not share counts.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
async def replicas(stack: Stack) -> AsyncIterator[Replicas]:
    """Two gateways over the same services and the same Redis, as two pods would be."""
    settings = gateway_settings(
        stack.targets,
        redis_url=redis_url(),
        ingest_events_per_minute=0,
        ingest_burst_per_second=0,
        api_requests_per_minute=6,
        failed_credentials_per_minute=5,
    )
    address = _address()
    async with AsyncExitStack() as stack_:
        clients = []
        for _ in range(2):
            app = create_app(settings)
            await stack_.enter_async_context(app.router.lifespan_context(app))
            # The dev-login route wants loopback; everything else sees `address`.
            transport = httpx.ASGITransport(app=app, client=(address, 5000))
            clients.append(
                await stack_.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL)
                )
            )
        yield clients[0], clients[1]


async def test_per_user_api_limit_is_shared_by_replicas(
    replicas: Replicas, gateway: httpx.AsyncClient
) -> None:
    account = await sign_in(gateway)
    first, second = replicas
    statuses = [
        (await client.get("/api/projects", headers=account.headers)).status_code
        for client in (first, second, first, second, first, second, first)
    ]
    assert statuses[:6] == [200] * 6
    assert statuses[6] == 429
    refused = await second.get("/api/projects", headers=account.headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"


async def test_bad_credentials_from_one_address_are_cut_off(replicas: Replicas) -> None:
    first, second = replicas
    statuses = [
        (
            await client.get("/api/projects", headers={"Authorization": "Bearer not-a-token"})
        ).status_code
        for client in (first, second, first, second, first, second)
    ]
    assert statuses == [401] * 5 + [429]


async def test_ingest_limits_per_key_count_events_not_requests(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    project = await create_project(gateway, await sign_in(gateway))
    settings = gateway_settings(
        stack.targets, redis_url=redis_url(), ingest_events_per_minute=0, ingest_burst_per_second=5
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(_address(), 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
            batch = await client.post(
                "/api/ingest",
                json={"events": [node_event() for _ in range(4)]},
                headers=project.headers,
            )
            assert batch.status_code == 200
            over = await client.post(
                "/api/ingest",
                json={"events": [node_event() for _ in range(2)]},
                headers=project.headers,
            )
            assert over.status_code == 429
            assert over.headers["retry-after"] == "1"


async def test_without_redis_each_gateway_counts_alone(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    account = await sign_in(gateway)
    app = create_app(gateway_settings(stack.targets, api_requests_per_minute=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(_address(), 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
            statuses = [
                (await client.get("/api/me", headers=account.headers)).status_code for _ in range(3)
            ]
    assert statuses == [200, 200, 429]


def _resolve_calls() -> float:
    return (
        REGISTRY.get_sample_value(
            "stackline_auth_rpc_requests_total",
            {"method": "ResolveIngestKey", "code": "UNAUTHENTICATED"},
        )
        or 0.0
    )


async def test_ten_thousand_wrong_keys(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(
        gateway_settings(stack.targets, redis_url=redis_url(), failed_credentials_per_minute=100)
    )
    keys = [keyformat.generate() for _ in range(9_000)] + [
        keyformat.generate()[:-1] + "0" for _ in range(1_000)
    ]
    before = _resolve_calls()
    statuses: dict[int, int] = {}
    caplog.set_level(logging.INFO, logger="services.gateway")
    body = orjson.dumps(node_event())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(_address(), 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
            # In a row: the first 100 one by one, so that exactly those reach the limiter's count.
            for key in keys[:100]:
                response = await client.post(
                    "/api/ingest", content=body, headers={"Authorization": f"Bearer {key}"}
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            async def send(key: str) -> int:
                response = await client.post(
                    "/api/ingest", content=body, headers={"Authorization": f"Bearer {key}"}
                )
                return response.status_code

            for start in range(100, len(keys), 100):
                for status in await asyncio.gather(*(send(k) for k in keys[start : start + 100])):
                    statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) == {401, 429}
    assert statuses[401] == 100
    # Only the first hundred reached AuthService; the rest were refused at the door.
    assert _resolve_calls() - before <= 100
    # Every refusal is in the log, and no key is.
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused an ingest key")]
    assert len(refusals) == len(keys)
    logged = caplog.text
    assert not any(key in logged for key in keys)
