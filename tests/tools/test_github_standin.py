"""The GitHub stand-in over real HTTP: each flow, each error answer GitHub documents, and the
failure modes the platform's tests switch on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.clocks import HANG_GUARD_SECONDS
from tools.github_standin import GitHubStandin, OAuthApp, User, pkce_matches, redirect_allowed

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "http://127.0.0.1:8081/api/auth/github/callback"
JSON = {"Accept": "application/json"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def shared(clock: FakeClock) -> Iterator[GitHubStandin]:
    users = [User("octocat", name="The Octocat", email="octo@example.com"), User("hubot")]
    apps = [OAuthApp("web-app", "web-secret", CALLBACK)]
    with GitHubStandin(users=users, apps=apps, clock=clock) as standin:
        yield standin


@pytest.fixture
def github(shared: GitHubStandin) -> Iterator[GitHubStandin]:
    shared.reset()
    shared.device_interval = 5
    yield shared
    shared.reset()


@pytest.fixture
def http(github: GitHubStandin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=github.web_url, timeout=5) as client:
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(
    http: httpx.Client,
    *,
    login: str = "octocat",
    challenge: str | None = None,
    redirect_uri: str | None = CALLBACK,
    state: str = "st-123",
    scope: str = "read:user",
) -> dict[str, list[str]]:
    """Click "Authorize as <login>" and return the query GitHub redirects back with."""
    form = {"client_id": "web-app", "state": state, "scope": scope, "login": login}
    if redirect_uri is not None:
        form["redirect_uri"] = redirect_uri
    if challenge is not None:
        form |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    response = http.post("/login/oauth/authorize", data=form)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return parse_qs(location.query)


def exchange(http: httpx.Client, code: str, **extra: str) -> dict[str, Any]:
    form = {"client_id": "web-app", "client_secret": "web-secret", "code": code} | extra
    response = http.post("/login/oauth/access_token", data=form, headers=JSON)
    assert response.status_code == 200  # GitHub answers token errors with 200 as well
    body: dict[str, Any] = response.json()
    return body


# -- web flow ---------------------------------------------------------------------------------


def test_web_flow_with_pkce_ends_in_a_token_that_reads_the_user(
    github: GitHubStandin, http: httpx.Client
) -> None:
    page = http.get(
        "/login/oauth/authorize",
        params={
            "client_id": "web-app",
            "redirect_uri": CALLBACK,
            "state": "s",
            "scope": "read:user",
        },
    )
    assert page.status_code == 200
    assert "Authorize as octocat" in page.text
    assert "Authorize as hubot" in page.text
    assert ">Cancel<" in page.text

    verifier, challenge = pkce_pair()
    query = authorize(http, challenge=challenge)
    assert query["state"] == ["st-123"]
    token = exchange(http, query["code"][0], redirect_uri=CALLBACK, code_verifier=verifier)
    assert token["token_type"] == "bearer"
    assert token["scope"] == "read:user"
    assert re.fullmatch(r"gho_[A-Za-z0-9]{36}", token["access_token"])

    me = http.get("/user", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.headers["x-oauth-scopes"] == "read:user"
    user = me.json()
    assert user["login"] == "octocat"
    assert user["name"] == "The Octocat"
    assert user["email"] == "octo@example.com"
    assert user["type"] == "User"
    assert isinstance(user["id"], int)
    assert user["html_url"] == f"{github.web_url}/octocat"
    assert http.get(user["avatar_url"]).headers["content-type"] == "image/svg+xml"


def test_token_scheme_and_enterprise_path_serve_the_same_user(
    github: GitHubStandin, http: httpx.Client
) -> None:
    token = github.issue_token("hubot", ["read:user", "user:email"])
    a = http.get("/user", headers={"Authorization": f"token {token}"})
    b = http.get("/api/v3/user", headers={"Authorization": f"Bearer {token}"})
    assert a.status_code == b.status_code == 200
    assert a.json()["id"] == b.json()["id"]
    assert b.json()["url"] == f"{github.web_url}/api/v3/users/hubot"
    assert a.headers["x-oauth-scopes"] == "read:user, user:email"
    assert ("GET", "/api/v3/user") in github.requests


def test_without_accept_json_the_answer_is_form_encoded_as_github_does(http: httpx.Client) -> None:
    query = authorize(http)
    response = http.post(
        "/login/oauth/access_token",
        data={"client_id": "web-app", "client_secret": "web-secret", "code": query["code"][0]},
    )
    assert response.headers["content-type"].startswith("application/x-www-form-urlencoded")
    answer = parse_qs(response.text)
    assert answer["access_token"][0].startswith("gho_")
    assert answer["token_type"] == ["bearer"]

    again = http.post(
        "/login/oauth/access_token",
        data={"client_id": "web-app", "client_secret": "web-secret", "code": query["code"][0]},
    )
    assert parse_qs(again.text)["error"] == ["bad_verification_code"]


def test_json_body_and_basic_client_credentials_are_accepted(
    github: GitHubStandin, http: httpx.Client
) -> None:
    code = authorize(http, scope="read:user user:email")["code"][0]
    response = http.post(
        "/login/oauth/access_token",
        json={"code": code, "redirect_uri": CALLBACK},
        auth=("web-app", "web-secret"),
        headers=JSON,
    )
    answer = response.json()
    assert answer["scope"] == "read:user,user:email"  # GitHub joins granted scopes with commas
    me = http.get("/user", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert me.headers["x-oauth-scopes"] == "read:user, user:email"


def test_a_code_is_single_use(http: httpx.Client) -> None:
    code = authorize(http)["code"][0]
    assert "access_token" in exchange(http, code)
    reused = exchange(http, code)
    assert reused == {
        "error": "bad_verification_code",
        "error_description": "The code passed is incorrect or expired.",
        "error_uri": reused["error_uri"],
    }
    assert reused["error_uri"].startswith("https://docs.github.com/")


def test_a_code_expires_after_ten_minutes(http: httpx.Client, clock: FakeClock) -> None:
    fresh, stale = authorize(http)["code"][0], authorize(http)["code"][0]
    clock.advance(599)
    assert "access_token" in exchange(http, fresh)
    clock.advance(2)
    assert exchange(http, stale)["error"] == "bad_verification_code"


def test_unknown_code_is_a_bad_verification_code(http: httpx.Client) -> None:
    assert exchange(http, "0" * 20)["error"] == "bad_verification_code"


def test_pkce_mismatch_is_refused_and_spends_the_code(http: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    code = authorize(http, challenge=challenge)["code"][0]
    other, _ = pkce_pair()
    assert exchange(http, code, code_verifier=other)["error"] == "bad_verification_code"
    assert exchange(http, code, code_verifier=verifier)["error"] == "bad_verification_code"


def test_pkce_verifier_is_required_once_a_challenge_was_sent(http: httpx.Client) -> None:
    _, challenge = pkce_pair()
    code = authorize(http, challenge=challenge)["code"][0]
    assert exchange(http, code)["error"] == "bad_verification_code"


def test_pkce_matches_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", verifier)
    assert not pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", verifier)
    assert not pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "short")


def test_only_s256_challenges_are_taken(http: httpx.Client) -> None:
    response = http.get(
        "/login/oauth/authorize",
        params={
            "client_id": "web-app",
            "state": "s",
            "code_challenge": "abc",
            "code_challenge_method": "plain",
        },
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["s"]


@pytest.mark.parametrize(
    ("client_id", "secret"), [("web-app", "wrong"), ("web-app", ""), ("nobody", "web-secret")]
)
def test_wrong_client_credentials(http: httpx.Client, client_id: str, secret: str) -> None:
    code = authorize(http)["code"][0]
    response = http.post(
        "/login/oauth/access_token",
        data={"client_id": client_id, "client_secret": secret, "code": code},
        headers=JSON,
    )
    assert response.status_code == 200
    assert response.json()["error"] == "incorrect_client_credentials"
    assert "access_token" in exchange(http, code)  # the code survives a caller who got it wrong


def test_token_request_with_another_redirect_uri_is_a_mismatch(http: httpx.Client) -> None:
    code = authorize(http)["code"][0]
    answer = exchange(http, code, redirect_uri=CALLBACK + "/elsewhere")
    assert answer["error"] == "redirect_uri_mismatch"
    assert answer["error_description"] == (
        "The redirect_uri MUST match the registered callback URL for this application."
    )


def test_a_code_asked_without_redirect_uri_goes_to_the_registered_callback(
    http: httpx.Client,
) -> None:
    code = authorize(http, redirect_uri=None)["code"][0]
    assert "access_token" in exchange(http, code, redirect_uri=CALLBACK)


def test_authorize_with_a_foreign_redirect_uri_redirects_the_error_to_the_callback(
    http: httpx.Client,
) -> None:
    response = http.get(
        "/login/oauth/authorize",
        params={"client_id": "web-app", "redirect_uri": "http://evil.example/cb", "state": "s"},
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["redirect_uri_mismatch"]
    assert query["state"] == ["s"]
    assert "code" not in query


def test_cancel_redirects_with_access_denied(http: httpx.Client) -> None:
    response = http.post(
        "/login/oauth/authorize",
        data={"client_id": "web-app", "redirect_uri": CALLBACK, "state": "s", "cancel": "1"},
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["error_description"] == ["The user has denied your application access."]
    assert query["state"] == ["s"]


def test_unknown_client_id_gets_githubs_not_found_page(http: httpx.Client) -> None:
    response = http.get("/login/oauth/authorize", params={"client_id": "nope"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_unsupported_grant_type(http: httpx.Client) -> None:
    response = http.post(
        "/login/oauth/access_token",
        data={"client_id": "web-app", "grant_type": "refresh_token", "refresh_token": "x"},
        headers=JSON,
    )
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("redirect_uri", "allowed"),
    [  # GitHub's own examples for the callback http://example.com/path
        ("http://example.com/path", True),
        ("http://example.com/path/subdir/other", True),
        ("http://oauth.example.com/path", True),
        ("http://oauth.example.com/path/subdir/other", True),
        ("http://example.com/bar", False),
        ("http://example.com/", False),
        ("http://example.com:8080/path", False),
        ("http://oauth.example.com:8080/path", False),
        ("http://example.org", False),
        ("http://example.com/pathology", False),
        ("https://example.com/path", False),
        ("http://evilexample.com/path", False),
    ],
)
def test_redirect_rules_follow_githubs_examples(redirect_uri: str, allowed: bool) -> None:
    assert redirect_allowed("http://example.com/path", redirect_uri) is allowed


def test_a_loopback_callback_takes_any_port() -> None:
    assert redirect_allowed("http://127.0.0.1/path", "http://127.0.0.1:1234/path")
    assert not redirect_allowed("http://127.0.0.1/path", "http://127.0.0.1:1234/other")


# -- device flow ------------------------------------------------------------------------------


def start_device_flow(http: httpx.Client) -> dict[str, Any]:
    response = http.post(
        "/login/device/code", data={"client_id": "web-app", "scope": "read:user"}, headers=JSON
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def poll(http: httpx.Client, device_code: str, client_id: str = "web-app") -> dict[str, Any]:
    response = http.post(
        "/login/oauth/access_token",
        data={
            "client_id": client_id,
            "device_code": device_code,
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        },
        headers=JSON,
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_device_flow_pending_slow_down_then_token(
    github: GitHubStandin, http: httpx.Client, clock: FakeClock
) -> None:
    start = start_device_flow(http)
    assert re.fullmatch(r"[0-9a-f]{40}", start["device_code"])
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", start["user_code"])
    assert start["verification_uri"] == f"{github.web_url}/login/device"
    assert start["expires_in"] == 900
    assert start["interval"] == 5

    assert poll(http, start["device_code"])["error"] == "authorization_pending"
    clock.advance(1)
    slow = poll(http, start["device_code"])
    assert slow["error"] == "slow_down"
    assert slow["interval"] == 10
    clock.advance(6)
    assert poll(http, start["device_code"])["error"] == "slow_down"  # now 10 s, then 15 s
    clock.advance(15)
    assert poll(http, start["device_code"])["error"] == "authorization_pending"

    page = http.get(start["verification_uri"])
    assert "Authorize as octocat" in page.text
    done = http.post(
        "/login/device", data={"user_code": start["user_code"].lower(), "login": "octocat"}
    )
    assert "Congratulations" in done.text

    clock.advance(15)
    token = poll(http, start["device_code"])
    assert token["token_type"] == "bearer"
    assert token["scope"] == "read:user"
    me = http.get("/user", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json()["login"] == "octocat"
    clock.advance(15)
    assert poll(http, start["device_code"])["error"] == "incorrect_device_code"


def test_device_code_answer_is_form_encoded_by_default(http: httpx.Client) -> None:
    response = http.post("/login/device/code", data={"client_id": "web-app"})
    answer = parse_qs(response.text)
    assert set(answer) == {"device_code", "user_code", "verification_uri", "expires_in", "interval"}


def test_device_approval_from_a_test(github: GitHubStandin, http: httpx.Client) -> None:
    github.device_interval = 0
    start = start_device_flow(http)
    github.approve_device(start["user_code"], "hubot")
    token = poll(http, start["device_code"])
    me = http.get("/user", headers={"Authorization": f"token {token['access_token']}"})
    assert me.json()["login"] == "hubot"
    with pytest.raises(KeyError):
        github.approve_device("BCDF-GHJK", "hubot")


def test_device_denied_on_the_page_and_from_a_test(
    github: GitHubStandin, http: httpx.Client
) -> None:
    github.device_interval = 0
    by_page, by_test = start_device_flow(http), start_device_flow(http)
    http.post("/login/device", data={"user_code": by_page["user_code"], "cancel": "1"})
    github.deny_device(by_test["user_code"])
    for start in (by_page, by_test):
        denied = poll(http, start["device_code"])
        assert denied["error"] == "access_denied"
        assert denied["error_uri"].startswith("https://docs.github.com/")
        assert poll(http, start["device_code"])["error"] == "access_denied"


def test_device_code_expires(github: GitHubStandin, http: httpx.Client, clock: FakeClock) -> None:
    start = start_device_flow(http)
    clock.advance(901)
    assert poll(http, start["device_code"])["error"] == "expired_token"
    page = http.post("/login/device", data={"user_code": start["user_code"], "login": "octocat"})
    assert "Invalid or expired code" in page.text
    with pytest.raises(KeyError):
        github.approve_device(start["user_code"], "octocat")


def test_device_flow_errors(github: GitHubStandin, http: httpx.Client) -> None:
    start = start_device_flow(http)
    assert poll(http, "f" * 40)["error"] == "incorrect_device_code"
    assert poll(http, start["device_code"], "nobody")["error"] == "incorrect_client_credentials"

    unknown = http.post("/login/device/code", data={"client_id": "nobody"}, headers=JSON)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Not Found"}

    github.register_app("no-device", "s", CALLBACK, device_flow=False)
    disabled = http.post("/login/device/code", data={"client_id": "no-device"}, headers=JSON)
    assert disabled.json()["error"] == "device_flow_disabled"


# -- REST /user -------------------------------------------------------------------------------


def test_user_without_credentials_or_with_a_bad_token(
    github: GitHubStandin, http: httpx.Client
) -> None:
    missing = http.get("/user")
    assert missing.status_code == 401
    assert missing.json()["message"] == "Requires authentication"
    bad = http.get("/user", headers={"Authorization": "Bearer gho_" + "x" * 36})
    assert bad.status_code == 401
    assert bad.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    token = github.issue_token("octocat")
    assert http.get("/user", headers={"Authorization": f"Basic {token}"}).status_code == 401


def test_revoked_tokens_are_bad_credentials(github: GitHubStandin, http: httpx.Client) -> None:
    one, two, three = (github.issue_token("octocat") for _ in range(3))
    github.revoke_token(one)
    assert http.get("/user", headers={"Authorization": f"Bearer {one}"}).status_code == 401
    assert http.get("/user", headers={"Authorization": f"Bearer {two}"}).status_code == 200
    github.revoke_all_tokens()
    for token in (two, three):
        assert http.get("/user", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_unknown_rest_path_is_githubs_json_404(http: httpx.Client) -> None:
    response = http.get("/user/repos")
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"


def test_users_added_at_run_time_can_sign_in(github: GitHubStandin, http: httpx.Client) -> None:
    github.add_user(User("newcomer", id=42))
    token = exchange(http, authorize(http, login="newcomer")["code"][0])["access_token"]
    me = http.get("/user", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["login"], me["id"]) == ("newcomer", 42)


def test_enterprise_only_base_path() -> None:
    token_holder = User("octocat")
    with GitHubStandin(users=[token_holder], api_base_paths=["/api/v3"]) as standin:
        assert standin.api_url == f"{standin.web_url}/api/v3"
        token = standin.issue_token("octocat")
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{standin.api_url}/user", headers=headers).status_code == 200
        assert httpx.get(f"{standin.web_url}/user", headers=headers).status_code == 404


# -- failure modes ----------------------------------------------------------------------------


def test_every_endpoint_can_answer_500_until_healed(
    github: GitHubStandin, http: httpx.Client
) -> None:
    token = github.issue_token("octocat")
    github.fail_with_status(500)
    assert http.get("/user", headers={"Authorization": f"Bearer {token}"}).status_code == 500
    assert http.post("/login/oauth/access_token", data={}).status_code == 500
    assert http.post("/login/device/code", data={"client_id": "web-app"}).status_code == 500
    assert http.get("/login/oauth/authorize").status_code == 500
    github.heal()
    assert http.get("/user", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_html_error_page_for_a_number_of_requests_on_one_path(
    github: GitHubStandin, http: httpx.Client
) -> None:
    token = github.issue_token("octocat")
    headers = {"Authorization": f"Bearer {token}"}
    github.fail_with_html(200, path_prefix="/user", times=2)
    assert http.post("/login/device/code", data={"client_id": "web-app"}).status_code == 200
    for _ in range(2):
        page = http.get("/user", headers=headers)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        with pytest.raises(json.JSONDecodeError):
            page.json()
    assert http.get("/user", headers=headers).json()["login"] == "octocat"


def test_hang_outlasts_a_client_timeout(github: GitHubStandin, http: httpx.Client) -> None:
    token = github.issue_token("octocat")
    github.hang(3600, path_prefix="/user")
    # The client gives up after its 0.3 s; had the stand-in answered, there would be no timeout.
    with pytest.raises(httpx.ReadTimeout):
        http.get("/user", headers={"Authorization": f"Bearer {token}"}, timeout=0.3)
    github.heal()
    assert http.get("/user", headers={"Authorization": f"Bearer {token}"}).status_code == 200


async def test_stop_lets_hanging_requests_go() -> None:
    standin = GitHubStandin(users=[User("octocat")]).start()
    token = standin.issue_token("octocat")
    standin.hang(3600)
    async with httpx.AsyncClient(timeout=HANG_GUARD_SECONDS) as client:
        request = asyncio.create_task(
            client.get(f"{standin.api_url}/user", headers={"Authorization": f"Bearer {token}"})
        )
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while ("GET", "/user") not in standin.requests:  # the request is being held
            assert time.monotonic() < deadline, "the request never reached the stand-in"
            await asyncio.sleep(0.01)
        server_thread = standin._thread
        assert server_thread is not None
        await asyncio.wait_for(asyncio.to_thread(standin.stop), HANG_GUARD_SECONDS)
        # stop() ended the server, rather than giving up on it after its own 10 s join.
        assert not server_thread.is_alive()
        # Answered or cut off, but finished: nothing is left hanging after stop().
        (outcome,) = await asyncio.wait_for(
            asyncio.gather(request, return_exceptions=True), HANG_GUARD_SECONDS
        )
        assert isinstance(outcome, httpx.Response | httpx.HTTPError)


# -- in a real browser ------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_chromium_clicks_through_the_authorize_and_device_pages(
    github: GitHubStandin, http: httpx.Client
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    callback = f"{github.web_url}/callback"  # a 404 here, but the browser shows where it went
    github.register_app("browser-app", "browser-secret", callback)
    github.device_interval = 0
    device = start_device_flow(http)
    authorize_url = f"{github.web_url}/login/oauth/authorize?client_id=browser-app&state=xyz"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(authorize_url)
            page.get_by_role("button", name="Cancel").click()
            page.wait_for_url(f"{callback}?*")
            denied = parse_qs(urlsplit(page.url).query)
            page.goto(authorize_url)
            page.get_by_role("button", name="Authorize as hubot").click()
            page.wait_for_url(f"{callback}?*")
            granted = parse_qs(urlsplit(page.url).query)
            page.goto(device["verification_uri"])
            page.get_by_label("Enter the code displayed on your device").fill(device["user_code"])
            page.get_by_role("button", name="Authorize as octocat").click()
            page.get_by_text("Congratulations, you're all set!").wait_for()
        finally:
            browser.close()
    assert denied["error"] == ["access_denied"]
    assert granted["state"] == ["xyz"]
    answer = http.post(
        "/login/oauth/access_token",
        data={"client_id": "browser-app", "client_secret": "browser-secret"}
        | {"code": granted["code"][0]},
        headers=JSON,
    ).json()
    me = http.get("/user", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert me.json()["login"] == "hubot"
    token = poll(http, device["device_code"])["access_token"]
    assert http.get("/user", headers={"Authorization": f"Bearer {token}"}).json()["login"] == (
        "octocat"
    )


# -- command line -----------------------------------------------------------------------------


def test_command_line_prints_its_url_and_serves_the_users_file(tmp_path: Path) -> None:
    config = tmp_path / "users.json"
    config.write_text(json.dumps([{"login": "octocat", "name": "The Octocat"}]))
    command = [sys.executable, "tools/github_standin.py", "--port", "0", "--users", str(config)]
    command += ["--app", "cli-app", "cli-secret", CALLBACK]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            with httpx.Client(base_url=url, timeout=5, headers=JSON) as client:
                start = client.post("/login/device/code", data={"client_id": "cli-app"}).json()
                approval = {"user_code": start["user_code"], "login": "octocat"}
                client.post("/login/device", data=approval)
                token = client.post(
                    "/login/oauth/access_token",
                    data={
                        "client_id": "cli-app",
                        "device_code": start["device_code"],
                        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    },
                ).json()["access_token"]
                me = client.get("/user", headers={"Authorization": f"Bearer {token}"}).json()
                assert me["name"] == "The Octocat"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0


def test_check_a_token_answers_only_the_app_it_was_issued_to(
    github: GitHubStandin, http: httpx.Client
) -> None:
    ours = github.issue_token("octocat", ["read:user"], client_id="web-app")
    foreign = github.issue_token("octocat")  # an app not registered here, VS Code's say
    url = "/applications/web-app/token"
    app_auth = ("web-app", "web-secret")

    checked = http.post(url, json={"access_token": ours}, auth=app_auth)
    assert checked.status_code == 200
    body = checked.json()
    assert body["scopes"] == ["read:user"]
    assert body["app"]["client_id"] == "web-app"
    assert body["user"]["login"] == "octocat"
    assert body["token_last_eight"] == ours[-8:]

    assert http.post(url, json={"access_token": foreign}, auth=app_auth).status_code == 404
    wrong_secret = http.post(url, json={"access_token": ours}, auth=("web-app", "nope"))
    assert wrong_secret.status_code == 404
    assert http.post(url, json={"access_token": ours}).status_code == 401
    assert http.post(url, json={}, auth=app_auth).status_code == 422
    github.revoke_token(ours)
    assert http.post(url, json={"access_token": ours}, auth=app_auth).status_code == 404


def test_tokens_from_a_flow_belong_to_the_app_that_ran_it(
    github: GitHubStandin, http: httpx.Client
) -> None:
    started = http.post(
        "/login/device/code", data={"client_id": "web-app", "scope": "read:user"}, headers=JSON
    ).json()
    github.approve_device(started["user_code"], "hubot")
    token = http.post(
        "/login/oauth/access_token",
        data={
            "client_id": "web-app",
            "device_code": started["device_code"],
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        },
        headers=JSON,
    ).json()["access_token"]
    checked = http.post(
        "/api/v3/applications/web-app/token",
        json={"access_token": token},
        auth=("web-app", "web-secret"),
    )
    assert checked.status_code == 200
    assert checked.json()["user"]["login"] == "hubot"
