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


async def test_a_noisy_neighbour_does_not_lock_out_valid_credentials(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    """Behind one NAT (or a proxy with trusted_proxy_hops=0) everyone shares an address: one
    client's bad keys must not refuse the others' good ones."""
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    settings = gateway_settings(
        stack.targets, redis_url=redis_url(), failed_credentials_per_minute=120
    )
    app = create_app(settings)
    body = orjson.dumps(node_event())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(_address(), 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:

            async def ingest(key: str) -> int:
                response = await client.post(
                    "/api/ingest", content=body, headers={"Authorization": f"Bearer {key}"}
                )
                return response.status_code

            bad = [await ingest(keyformat.generate()) for _ in range(130)]
            assert bad == [401] * 120 + [429] * 10
            # A key this gateway never saw, and a token, from the same address: both verify.
            assert await ingest(project.key) == 200
            assert (await client.get("/api/me", headers=account.headers)).status_code == 200
            # Bad ones are still refused, and the good key, now cached, keeps working.
            assert await ingest(keyformat.generate()) == 429
            bad_token = await client.get("/api/me", headers={"Authorization": "Bearer nope"})
            assert bad_token.status_code == 429
            assert await ingest(project.key) == 200


async def test_behind_a_trusted_proxy_clients_are_counted_apart(stack: Stack) -> None:
    app = create_app(
        gateway_settings(
            stack.targets,
            redis_url=redis_url(),
            failed_credentials_per_minute=3,
            trusted_proxy_hops=1,
        )
    )
    noisy, quiet = _address(), _address()
    bad = {"Authorization": "Bearer not-a-token"}
    async with app.router.lifespan_context(app):
        # Every request comes from the proxy's socket; the proxy appends the client's address.
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:

            async def call(address: str) -> int:
                headers = {**bad, "X-Forwarded-For": f"203.0.113.99, {address}"}
                return (await client.get("/api/me", headers=headers)).status_code

            assert [await call(noisy) for _ in range(4)] == [401, 401, 401, 429]
            assert await call(quiet) == 401


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
        gateway_settings(
            stack.targets,
            redis_url=redis_url(),
            failed_credentials_per_minute=100,
        )
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
            # In a row: the first 101 one by one, so that exactly those reach the limiter's count
            # when the 101st is answered.
            in_a_row = []
            for key in keys[:101]:
                response = await client.post(
                    "/api/ingest", content=body, headers={"Authorization": f"Bearer {key}"}
                )
                in_a_row.append(response.status_code)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            async def send(key: str) -> int:
                response = await client.post(
                    "/api/ingest", content=body, headers={"Authorization": f"Bearer {key}"}
                )
                return response.status_code

            for start in range(101, len(keys), 100):
                for status in await asyncio.gather(*(send(k) for k in keys[start : start + 100])):
                    statuses[status] = statuses.get(status, 0) + 1
    assert in_a_row == [401] * 100 + [429]
    # Then only refusals; how many more 401s depends on how far the sliding window moved on.
    assert set(statuses) == {401, 429}
    # Each well-formed key cost AuthService one lookup (a key that verifies must pass, whatever
    # its address did); a wrong checksum cost none (a key whose last character was "0" already
    # kept its checksum).
    assert _resolve_calls() - before == sum(keyformat.is_well_formed(k) for k in keys)
    # Every refusal is in the log, and no key is.
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused an ingest key")]
    assert len(refusals) == len(keys)
    logged = caplog.text
    assert not any(key in logged for key in keys)


async def test_ingest_limits_are_per_project_and_refused_events_cost_nothing(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    second_key = await gateway.post(f"/api/projects/{project.id}/keys", headers=account.headers)
    assert second_key.status_code == 201
    keys = [project.headers, {"Authorization": f"Bearer {second_key.json()['ingest_key']}"}]
    settings = gateway_settings(
        stack.targets, ingest_events_per_minute=8, ingest_burst_per_second=6
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(_address(), 5000))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:

            async def send(events: int, key: dict[str, str]) -> httpx.Response:
                body = {"events": [node_event() for _ in range(events)]}
                return await client.post("/api/ingest", json=body, headers=key)

            # Seven at once is over the burst: refused, and not counted against the minute.
            burst = await send(7, keys[0])
            assert burst.status_code == 429
            assert "ingest_burst" in burst.json()["error"]["message"]
            assert (await send(5, keys[0])).status_code == 200
            # The project's other key shares the project's minute: 5 + 4 is over 8.
            over = await send(4, keys[1])
            assert over.status_code == 429
            assert "ingest_per_minute" in over.json()["error"]["message"]


async def test_a_project_holds_at_most_ten_working_keys(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    created = [
        await gateway.post(f"/api/projects/{project.id}/keys", headers=account.headers)
        for _ in range(10)
    ]
    assert [c.status_code for c in created] == [201] * 9 + [409]
    assert "revoke one first" in created[-1].json()["error"]["message"]
    revoked = await gateway.delete(
        f"/api/projects/{project.id}/keys/{created[0].json()['key']['id']}",
        headers=account.headers,
    )
    assert revoked.status_code == 200
    again = await gateway.post(f"/api/projects/{project.id}/keys", headers=account.headers)
    assert again.status_code == 201
