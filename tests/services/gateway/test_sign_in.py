"""Signing in with GitHub (browser, editor token, device flow) against the GitHub stand-in,
and sessions: refresh rotation, copied refresh tokens, sign-out, signing-key rotation."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.server import build_host as build_auth
from services.auth.tokens import RetiredKey, SigningKey, TokenIssuer
from services.gateway.app import create_app
from services.gateway.routers.auth import STATE_COOKIE
from tests.conftest import (
    GATEWAY_URL,
    GITHUB_CALLBACK,
    GITHUB_CLIENT_ID,
    Stack,
    gateway_settings,
    github_client,
)
from tests.support.clocks import HANG_GUARD_SECONDS, FakeClock
from tools.github_standin import GitHubStandin


@pytest.fixture
def clock(github_standin: GitHubStandin) -> Iterator[FakeClock]:
    fake = FakeClock(time.monotonic())
    github_standin.clock = fake
    yield fake
    github_standin.clock = time.monotonic


@pytest.fixture(autouse=True)
def healthy_github(github_standin: GitHubStandin) -> Iterator[None]:
    yield
    github_standin.heal()


async def _start_browser_login(gateway: httpx.AsyncClient) -> tuple[str, str]:
    """(GitHub authorize URL, the state cookie the browser got)."""
    started = await gateway.get("/api/auth/github/login")
    assert started.status_code == 302
    cookie = started.cookies[STATE_COOKIE]
    set_cookie = started.headers["set-cookie"].lower()
    assert (
        "httponly" in set_cookie
        and "samesite=lax" in set_cookie
        and "path=/api/auth/github" in set_cookie
    )
    return started.headers["location"], cookie


async def _at_github(authorize_url: str, choice: dict[str, str]) -> dict[str, str]:
    """The browser at GitHub: press a button; returns the query GitHub sends it back with."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.post(authorize_url, data=choice, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == GITHUB_CALLBACK
    return {k: v[0] for k, v in parse_qs(back.query).items()}


async def _authorize_at_github(authorize_url: str, login: str = "octocat") -> dict[str, str]:
    return await _at_github(authorize_url, {"login": login})


async def _callback(
    gateway: httpx.AsyncClient, query: dict[str, str], cookie: str | None
) -> httpx.Response:
    """The browser back at Stackline, carrying the state cookie it was given (or not)."""
    gateway.cookies.clear()
    if cookie is not None:
        gateway.cookies.set(STATE_COOKIE, cookie, path="/api/auth/github")
    try:
        return await gateway.get("/api/auth/github/callback", params=query)
    finally:
        gateway.cookies.clear()


async def test_browser_sign_in_with_pkce(
    gateway: httpx.AsyncClient, github_standin: GitHubStandin
) -> None:
    authorize_url, cookie = await _start_browser_login(gateway)
    asked = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(f"{github_standin.web_url}/login/oauth/authorize?")
    assert asked["scope"] == ["read:user"]
    assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"]
    assert asked["state"] == [cookie]
    assert "client_secret" not in authorize_url

    signed_in = await _callback(gateway, await _authorize_at_github(authorize_url), cookie)
    assert signed_in.status_code == 200, signed_in.text
    session = signed_in.json()
    assert session["user"]["login"] == "octocat"
    assert session["user"]["provider"] == "github"
    assert session["user"]["name"] == "Mona Lisa Octocat"
    assert (
        "max-age=0" in signed_in.headers["set-cookie"].lower()
        or "expires=" in signed_in.headers["set-cookie"].lower()
    )
    me = await gateway.get(
        "/api/me", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert me.json()["user"]["id"] == session["user"]["id"]

    # The same GitHub account signing in again is the same Stackline user.
    authorize_url, cookie = await _start_browser_login(gateway)
    again = await _callback(gateway, await _authorize_at_github(authorize_url), cookie)
    assert again.json()["user"]["id"] == session["user"]["id"]


async def test_forged_state_replayed_code_and_refusals(gateway: httpx.AsyncClient) -> None:
    authorize_url, cookie = await _start_browser_login(gateway)
    query = await _authorize_at_github(authorize_url)

    for forged_cookie in (None, "someone-elses-state"):
        refused = await _callback(gateway, query, forged_cookie)
        assert refused.status_code == 400
        assert refused.json()["error"]["field"] == "state"

    assert (await _callback(gateway, query, cookie)).status_code == 200
    # The state is spent: the same callback again is refused.
    replayed = await _callback(gateway, query, cookie)
    assert replayed.status_code == 400
    assert replayed.json()["error"]["field"] == "state"

    # A spent code with a fresh, genuine state: GitHub refuses the code.
    _, fresh_cookie = await _start_browser_login(gateway)
    reused = await _callback(gateway, {"code": query["code"], "state": fresh_cookie}, fresh_cookie)
    assert reused.status_code == 400
    assert reused.json()["error"]["field"] == "code"

    authorize_url, cookie = await _start_browser_login(gateway)
    denied_query = await _at_github(authorize_url, {"cancel": "1"})
    denied = await _callback(gateway, denied_query, cookie)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "access_denied"


@pytest.mark.parametrize("failure", ["500", "html", "hang"])
async def test_github_down_is_503_not_a_hang(
    gateway: httpx.AsyncClient, github_standin: GitHubStandin, failure: str
) -> None:
    token = github_standin.issue_token("octocat")
    if failure == "500":
        github_standin.fail_with_status(500)
    elif failure == "html":
        github_standin.fail_with_html(503)
    else:
        # An hour: only AuthService's own timeout (2 s here) can end the call within the guard.
        github_standin.hang(3600)
    answer = await asyncio.wait_for(
        gateway.post("/api/auth/token", json={"github_token": token}), HANG_GUARD_SECONDS
    )
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"].isdigit()
    assert token not in answer.text


async def test_editor_token_exchange(
    gateway: httpx.AsyncClient, github_standin: GitHubStandin
) -> None:
    token = github_standin.issue_token("hubot", client_id=GITHUB_CLIENT_ID)
    signed_in = await gateway.post("/api/auth/token", json={"github_token": token})
    assert signed_in.status_code == 200
    assert signed_in.json()["user"]["login"] == "hubot"

    github_standin.revoke_token(token)
    refused = await gateway.post("/api/auth/token", json={"github_token": token})
    assert refused.status_code == 401
    assert (
        await gateway.post("/api/auth/token", json={"github_token": "gho_" + "x" * 36})
    ).status_code == 401
    assert (await gateway.post("/api/auth/token", json={"token": token})).status_code == 400


async def test_a_github_token_of_another_app_or_without_read_user_signs_no_one_in(
    gateway: httpx.AsyncClient, github_standin: GitHubStandin
) -> None:
    # Minted for some other site's OAuth app (or VS Code's): GitHub says it is not Stackline's.
    foreign = github_standin.issue_token("octocat")
    refused = await gateway.post("/api/auth/token", json={"github_token": foreign})
    assert refused.status_code == 401
    assert "not issued to Stackline's GitHub app" in refused.json()["error"]["message"]
    # Stackline's own app, but granted no scope: it says nothing about meaning to sign in.
    for scopes in ([], ["repo"]):
        bare = github_standin.issue_token("octocat", scopes, client_id=GITHUB_CLIENT_ID)
        refused = await gateway.post("/api/auth/token", json={"github_token": bare})
        assert refused.status_code == 401
        assert "read:user" in refused.json()["error"]["message"]
    # `user` includes read:user.
    broad = github_standin.issue_token("octocat", ["user"], client_id=GITHUB_CLIENT_ID)
    assert (await gateway.post("/api/auth/token", json={"github_token": broad})).status_code == 200
    checks = [p for m, p in github_standin.requests if p.endswith(f"/{GITHUB_CLIENT_ID}/token")]
    assert checks, "AuthService never asked GitHub whose token it was"


async def test_an_operator_can_accept_other_apps_tokens_with_read_user(
    engine: AsyncEngine, stack: Stack, token_issuer: TokenIssuer, github_standin: GitHubStandin
) -> None:
    host = build_auth(
        engine,
        token_issuer,
        github_client(github_standin),
        dev_login_enabled=False,
        accept_other_app_tokens=True,
    )
    port = host.bind("127.0.0.1:0")
    await host.start()
    try:
        app = create_app(gateway_settings({**stack.targets, "auth": f"127.0.0.1:{port}"}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40012))
            async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:

                async def exchange(token: str) -> httpx.Response:
                    return await client.post("/api/auth/token", json={"github_token": token})

                editor = github_standin.issue_token("octocat")  # VS Code's sign-in, say
                signed_in = await exchange(editor)
                assert signed_in.status_code == 200, signed_in.text
                assert signed_in.json()["user"]["login"] == "octocat"
                # Still not one without the scope, nor one GitHub does not know.
                assert (
                    await exchange(github_standin.issue_token("octocat", []))
                ).status_code == 401
                assert (await exchange("gho_" + "y" * 36)).status_code == 401
    finally:
        await host.stop(grace=1)


async def test_device_flow(
    gateway: httpx.AsyncClient, github_standin: GitHubStandin, clock: FakeClock
) -> None:
    started = (await gateway.post("/api/auth/device/start")).json()
    assert started["verification_uri"].startswith(github_standin.web_url)
    poll = {"device_code": started["device_code"]}

    pending = await gateway.post("/api/auth/device/poll", json=poll)
    assert pending.status_code == 400
    assert pending.json()["error"]["code"] == "authorization_pending"
    too_fast = await gateway.post("/api/auth/device/poll", json=poll)
    assert too_fast.json()["error"]["code"] == "slow_down"
    assert int(too_fast.headers["retry-after"]) >= started["interval"]

    github_standin.approve_device(started["user_code"], "octocat")
    clock.advance(60)
    signed_in = await gateway.post("/api/auth/device/poll", json=poll)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["login"] == "octocat"

    denied_start = (await gateway.post("/api/auth/device/start")).json()
    github_standin.deny_device(denied_start["user_code"])
    denied = await gateway.post(
        "/api/auth/device/poll", json={"device_code": denied_start["device_code"]}
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "access_denied"

    expiring = (await gateway.post("/api/auth/device/start")).json()
    clock.advance(expiring["expires_in"] + 1)
    expired = await gateway.post(
        "/api/auth/device/poll", json={"device_code": expiring["device_code"]}
    )
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "expired_token"


async def test_refresh_tokens_rotate_and_a_copy_ends_the_session(
    gateway: httpx.AsyncClient,
) -> None:
    first = (await gateway.post("/api/auth/dev-login", json={"login": "refresher"})).json()
    second = await gateway.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["user"]["id"] == first["user"]["id"]
    assert (
        await gateway.get("/api/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    ).status_code == 200

    # The first token again: it was copied. Both it and its successor stop working.
    copied = await gateway.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert copied.status_code == 401
    ended = await gateway.post(
        "/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert ended.status_code == 401

    other = (await gateway.post("/api/auth/dev-login", json={"login": "refresher"})).json()
    assert (
        await gateway.post("/api/auth/logout", json={"refresh_token": other["refresh_token"]})
    ).status_code == 204
    assert (
        await gateway.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]})
    ).status_code == 401
    assert (
        await gateway.post("/api/auth/refresh", json={"refresh_token": "slr_nope"})
    ).status_code == 401


async def test_tokens_signed_before_a_key_rotation_stay_valid(
    engine: AsyncEngine, stack: Stack, token_issuer: TokenIssuer, github_standin: GitHubStandin
) -> None:
    old_token = (await _dev_login_with(stack.targets, "rotation")).json()["access_token"]
    new_key = SigningKey.from_private_key(Ed25519PrivateKey.generate())
    rotated = TokenIssuer(
        key=new_key,
        issuer=token_issuer.issuer,
        audience=token_issuer.audience,
        ttl=timedelta(hours=1),
        retired=(RetiredKey(token_issuer.key.public_jwk()),),
    )
    unrelated = TokenIssuer(
        key=SigningKey.from_private_key(Ed25519PrivateKey.generate()),
        issuer=token_issuer.issuer,
        audience=token_issuer.audience,
        ttl=timedelta(hours=1),
    )
    host = build_auth(engine, rotated, github_client(github_standin), dev_login_enabled=True)
    port = host.bind("127.0.0.1:0")
    await host.start()
    try:
        targets = {**stack.targets, "auth": f"127.0.0.1:{port}"}
        new_token = (await _dev_login_with(targets, "rotation")).json()["access_token"]
        stranger_token, _ = unrelated.issue(user_id=uuid.uuid4(), login="x", now=datetime.now(UTC))
        app = create_app(gateway_settings(targets))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40010))
            async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
                for token, expected in ((old_token, 200), (new_token, 200), (stranger_token, 401)):
                    response = await client.get(
                        "/api/me", headers={"Authorization": f"Bearer {token}"}
                    )
                    assert response.status_code == expected
    finally:
        await host.stop(grace=1)


async def _dev_login_with(targets: dict[str, str], login: str) -> httpx.Response:
    app = create_app(gateway_settings(targets))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40011))
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL) as client:
            return await client.post("/api/auth/dev-login", json={"login": login})
