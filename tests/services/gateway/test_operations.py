"""Readiness, metrics, the OpenAPI document, and 503s while the database is away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from services.auth.server import build_host as build_auth
from services.auth.tokens import TokenIssuer
from services.gateway.app import create_app
from services.incidents.server import build_host as build_incidents
from services.ingest.server import build_host as build_ingest
from services.projects.server import build_host as build_projects
from stackline_infra.db.engine import create_engine
from tests.conftest import gateway_settings, github_client
from tests.support.api import create_project, node_event, sign_in
from tests.support.clocks import HANG_GUARD_SECONDS
from tests.support.tcp_proxy import TcpProxy
from tools.github_standin import GitHubStandin


async def test_ready_checks_every_service(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"auth": "ok", "projects": "ok", "ingest": "ok", "incidents": "ok"},
    }
    assert (await gateway.get("/health")).json() == {"status": "ok"}


async def test_metrics_use_route_templates_not_ids(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    await gateway.get(
        "/api/incidents/0b1e6f8e-0000-4000-8000-000000000001", headers=account.headers
    )
    text = (await gateway.get("/metrics")).text
    assert 'route="/api/incidents/{incident_id}"' in text
    assert "0b1e6f8e-0000" not in text
    assert "stackline_gateway_http_request_duration_seconds_bucket" in text


async def test_ingest_requests_are_counted_under_their_route(gateway: httpx.AsyncClient) -> None:
    # POST /api/ingest skips FastAPI's router, which otherwise names the route.
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    sent = await gateway.post("/api/ingest", json=node_event(), headers=project.headers)
    assert sent.status_code == 200
    refused = await gateway.post("/api/ingest", json={"nope": 1}, headers=project.headers)
    assert refused.status_code == 400
    text = (await gateway.get("/metrics")).text
    for status in (200, 400):
        assert (
            f'stackline_gateway_http_requests_total{{method="POST",route="/api/ingest",'
            f'status="{status}"}}'
        ) in text


async def test_openapi_declares_every_error_status(gateway: httpx.AsyncClient) -> None:
    spec = (await gateway.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = (method, path)
            statuses = set(operation["responses"])
            assert "422" not in statuses, where
            if not path.startswith("/api/"):
                continue
            # What any operation can answer, wherever it is declared.
            assert {"413", "429", "500", "503"} <= statuses, where
            # A valid access token of a deleted account is "no such user".
            if {"UserToken": []} in operation.get("security", []):
                assert {"401", "404"} <= statuses, where
            # Everything outside /api/auth/ needs a credential, and says so.
            assert ("security" in operation) is (not path.startswith("/api/auth/")), where
            if "security" in operation:
                assert "401" in statuses, where
            if "{" in path:
                assert "404" in statuses, where
            if "requestBody" in operation:
                assert "400" in statuses, where
    assert "413" in spec["paths"]["/api/ingest"]["post"]["responses"]
    # The envelope is any bytes, so that they can be sent to it (and answered 4xx).
    envelope = spec["paths"]["/api/{project_id}/envelope/"]["post"]["requestBody"]["content"]
    assert envelope["application/x-sentry-envelope"]["schema"]["format"] == "binary"
    ingest_body = spec["paths"]["/api/ingest"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in ingest_body["oneOf"]} <= set(
        spec["components"]["schemas"]
    )


@pytest.fixture
async def stack_behind_proxy(
    database_url: str, token_issuer: TokenIssuer, github_standin: GitHubStandin
) -> AsyncIterator[tuple[httpx.AsyncClient, TcpProxy]]:
    """Services whose every database connection runs through a proxy the test can cut."""
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    proxied = database_url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    engine = create_engine(proxied.replace("postgresql://", "postgresql+psycopg://", 1))
    hosts = {
        "auth": build_auth(
            engine,
            token_issuer,
            github_client(github_standin),
            dev_login_enabled=True,
            database_probe_seconds=0.2,
        ),
        "projects": build_projects(engine, database_probe_seconds=0.2),
        "ingest": build_ingest(engine, database_probe_seconds=0.2),
        "incidents": build_incidents(
            engine, github_web_url="https://github.com", database_probe_seconds=0.2
        ),
    }
    targets = {}
    for name, host in hosts.items():
        targets[name] = f"127.0.0.1:{host.bind('127.0.0.1:0')}"
        await host.start()
    app = create_app(gateway_settings(targets))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                yield client, proxy
    finally:
        for host in hosts.values():
            await host.stop(grace=1)
        await proxy.cut()
        await engine.dispose()


async def _until(check: object, seconds: float = HANG_GUARD_SECONDS) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_database_down_means_503_with_retry_after_and_recovery_after(
    stack_behind_proxy: tuple[httpx.AsyncClient, TcpProxy],
) -> None:
    client, proxy = stack_behind_proxy
    account = await sign_in(client)
    project = await create_project(client, account)
    assert (
        await client.post("/api/ingest", json=node_event(), headers=project.headers)
    ).status_code == 200

    await proxy.cut()
    event = node_event()
    refused = await client.post("/api/ingest", json=event, headers=project.headers)
    assert refused.status_code == 503
    assert refused.headers["retry-after"].isdigit()
    assert refused.json()["error"]["code"] == "unavailable"
    listed = await client.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    assert listed.status_code == 503

    async def not_ready() -> bool:
        response = await client.get("/ready")
        return response.status_code == 503 and "retry-after" in response.headers

    await _until(not_ready)

    await proxy.start()

    async def ready() -> bool:
        return (await client.get("/ready")).status_code == 200

    await _until(ready)
    # The event that was refused is accepted on retry, and counted once.
    assert (
        await client.post("/api/ingest", json=event, headers=project.headers)
    ).status_code == 200
    incidents = await client.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    assert incidents.json()["incidents"][0]["count"] == 2


async def test_an_unreachable_service_means_503() -> None:
    app = create_app(
        gateway_settings(
            {
                "auth": "127.0.0.1:1",
                "projects": "127.0.0.1:1",
                "ingest": "127.0.0.1:1",
                "incidents": "127.0.0.1:1",
            },
            rpc_deadline_seconds=1.0,
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40002))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            response = await client.post("/api/auth/dev-login", json={"login": "octocat"})
            assert response.status_code == 503
            assert "retry-after" in response.headers
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert set(ready.json()["checks"].values()) == {"unreachable"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/projects/01a24212-8ff3-7704-8fe5-4b1971974263", "DELETE, GET, PATCH"),
        ("PUT", "/api/incidents/01a24212-8ff3-7704-8fe5-4b1971974263", "GET, PATCH"),
        ("TRACE", "/api/me", "DELETE, GET"),
        ("GET", "/api/ingest", "POST"),
        ("DELETE", "/api/42/envelope/", "POST"),
        ("POST", "/openapi.json", "GET, HEAD"),  # not in the document: Starlette's own
    ],
)
async def test_a_method_a_path_does_not_take_is_405_with_every_method_it_does(
    gateway: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    # Routes that share a path are separate routes; Allow lists them all (RFC 9110 15.5.6).
    answer = await gateway.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.json()["error"]["code"] == "method_not_allowed"
