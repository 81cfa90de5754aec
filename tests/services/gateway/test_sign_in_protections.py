"""Sign-in routes under abuse: limits per address and in total, bad GitHub and refresh tokens
counted as failed credentials, answers with tokens kept out of caches, the PKCE verifier kept
out of the database, and the JSON nesting limit the docs state."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.app import create_app
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.schema import OAuthState
from tests.conftest import GATEWAY_URL, GITHUB_CLIENT_ID, Stack, gateway_settings
from tests.support.api import create_project, node_event, sign_in
from tools.github_standin import GitHubStandin

Client = Callable[[str], httpx.AsyncClient]


def _address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@asynccontextmanager
async def _gateway(stack: Stack, **settings: object) -> AsyncIterator[Client]:
    """One gateway (limits counted in its memory), and a client for it per caller address."""
    app = create_app(gateway_settings(stack.targets, **settings))
    async with app.router.lifespan_context(app):
        clients: list[httpx.AsyncClient] = []

        def client(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 5000))
            made = httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL)
            clients.append(made)
            return made

        try:
            yield client
        finally:
            for made in clients:
                await made.aclose()


async def _states(engine: AsyncEngine) -> int:
    async with create_sessionmaker(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(OAuthState)) or 0)


async def test_browser_sign_in_starts_are_limited_per_address_and_write_no_more_states(
    stack: Stack, engine: AsyncEngine
) -> None:
    async with _gateway(stack, sign_in_per_address_per_minute=5) as client:
        noisy = client(_address())
        before = await _states(engine)
        statuses = [(await noisy.get("/api/auth/github/login")).status_code for _ in range(8)]
        assert statuses == [302] * 5 + [429] * 3
        assert await _states(engine) - before == 5
        refused = await noisy.get("/api/auth/github/login")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Another address is not held back by this one.
        assert (await client(_address()).get("/api/auth/github/login")).status_code == 302


async def test_every_sign_in_route_counts_against_a_limit_for_the_whole_instance(
    stack: Stack,
) -> None:
    calls: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", "/api/auth/github/login", None),
        ("POST", "/api/auth/device/start", {}),
        ("POST", "/api/auth/token", {"github_token": "gho_" + "z" * 36}),
        ("POST", "/api/auth/refresh", {"refresh_token": "slr_" + "z" * 43}),
        ("POST", "/api/auth/device/poll", {"device_code": "0" * 40}),
        ("GET", "/api/auth/github/callback?code=x&state=y", None),
        ("POST", "/api/auth/logout", {"refresh_token": "slr_" + "z" * 43}),
    ]
    for method, path, body in calls:
        async with _gateway(stack, sign_in_per_minute=2, failed_credentials_per_minute=0) as client:
            statuses = [
                (await client(_address()).request(method, path, json=body)).status_code
                for _ in range(3)
            ]
        assert 429 not in statuses[:2], (path, statuses)
        assert statuses[2] == 429, (path, statuses)


async def test_bad_github_and_refresh_tokens_count_as_failed_credentials(
    stack: Stack, github_standin: GitHubStandin, gateway: httpx.AsyncClient
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    async with _gateway(stack, failed_credentials_per_minute=4) as client:
        noisy = client(_address())
        bad_github = {"github_token": "gho_" + "q" * 36}
        bad_refresh = {"refresh_token": "slr_" + "q" * 43}
        statuses = [
            (await noisy.post("/api/auth/token", json=bad_github)).status_code,
            (await noisy.post("/api/auth/refresh", json=bad_refresh)).status_code,
            (await noisy.post("/api/auth/token", json=bad_github)).status_code,
            (await noisy.post("/api/auth/refresh", json=bad_refresh)).status_code,
            (await noisy.post("/api/auth/refresh", json=bad_refresh)).status_code,
            (await noisy.get("/api/me", headers={"Authorization": "Bearer nope"})).status_code,
        ]
        assert statuses == [401] * 4 + [429] * 2
        # What verifies still passes from that address (docs/identity.md).
        good = github_standin.issue_token("octocat", client_id=GITHUB_CLIENT_ID)
        assert (await noisy.post("/api/auth/token", json={"github_token": good})).status_code == 200
        ingest = await noisy.post("/api/ingest", json=node_event(), headers=project.headers)
        assert ingest.status_code == 200


async def test_answers_that_carry_tokens_are_not_stored_by_caches(
    stack: Stack, github_standin: GitHubStandin
) -> None:
    async with _gateway(stack) as client:
        local = client("127.0.0.1")
        session = await local.post("/api/auth/dev-login", json={"login": "cache-check"})
        good = github_standin.issue_token("octocat", client_id=GITHUB_CLIENT_ID)
        answers = {
            "dev-login": session,
            "token": await local.post("/api/auth/token", json={"github_token": good}),
            "refresh": await local.post(
                "/api/auth/refresh", json={"refresh_token": session.json()["refresh_token"]}
            ),
            "device/start": await local.post("/api/auth/device/start", json={}),
            "github/login": await local.get("/api/auth/github/login"),
        }
        for route, answer in answers.items():
            assert answer.status_code in (200, 302), (route, answer.text)
            assert answer.headers.get("cache-control") == "no-store", route
            assert answer.headers.get("pragma") == "no-cache", route


async def test_the_pkce_verifier_is_not_stored(
    stack: Stack, engine: AsyncEngine, gateway: httpx.AsyncClient
) -> None:
    started = await gateway.get("/api/auth/github/login")
    query = parse_qs(urlsplit(started.headers["location"]).query)
    challenge, state = query["code_challenge"][0], query["state"][0]
    async with create_sessionmaker(engine)() as session:
        row = await session.get(OAuthState, hashlib.sha256(state.encode()).digest())
    assert row is not None
    stored = row.verifier_salt
    as_verifier = base64.urlsafe_b64encode(hashlib.sha256(stored.encode()).digest())
    assert as_verifier.rstrip(b"=").decode() != challenge
    assert state not in stored


def _nested(levels: int) -> bytes:
    """An event whose `tags` hold arrays nested so that the body is `levels` deep in all."""
    inner = levels - 2
    return b'{"platform": "node", "tags": {"a": ' + b"[" * inner + b"]" * inner + b"}}"


@pytest.mark.parametrize(("levels", "refused_as_json"), [(201, False), (202, True), (1025, True)])
async def test_json_nesting_is_refused_where_the_docs_say(
    gateway: httpx.AsyncClient, levels: int, refused_as_json: bool
) -> None:
    project = await create_project(gateway, await sign_in(gateway))
    answer = await gateway.post("/api/ingest", content=_nested(levels), headers=project.headers)
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert ("not valid JSON" in message) is refused_as_json, message


def test_nested_bodies_are_as_deep_as_named() -> None:
    def depth(value: object) -> int:
        if isinstance(value, dict):
            return 1 + max((depth(v) for v in value.values()), default=0)
        if isinstance(value, list):
            return 1 + max((depth(v) for v in value), default=0)
        return 0

    assert depth(orjson.loads(_nested(50))) == 50
