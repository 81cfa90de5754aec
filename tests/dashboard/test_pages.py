"""The dashboard against the real gateway and services: sessions, forms, projects, keys."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import socket
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
from fastapi import FastAPI

from dashboard.app import create_app
from dashboard.sessions import COOKIE, Session, SessionCodec
from tests.dashboard.conftest import (
    DASHBOARD_URL,
    SESSION_KEY,
    create_project,
    csrf_of,
    dashboard_settings,
    sign_in,
    submission_of,
)


def _put_cookie(browser: httpx.AsyncClient, value: str) -> None:
    browser.cookies.clear()
    browser.cookies.set(COOKIE, value, domain="127.0.0.1")


def _login() -> str:
    return f"dash-{secrets.token_hex(4)}"


async def _project_ids(browser: httpx.AsyncClient) -> list[str]:
    page = await browser.get("/projects")
    assert page.status_code == 200
    return re.findall(r'href="/projects/([0-9a-f-]{36})/incidents"', page.text)


async def test_signed_out_pages_send_to_sign_in(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/projects/new")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/projects/new"
    page = await browser.get("/login")
    assert "Sign in with GitHub" in page.text and "Sign in locally" in page.text


async def test_the_editor_link_to_create_a_project_survives_signing_in(
    browser: httpx.AsyncClient,
) -> None:
    answer = await browser.get("/projects/new?repo=octo-org/shop-api")
    assert answer.status_code == 303
    next_path = parse_qs(urlsplit(answer.headers["location"]).query)["next"][0]
    assert next_path == "/projects/new?repo=octo-org/shop-api"
    login = await browser.get(answer.headers["location"])
    signed_in = await browser.post(
        "/login/local",
        data={"csrf": csrf_of(login), "login": _login(), "next": next_path},
    )
    assert signed_in.headers["location"] == next_path
    form = await browser.get(next_path)
    assert 'value="octo-org/shop-api"' in form.text and 'value="shop-api"' in form.text


async def test_sign_in_goes_nowhere_but_here(browser: httpx.AsyncClient) -> None:
    login = await browser.get("/login")
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        answer = await browser.post(
            "/login/local", data={"csrf": csrf_of(login), "login": _login(), "next": elsewhere}
        )
        assert answer.headers["location"] == "/projects"
        await browser.post("/logout", data={"csrf": csrf_of(await browser.get("/projects"))})
        login = await browser.get("/login")


async def test_session_cookie_and_security_headers(browser: httpx.AsyncClient) -> None:
    login = _login()
    page = await browser.get("/login")
    answer = await browser.post("/login/local", data={"csrf": csrf_of(page), "login": login})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    # Served on loopback here, so not Secure; see test_cookie_is_secure_off_loopback.
    assert "secure" not in cookie
    # The cookie is sealed: neither token is readable in it.
    sealed = SessionCodec(SESSION_KEY.encode()).load(browser.cookies[COOKIE])
    assert sealed is not None
    assert sealed.login == login and sealed.access_token and sealed.refresh_token
    assert sealed.access_token not in answer.headers["set-cookie"]
    assert sealed.refresh_token not in answer.headers["set-cookie"]
    projects = await browser.get("/projects")
    csp = projects.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert projects.headers["cache-control"] == "no-store"
    assert login in projects.text


async def test_cookie_is_secure_off_loopback(gateway_app: FastAPI) -> None:
    app = create_app(
        dashboard_settings(dashboard_url="https://dashboard.example.com"),
        transport=httpx2.ASGITransport(app=gateway_app, client=("127.0.0.1", 40003)),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40004)),
            base_url="https://dashboard.example.com",
        ) as browser,
    ):
        page = await browser.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()


async def test_create_project_shows_the_key_once(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    repo = f"octo-org/{secrets.token_hex(4)}"
    form = await browser.get("/projects/new")
    created = await browser.post(
        "/projects",
        data={
            "csrf": csrf_of(form),
            "submission": submission_of(form),
            "name": "Shop API",
            "repo": repo,
            "retention_days": "30",
        },
    )
    assert created.status_code == 303
    # The key travels in the sealed cookie, never in the address.
    assert "slk_" not in created.headers["location"]
    shown = await browser.get(created.headers["location"])
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    key = re.search(r'value="(slk_[^"]+)"', shown.text)
    assert key, shown.text
    assert "shown this once" in shown.text
    # The key's Sentry DSN beside it, at this server's public address: its user name is the
    # key's public part, not the key.
    dsn = re.search(r'id="new-dsn" class="key" readonly value="([^"]+)"', shown.text)
    assert dsn, shown.text
    project_id = created.headers["location"].split("/")[2]
    number = str(uuid.UUID(project_id).int)
    assert re.fullmatch(rf"https://slp_\w+@api\.stackline\.test/{number}", dsn.group(1))
    again = await browser.get(created.headers["location"])
    assert again.status_code == 200
    assert "slk_" not in again.text and "no longer shown" in again.text
    # The key is nowhere else; the DSN is shown again on the keys, settings and setup pages.
    for path in (
        "/projects",
        f"/projects/{project_id}/keys",
        f"/projects/{project_id}/settings",
        f"/projects/{project_id}/setup",
    ):
        page = await browser.get(path)
        assert page.status_code == 200, path
        assert key.group(1) not in page.text
        assert key.group(1)[8:] not in page.text
        if path != "/projects":
            assert dsn.group(1) in page.text, path
    setup = await browser.get(f"/projects/{project_id}/setup")
    assert "https://api.stackline.test" in setup.text and repo in setup.text
    assert f'sentry_sdk.init(dsn="{dsn.group(1)}"' in html.unescape(setup.text)


async def test_forged_or_missing_csrf_changes_nothing(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    before = await _project_ids(browser)
    for data in (
        {"name": "x", "repo": "octo-org/forged", "retention_days": "30"},
        {"csrf": "forged", "name": "x", "repo": "octo-org/forged", "retention_days": "30"},
    ):
        answer = await browser.post("/projects", data=data)
        assert answer.status_code == 403
        assert "This form has expired" in answer.text
    cross_site = await browser.post(
        "/projects",
        data={"csrf": csrf_of(await browser.get("/projects/new")), "name": "x", "repo": "a/b"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert await _project_ids(browser) == before


async def test_a_form_from_before_sign_in_is_refused_after(browser: httpx.AsyncClient) -> None:
    old = csrf_of(await browser.get("/login"))
    await sign_in(browser, _login())
    answer = await browser.post(
        "/projects", data={"csrf": old, "name": "x", "repo": "a/b", "retention_days": "3"}
    )
    assert answer.status_code == 403


async def test_invalid_repository_is_explained(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    form = await browser.get("/projects/new")
    answer = await browser.post(
        "/projects",
        data={
            "csrf": csrf_of(form),
            "submission": submission_of(form),
            "name": "Bad",
            "repo": "not a repo",
            "retention_days": "30",
        },
    )
    assert answer.status_code == 400
    assert "owner/repo" in answer.text and 'aria-invalid="true"' in answer.text
    assert 'value="not a repo"' in answer.text
    assert await _project_ids(browser) == []


async def test_double_submit_makes_one_project(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    form = await browser.get("/projects/new")
    data = {
        "csrf": csrf_of(form),
        "submission": submission_of(form),
        "name": "Twice",
        "repo": f"octo-org/{secrets.token_hex(4)}",
        "retention_days": "30",
    }
    first, second = await asyncio.gather(
        browser.post("/projects", data=data), browser.post("/projects", data=data)
    )
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(await _project_ids(browser)) == 1
    # Whichever answer the browser kept, its page shows the key.
    shown = await browser.get(first.headers["location"])
    assert "slk_" in shown.text
    # Sent again later (the page resubmitted): the same project, and the key is not shown again.
    third = await browser.post("/projects", data=data)
    assert third.headers["location"] == first.headers["location"]
    assert len(await _project_ids(browser)) == 1
    again = await browser.get(third.headers["location"])
    assert "slk_" not in again.text and "no longer shown" in again.text


async def test_another_users_project_is_not_found(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    project_id, _ = await create_project(browser, f"octo-org/{secrets.token_hex(4)}")
    await browser.post("/logout", data={"csrf": csrf_of(await browser.get("/projects"))})
    await sign_in(browser, _login())
    missing = await browser.get(f"/projects/{uuid.uuid4()}/settings")
    assert missing.status_code == 404
    for path in ("incidents", "settings", "keys", "setup", "audit", "key"):
        theirs = await browser.get(f"/projects/{project_id}/{path}")
        assert theirs.status_code == 404, path
        assert theirs.text == missing.text
    csrf = csrf_of(await browser.get("/projects"))
    deleted = await browser.post(
        f"/projects/{project_id}/delete", data={"csrf": csrf, "confirm": "x/y"}
    )
    assert deleted.status_code == 404
    not_an_id = await browser.get("/projects/not-an-id/settings")
    assert not_an_id.status_code == 404


async def test_settings_rename_mappings_and_typed_delete(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    repo = f"octo-org/{secrets.token_hex(4)}"
    project_id, _ = await create_project(browser, repo)
    page = await browser.get(f"/projects/{project_id}/settings")
    csrf = csrf_of(page)
    saved = await browser.post(
        f"/projects/{project_id}/settings",
        data={"csrf": csrf, "name": "Renamed", "retention_days": "14"},
    )
    assert saved.status_code == 303
    page = await browser.get(f"/projects/{project_id}/settings")
    assert 'value="Renamed"' in page.text and 'value="14"' in page.text
    bad = await browser.post(
        f"/projects/{project_id}/settings",
        data={"csrf": csrf, "name": "Renamed", "retention_days": "99999"},
    )
    assert bad.status_code == 400 and "retention" in bad.text
    mapped = await browser.post(
        f"/projects/{project_id}/path-mappings",
        data={"csrf": csrf, "stack_root_0": "/srv/app/", "source_root_0": "web/"},
    )
    assert mapped.status_code == 303
    page = await browser.get(f"/projects/{project_id}/settings")
    assert 'value="/srv/app/"' in page.text
    wrong = await browser.post(
        f"/projects/{project_id}/delete", data={"csrf": csrf, "confirm": "Renamed"}
    )
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert project_id in await _project_ids(browser)
    deleted = await browser.post(
        f"/projects/{project_id}/delete", data={"csrf": csrf, "confirm": repo}
    )
    assert deleted.status_code == 303
    assert project_id not in await _project_ids(browser)


async def test_keys_rotate_and_revoke(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, _login())
    project_id, first_key = await create_project(browser, f"octo-org/{secrets.token_hex(4)}")
    keys = await browser.get(f"/projects/{project_id}/keys")
    assert f'href="/projects/{project_id}/keys" aria-current="page"' in keys.text
    assert first_key[:8] in keys.text and first_key not in keys.text
    key_id = re.search(r"/keys/([0-9a-f-]{36})/rotate", keys.text)
    assert key_id
    rotated = await browser.post(
        f"/projects/{project_id}/keys/{key_id.group(1)}/rotate",
        data={"csrf": csrf_of(keys), "grace_seconds": "3600"},
    )
    assert rotated.status_code == 303
    shown = await browser.get(rotated.headers["location"])
    new_key = re.search(r'value="(slk_[^"]+)"', shown.text)
    assert new_key and new_key.group(1) != first_key
    new_dsn = re.search(r'id="new-dsn" class="key" readonly value="([^"]+)"', shown.text)
    assert new_dsn
    keys = await browser.get(f"/projects/{project_id}/keys")
    assert "stops" in keys.text
    # Both keys work, so both DSNs are listed; the project's is the new key's.
    dsns = re.findall(r'id="dsn-[0-9a-f-]{36}" class="key" readonly value="([^"]+)"', keys.text)
    assert len(dsns) == 2 and new_dsn.group(1) in dsns
    settings = await browser.get(f"/projects/{project_id}/settings")
    assert f'id="project-dsn" class="key" readonly value="{new_dsn.group(1)}"' in settings.text
    # Rotating the new key with no grace: the key it replaces is revoked at once.
    newer_id = re.search(r"/keys/([0-9a-f-]{36})/rotate", keys.text)
    assert newer_id
    now = await browser.post(
        f"/projects/{project_id}/keys/{newer_id.group(1)}/rotate",
        data={"csrf": csrf_of(keys), "grace_seconds": "0"},
    )
    assert now.status_code == 303
    keys = await browser.get(f"/projects/{project_id}/keys")
    assert keys.text.count(">revoked ") == 1 and keys.text.count(">stops ") == 1
    revoked = await browser.post(
        f"/projects/{project_id}/keys/{key_id.group(1)}/revoke", data={"csrf": csrf_of(keys)}
    )
    assert revoked.status_code == 303
    keys = await browser.get(f"/projects/{project_id}/keys")
    assert "is revoked" in keys.text and keys.text.count(">revoked ") == 2
    # A revoked key's DSN is not offered; the one key that works keeps its own.
    assert keys.text.count('class="key" readonly') == 1
    settings = await browser.get(f"/projects/{project_id}/settings")
    assert 'id="project-dsn"' in settings.text


async def test_stale_sessions_sign_in_again(browser: httpx.AsyncClient) -> None:
    # Sealed with another key (the dashboard was given a new one): simply signed out.
    other = SessionCodec(b"x" * 43 + b"=")
    stale = Session.fresh()
    stale.refresh_token, stale.refresh_expires = "slr_x", 4e9
    _put_cookie(browser, other.dump(stale))
    answer = await browser.get("/projects")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    # A refresh token the API has never seen (sealed by this dashboard's key all the same).
    forged = Session.fresh()
    forged.refresh_token, forged.refresh_expires = "slr_" + "x" * 300, 4e9
    _put_cookie(browser, SessionCodec(SESSION_KEY.encode()).dump(forged))
    answer = await browser.get("/projects")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/projects"
    # Tokens the server no longer honours: the refresh is refused, and the user told so.
    await sign_in(browser, _login())
    codec = SessionCodec(SESSION_KEY.encode())
    session = codec.load(browser.cookies[COOKIE])
    assert session is not None
    await browser.post("/logout", data={"csrf": csrf_of(await browser.get("/projects"))})
    session.access_expires = 0  # due for a refresh, with a refresh token that was revoked
    _put_cookie(browser, codec.dump(session))
    answer = await browser.get("/projects")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/projects"
    page = await browser.get("/login")
    assert "Your session has ended" in page.text


async def test_gateway_down_page() -> None:
    app = create_app(
        dashboard_settings(gateway_url="http://127.0.0.1:9", gateway_timeout_seconds=2)
    )
    codec = SessionCodec(SESSION_KEY.encode())
    session = Session.fresh()
    session.access_token, session.access_expires = "eyJ.x.y", 4e9
    session.refresh_token, session.refresh_expires = "slr_x", 4e9
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40005)),
            base_url=DASHBOARD_URL,
        ) as browser,
    ):
        _put_cookie(browser, codec.dump(session))
        answer = await browser.get("/projects")
        assert answer.status_code == 503
        assert "Stackline's API is not answering" in answer.text
        assert 'href="/projects"' in answer.text  # the retry
        assert "Traceback" not in answer.text and "httpx" not in answer.text.lower()
        # Signing in needs no API until the form is sent.
        browser.cookies.clear()
        assert (await browser.get("/login")).status_code == 200


async def test_a_gateway_answer_not_understood_shows_no_internals() -> None:
    # A gateway (or something in its place) answering 200 with a body of another shape.
    def garbage(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"unexpected": "shape"})

    app = create_app(dashboard_settings(), transport=httpx2.MockTransport(garbage))
    codec = SessionCodec(SESSION_KEY.encode())
    session = Session.fresh()
    session.access_token, session.access_expires = "eyJ.x.y", 4e9
    session.refresh_token, session.refresh_expires = "slr_x", 4e9
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=app, client=("127.0.0.1", 40006), raise_app_exceptions=False
            ),
            base_url=DASHBOARD_URL,
        ) as browser,
    ):
        _put_cookie(browser, codec.dump(session))
        answer = await browser.get("/projects")
        assert answer.status_code == 500
        assert "Something went wrong" in answer.text
        assert "KeyError" not in answer.text and "Traceback" not in answer.text
        assert "script-src 'self'" in answer.headers["content-security-policy"]


async def test_a_gateway_that_does_not_answer_in_time() -> None:
    # Connections are accepted (by the kernel's backlog) and never answered.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        app = create_app(
            dashboard_settings(gateway_url=f"http://127.0.0.1:{port}", gateway_timeout_seconds=0.5)
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40007)),
                base_url=DASHBOARD_URL,
            ) as browser,
        ):
            login = await browser.get("/login")
            answer = await browser.post(
                "/login/local", data={"csrf": csrf_of(login), "login": _login()}
            )
            assert answer.status_code == 503
            assert "Stackline's API is not answering" in answer.text
            assert answer.headers["retry-after"] == "5"
            assert "send the form again" in answer.text
