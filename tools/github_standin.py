"""A small local GitHub: OAuth web flow, device flow and `GET /user`, for tests and `make run`.

The platform talks to github.com in production and to this in tests by changing two base
URLs only:

    web_url  (github.com, or https://HOST for Enterprise)      /login/oauth/authorize,
                                                               /login/oauth/access_token,
                                                               /login/device/code, /login/device
    api_url  (https://api.github.com, or https://HOST/api/v3)  /user,
                                                               /applications/{client_id}/token

The stand-in serves the REST routes under every path in `api_base_paths` (by default both
"" and "/api/v3", so either client convention works); `api_url` names the first.

In a test:

    with GitHubStandin(users=[User("octocat")]) as github:       # 127.0.0.1, a free port
        app = github.register_app("cid", "secret", "http://127.0.0.1:8081/callback")
        ...github.web_url, github.api_url, github.approve_device(code, "octocat"),
        github.issue_token("octocat"), github.issue_token("octocat", client_id="cid"),
        github.revoke_all_tokens(), github.hang(30), ...

From a shell: `python tools/github_standin.py --port 0 --users users.json` prints the URL.

Faithful, checked against GitHub's docs ("Authorizing OAuth apps", the two troubleshooting
pages, the PKCE changelog of 2025-07-14, the REST users page):
- parameter names and paths; redirect_uri rules (same host or a sub-domain, same port except
  for a loopback callback, path at or under the registered one); omitted redirect_uri means
  the registered callback;
- codes: single-use, 10 minutes, tied to the app and the redirect_uri; PKCE with S256 only;
- token endpoint errors as HTTP 200 with `error`, `error_description` and `error_uri`
  (GitHub's wording); form-encoded answers unless the client accepts JSON; scopes joined
  with commas; `gho_` + 36 characters;
- device flow: 40-hex `device_code`, `XXXX-XXXX` `user_code`, `authorization_pending`,
  `slow_down` (+5 s, new `interval` in the answer), `expired_token`, `access_denied`,
  `incorrect_device_code`, `unsupported_grant_type`, `device_flow_disabled`;
- `GET /user` with `Bearer` or `token`; 401 "Requires authentication" / "Bad credentials" with
  `documentation_url` and `status`; the `X-OAuth-Scopes` header;
- `POST /applications/{client_id}/token` ("Check a token") with the app's credentials as HTTP
  Basic and `{"access_token": ...}`: 200 with the token's `scopes`, `app` and `user` for a live
  token of that app, 404 for any other token, 422 without one.

Simplified, or GitHub's behaviour is not documented and this is a guess:
- no sign-in, sessions or "already authorized" skip: every authorize shows the page, and the
  button pressed picks the user; the device page takes the code and the user in one form;
- no XML answers, refresh or expiring tokens (OAuth apps have none), orgs, repos, rate
  limits, or REST routes besides `/user`; the avatar is a local SVG;
- guessed: client credentials also as HTTP Basic (authlib's default, accepted by GitHub in
  practice); a PKCE mismatch answers `bad_verification_code` and spends the code; a
  `code_challenge` whose method is not S256 (absent means "plain" in RFC 7636) is redirected
  back as `invalid_request`; a foreign redirect_uri is redirected to the registered callback
  with `error=redirect_uri_mismatch`, as the docs say, where github.com may show a page
  instead; `slow_down` is measured between polls, so a first poll is never too early;
  `device_flow_disabled` comes with HTTP 400; wrong app credentials on "Check a token" answer
  404 (the endpoint documents no 401), as a token of another app does.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import html
import json
import re
import secrets
import signal
import socket
import string
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

DOCS = "https://docs.github.com"
_TOKEN_DOCS = (
    f"{DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"
)
_AUTHORIZE_DOCS = f"{DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/"
_DEVICE_DOCS = f"{DOCS}/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"
_MISMATCH = "The redirect_uri MUST match the registered callback URL for this application."
# GitHub's wording and links, per error of the token endpoint (and of /login/device/code).
TOKEN_ERRORS = {
    "incorrect_client_credentials": (
        "The client_id and/or client_secret passed are incorrect.",
        _TOKEN_DOCS + "#incorrect-client-credentials",
    ),
    "bad_verification_code": (
        "The code passed is incorrect or expired.",
        _TOKEN_DOCS + "#bad-verification-code",
    ),
    "redirect_uri_mismatch": (_MISMATCH, _AUTHORIZE_DOCS + "#redirect-uri-mismatch2"),
    "unsupported_grant_type": ("The grant type is not supported.", _DEVICE_DOCS),
    "authorization_pending": ("The authorization request is still pending.", _DEVICE_DOCS),
    "slow_down": ("Too many requests have been made in the same timeframe.", _DEVICE_DOCS),
    "expired_token": ("The device_code has expired.", _DEVICE_DOCS),
    "access_denied": ("The authorization request was denied.", _DEVICE_DOCS),
    "incorrect_device_code": ("The device_code provided is not valid.", _DEVICE_DOCS),
    "device_flow_disabled": ("Device Flow must be explicitly enabled for this App", _DEVICE_DOCS),
}
# ... and per error that the authorize step sends back to the client's redirect_uri.
AUTHORIZE_ERRORS = {
    "redirect_uri_mismatch": (_MISMATCH, _AUTHORIZE_DOCS + "#redirect-uri-mismatch"),
    "access_denied": (
        "The user has denied your application access.",
        _AUTHORIZE_DOCS + "#access-denied",
    ),
    "invalid_request": ("Only the S256 code_challenge_method is supported.", _AUTHORIZE_DOCS),
}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_LIFETIME_SECONDS = 600
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})
# RFC 8628 6.1: no vowels (no words), no look-alike digits; GitHub's codes look like WDJB-MJHT.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")

FailureKind = Literal["status", "html", "hang"]
Params = dict[str, str]


@dataclass(frozen=True)
class User:
    login: str
    name: str | None = None
    email: str | None = None
    id: int = 0  # 0: derived from the login, so the same login keeps its id across runs

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha256(self.login.lower().encode()).digest()
            object.__setattr__(self, "id", 1_000_000 + int.from_bytes(digest[:3], "big"))


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    callback_url: str
    name: str = "Stackline"
    device_flow: bool = True


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    status: int = 500
    seconds: float = 0.0
    path_prefix: str = "/"


@dataclass
class _Code:
    client_id: str
    login: str
    scopes: tuple[str, ...]
    redirect_uri: str
    code_challenge: str | None
    expires_at: float


@dataclass
class _DeviceGrant:
    client_id: str
    scopes: tuple[str, ...]
    user_code: str
    expires_at: float
    interval: int
    last_poll: float | None = None
    login: str | None = None
    denied: bool = False


@dataclass
class _Token:
    login: str
    scopes: tuple[str, ...]
    # The OAuth app it was issued to; None for an app not registered here (VS Code's own).
    client_id: str | None = None
    revoked: bool = False


@dataclass
class _State:
    codes: dict[str, _Code] = field(default_factory=dict)
    devices: dict[str, _DeviceGrant] = field(default_factory=dict)  # by device_code
    tokens: dict[str, _Token] = field(default_factory=dict)


class GitHubStandin:
    """The server and its state. Thread-safe: it serves from its own thread, so sync tests,
    async tests and a browser driven from the test thread can all use it."""

    def __init__(
        self,
        *,
        users: Iterable[User] = (),
        apps: Iterable[OAuthApp] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        api_base_paths: Sequence[str] = ("", "/api/v3"),
        device_interval: int = 5,
        device_expires_in: int = 900,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users: dict[str, User] = {u.login.lower(): u for u in users}
        self.apps: dict[str, OAuthApp] = {a.client_id: a for a in apps}
        self.api_base_paths = tuple(p.rstrip("/") for p in api_base_paths)
        self.device_interval = device_interval
        self.device_expires_in = device_expires_in
        self.clock = clock  # tests swap it to expire codes without sleeping
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._state = _State()
        self._failure: Failure | None = None
        self._failures_left: int | None = None
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release_hangs: asyncio.Event | None = None
        self.app = Starlette(
            routes=self._routes(),
            middleware=[Middleware(BaseHTTPMiddleware, dispatch=self._inject_failure)],
            exception_handlers={404: _rest_not_found, 405: _rest_not_found},
            lifespan=self._lifespan,
        )

    # -- life cycle ---------------------------------------------------------------------

    @property
    def web_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def api_url(self) -> str:
        return self.web_url + self.api_base_paths[0]

    def start(self) -> Self:
        self._ready.clear()
        sock = socket.create_server((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = server = uvicorn.Server(config)
        # asyncio.run, not server.run(): that could install uvloop's policy process-wide.
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name="github-standin",
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the GitHub stand-in did not start")
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        if self._loop is not None and self._release_hangs is not None:
            self._loop.call_soon_threadsafe(self._release_hangs.set)
        self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._release_hangs = asyncio.Event()
        self._ready.set()
        yield

    # -- run-time configuration -----------------------------------------------------------

    def add_user(self, user: User) -> User:
        with self._lock:
            self.users[user.login.lower()] = user
        return user

    def register_app(
        self, client_id: str, client_secret: str, callback_url: str, *, device_flow: bool = True
    ) -> OAuthApp:
        app = OAuthApp(client_id, client_secret, callback_url, device_flow=device_flow)
        with self._lock:
            self.apps[client_id] = app
        return app

    def issue_token(
        self,
        login: str,
        scopes: Sequence[str] = ("read:user",),
        *,
        client_id: str | None = None,
    ) -> str:
        """A token as if `login` had finished a flow: of the registered app `client_id`, or by
        default of an app whose secret nobody here holds (VS Code's own GitHub sign-in)."""
        with self._lock:
            return self._issue_token(self.users[login.lower()].login, tuple(scopes), client_id)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._state.tokens[token].revoked = True

    def revoke_all_tokens(self) -> None:
        with self._lock:
            for token in self._state.tokens.values():
                token.revoked = True

    def approve_device(self, user_code: str, login: str) -> None:
        with self._lock:
            grant = self._pending_device(user_code)
            if grant is None:
                raise KeyError(f"no pending device authorization for {user_code!r}")
            grant.login = self.users[login.lower()].login

    def deny_device(self, user_code: str) -> None:
        with self._lock:
            grant = self._pending_device(user_code)
            if grant is None:
                raise KeyError(f"no pending device authorization for {user_code!r}")
            grant.denied = True

    def fail_with_status(
        self, status: int = 500, *, path_prefix: str = "/", times: int | None = None
    ) -> None:
        self._set_failure(Failure("status", status=status, path_prefix=path_prefix), times)

    def fail_with_html(
        self, status: int = 503, *, path_prefix: str = "/", times: int | None = None
    ) -> None:
        """GitHub's "Unicorn!" page: HTML where a client expects JSON or a form."""
        self._set_failure(Failure("html", status=status, path_prefix=path_prefix), times)

    def hang(self, seconds: float, *, path_prefix: str = "/", times: int | None = None) -> None:
        """Hold each request `seconds` before answering it normally (stop() lets them go)."""
        self._set_failure(Failure("hang", seconds=seconds, path_prefix=path_prefix), times)

    def heal(self) -> None:
        self._set_failure(None, None)

    def reset(self) -> None:
        """Forget codes, tokens, device grants, failures and recorded requests; keep users
        and apps. For a stand-in shared by several tests."""
        with self._lock:
            self._state = _State()
            self._failure = self._failures_left = None
            self.requests.clear()

    def _set_failure(self, failure: Failure | None, times: int | None) -> None:
        with self._lock:
            self._failure, self._failures_left = failure, times

    # -- HTTP -----------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        routes = [
            Route("/login/oauth/authorize", self._authorize, methods=["GET", "POST"]),
            Route("/login/oauth/access_token", self._access_token, methods=["POST"]),
            Route("/login/device/code", self._device_code, methods=["POST"]),
            Route("/login/device", self._device_page, methods=["GET", "POST"]),
            Route("/avatars/u/{user_id:int}", _avatar),
        ]
        for base in self.api_base_paths:
            routes.append(Route(f"{base}/user", self._user_endpoint(base)))
            routes.append(
                Route(
                    f"{base}/applications/{{client_id}}/token",
                    self._check_token_endpoint(base),
                    methods=["POST"],
                )
            )
        return routes

    async def _inject_failure(self, request: Request, next_: RequestResponseEndpoint) -> Response:
        self.requests.append((request.method, request.url.path))
        with self._lock:
            failure = self._failure
            if failure is not None and request.url.path.startswith(failure.path_prefix):
                if self._failures_left is not None:
                    self._failures_left -= 1
                    if self._failures_left <= 0:
                        self._failure = self._failures_left = None
            else:
                failure = None
        if failure is None:
            return await next_(request)
        if failure.kind == "status":
            return JSONResponse({"message": HTTPStatus(failure.status).phrase}, failure.status)
        if failure.kind == "html":
            return HTMLResponse(_page("Unicorn!", _UNICORN), failure.status)
        assert self._release_hangs is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release_hangs.wait(), failure.seconds)
        return await next_(request)

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await _form(request))
        state = params.get("state")
        with self._lock:
            refused = self._refuse_authorize(params)
            if refused is not None:
                return refused
            app = self.apps[params["client_id"]]
            redirect_uri = params.get("redirect_uri") or app.callback_url
            scopes = _scopes(params.get("scope", ""))
            user = self.users.get(params.get("login", "").lower())
            if request.method == "GET" or (user is None and "cancel" not in params):
                status = 200 if request.method == "GET" else 422
                return HTMLResponse(self._authorize_page(app, params, scopes), status)
            if user is None or "cancel" in params:
                return _redirect_error(redirect_uri, "access_denied", state)
            code = secrets.token_hex(10)
            self._state.codes[code] = _Code(
                app.client_id,
                user.login,
                scopes,
                redirect_uri,
                params.get("code_challenge") or None,
                self.clock() + CODE_LIFETIME_SECONDS,
            )
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _refuse_authorize(self, params: Params) -> Response | None:
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            return HTMLResponse(_page("Page not found", "<h1>404</h1><p>Not Found</p>"), 404)
        redirect_uri = params.get("redirect_uri") or app.callback_url
        if not redirect_allowed(app.callback_url, redirect_uri):
            # Back to the registered callback, never to the unverified address.
            return _redirect_error(app.callback_url, "redirect_uri_mismatch", params.get("state"))
        if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
            return _redirect_error(redirect_uri, "invalid_request", params.get("state"))
        return None

    async def _access_token(self, request: Request) -> Response:
        params = {**dict(request.query_params), **await _form(request), **_basic_auth(request)}
        grant_type = params.get("grant_type", "authorization_code")
        with self._lock:
            if grant_type == DEVICE_GRANT:
                answer = self._poll_device(params)
            elif grant_type == "authorization_code":
                answer = self._exchange_code(params)
            else:
                answer = _error("unsupported_grant_type")
        # GitHub answers token errors with 200 too; only the body tells them apart.
        return _negotiate(request, answer)

    def _exchange_code(self, params: Params) -> dict[str, Any]:
        app = self.apps.get(params.get("client_id", ""))
        secret = params.get("client_secret", "").encode()
        if app is None or not secrets.compare_digest(secret, app.client_secret.encode()):
            return _error("incorrect_client_credentials")
        code = self._state.codes.get(params.get("code", ""))
        if code is None or code.client_id != app.client_id or code.expires_at <= self.clock():
            return _error("bad_verification_code")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri and redirect_uri != code.redirect_uri:
            return _error("redirect_uri_mismatch")
        del self._state.codes[params["code"]]
        verifier = params.get("code_verifier", "")
        if code.code_challenge is not None and not pkce_matches(code.code_challenge, verifier):
            return _error("bad_verification_code")
        return _token_answer(self._issue_token(code.login, code.scopes, app.client_id), code.scopes)

    def _poll_device(self, params: Params) -> dict[str, Any]:
        if params.get("client_id", "") not in self.apps:
            return _error("incorrect_client_credentials")
        grant = self._state.devices.get(params.get("device_code", ""))
        if grant is None or grant.client_id != params["client_id"]:
            return _error("incorrect_device_code")
        now = self.clock()
        too_soon = grant.last_poll is not None and now - grant.last_poll < grant.interval
        grant.last_poll = now
        if grant.expires_at <= now or grant.denied:
            return _error("expired_token" if grant.expires_at <= now else "access_denied")
        if too_soon:
            grant.interval += 5
            return _error("slow_down", interval=grant.interval)
        if grant.login is None:
            return _error("authorization_pending")
        del self._state.devices[params["device_code"]]
        return _token_answer(
            self._issue_token(grant.login, grant.scopes, grant.client_id), grant.scopes
        )

    async def _device_code(self, request: Request) -> Response:
        params = {**dict(request.query_params), **await _form(request)}
        with self._lock:
            app = self.apps.get(params.get("client_id", ""))
            if app is None:
                return _negotiate(request, {"error": "Not Found"}, 404)
            if not app.device_flow:
                return _negotiate(request, _error("device_flow_disabled"), 400)
            user_code = "-".join(
                "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(4)) for _ in range(2)
            )
            device_code = secrets.token_hex(20)
            self._state.devices[device_code] = _DeviceGrant(
                app.client_id,
                _scopes(params.get("scope", "")),
                user_code,
                self.clock() + self.device_expires_in,
                self.device_interval,
            )
        answer = {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": f"{str(request.base_url).rstrip('/')}/login/device",
            "expires_in": self.device_expires_in,
            "interval": self.device_interval,
        }
        return _negotiate(request, answer)

    async def _device_page(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "GET":
            return HTMLResponse(self._device_form(params.get("user_code", ""), ""))
        params.update(await _form(request))
        user_code = params.get("user_code", "").strip().upper()
        with self._lock:
            grant = self._pending_device(user_code)
            user = self.users.get(params.get("login", "").lower())
            if grant is None:
                return HTMLResponse(self._device_form(user_code, "Invalid or expired code."), 404)
            if "cancel" in params:
                grant.denied = True
                return HTMLResponse(_page("Cancelled", "<h1>Authorization cancelled</h1>"))
            if user is None:
                return HTMLResponse(self._device_form(user_code, "Pick a user."), 422)
            grant.login = user.login
        body = "<h1>Congratulations, you're all set!</h1><p>Your device is now connected.</p>"
        return HTMLResponse(_page("Device activated", body))

    def _user_endpoint(self, base: str) -> Callable[[Request], Awaitable[Response]]:
        async def get_user(request: Request) -> Response:
            scheme, _, credential = request.headers.get("authorization", "").partition(" ")
            if not credential:
                return _rest_error(401, "Requires authentication", "/users/users")
            with self._lock:
                token = self._state.tokens.get(credential.strip())
                user = self.users.get(token.login.lower()) if token else None
            if scheme.lower() not in {"bearer", "token"} or not token or token.revoked or not user:
                return _rest_error(401, "Bad credentials", "")
            web = str(request.base_url).rstrip("/")
            headers = {"X-OAuth-Scopes": ", ".join(token.scopes)}
            return JSONResponse(_user_json(user, web, web + base), headers=headers)

        return get_user

    def _check_token_endpoint(self, base: str) -> Callable[[Request], Awaitable[Response]]:
        """GitHub's "Check a token": is this a live token of my app, with which scopes, whose?"""

        async def check_token(request: Request) -> Response:
            client_id = request.path_params["client_id"]
            credentials = _basic_auth(request)
            body = await _form(request)
            access_token = body.get("access_token", "")
            if not credentials:
                return _rest_error(401, "Requires authentication", "/apps/oauth-applications")
            if not access_token:
                return _rest_error(422, "Validation Failed", "/apps/oauth-applications")
            with self._lock:
                app = self.apps.get(client_id)
                token = self._state.tokens.get(access_token)
                user = self.users.get(token.login.lower()) if token else None
                valid_app = (
                    app is not None
                    and credentials.get("client_id") == client_id
                    and secrets.compare_digest(
                        credentials.get("client_secret", "").encode(), app.client_secret.encode()
                    )
                )
                live = token is not None and not token.revoked and user is not None
                if not valid_app or not live or token is None or token.client_id != client_id:
                    return _rest_error(404, "Not Found", "/apps/oauth-applications#check-a-token")
            assert app is not None
            assert user is not None
            web = str(request.base_url).rstrip("/")
            answer = {
                "id": int(hashlib.sha256(access_token.encode()).hexdigest()[:7], 16),
                "url": f"{web}{base}/authorizations/1",
                "scopes": list(token.scopes),
                "token": access_token,
                "token_last_eight": access_token[-8:],
                "hashed_token": hashlib.sha256(access_token.encode()).hexdigest(),
                "app": {"url": web, "name": app.name, "client_id": app.client_id},
                "note": None,
                "note_url": None,
                "updated_at": "2020-01-01T00:00:00Z",
                "created_at": "2020-01-01T00:00:00Z",
                "fingerprint": None,
                "expires_at": None,
                "user": _user_json(user, web, web + base),
                "installation": None,
            }
            return JSONResponse(answer)

        return check_token

    # -- helpers over state (call with the lock held) ---------------------------------------

    def _issue_token(
        self, login: str, scopes: tuple[str, ...], client_id: str | None = None
    ) -> str:
        alphabet = string.ascii_letters + string.digits
        token = "gho_" + "".join(secrets.choice(alphabet) for _ in range(36))
        self._state.tokens[token] = _Token(login, scopes, client_id)
        return token

    def _pending_device(self, user_code: str) -> _DeviceGrant | None:
        now = self.clock()
        for grant in self._state.devices.values():
            pending = grant.login is None and not grant.denied and grant.expires_at > now
            if pending and grant.user_code == user_code.upper():
                return grant
        return None

    def _authorize_page(self, app: OAuthApp, params: Params, scopes: tuple[str, ...]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in params.items()
            if name not in {"login", "cancel"}
        )
        body = (
            f"<h1>Authorize {html.escape(app.name)}</h1><p>{html.escape(app.name)} wants to "
            f"access your account (scopes: {html.escape(', '.join(scopes) or 'none')}).</p>"
            f'<form method="post" action="/login/oauth/authorize">{hidden}{self._buttons()}</form>'
        )
        return _page(f"Authorize application · {app.name}", body)

    def _device_form(self, user_code: str, message: str) -> str:
        note = f'<p role="alert">{html.escape(message)}</p>' if message else ""
        body = (
            f'<h1>Device Activation</h1>{note}<form method="post" action="/login/device">'
            '<label>Enter the code displayed on your device <input name="user_code" '
            f'value="{html.escape(user_code)}" autocomplete="off"></label>{self._buttons()}</form>'
        )
        return _page("Device Activation", body)

    def _buttons(self) -> str:
        """One "Authorize as <login>" per user, for a test or a browser to pick, and Cancel."""
        authorize = "".join(
            f' <button type="submit" name="login" value="{html.escape(u.login)}">'
            f"Authorize as {html.escape(u.login)}</button>"
            for u in self.users.values()
        )
        return f'{authorize} <button type="submit" name="cancel" value="1">Cancel</button>'


# -- protocol rules -------------------------------------------------------------------------


def redirect_allowed(callback_url: str, redirect_uri: str) -> bool:
    """GitHub's rule: same host or a sub-domain of it, same port (any port for a loopback
    callback), and a path at or under the callback's."""
    cb, rd = urlsplit(callback_url), urlsplit(redirect_uri)
    cb_host, rd_host = cb.hostname or "", rd.hostname or ""
    if rd.scheme != cb.scheme or not (rd_host == cb_host or rd_host.endswith("." + cb_host)):
        return False
    default = {"http": 80, "https": 443}.get(cb.scheme)
    if cb_host not in LOOPBACK_HOSTS and (cb.port or default) != (rd.port or default):
        return False
    base = cb.path.rstrip("/")
    return rd.path.rstrip("/") == base or rd.path.startswith(base + "/")


def pkce_matches(challenge: str, verifier: str) -> bool:
    if not PKCE_VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return secrets.compare_digest(computed, challenge)


def _scopes(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s in re.split(r"[\s,]+", raw) if s))


def _error(code: str, **extra: Any) -> dict[str, Any]:
    description, uri = TOKEN_ERRORS[code]
    return {"error": code, "error_description": description, "error_uri": uri, **extra}


def _token_answer(token: str, scopes: tuple[str, ...]) -> dict[str, Any]:
    return {"access_token": token, "token_type": "bearer", "scope": ",".join(scopes)}


async def _form(request: Request) -> Params:
    """The body as a form or as JSON, as GitHub takes both. Parsed here rather than by
    Starlette, whose form parser needs python-multipart."""
    body = await request.body()
    if not body:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return {}  # then every parameter is missing, and the answer says which error that is
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _basic_auth(request: Request) -> Params:
    """Client credentials sent as HTTP Basic (authlib's default), per RFC 6749 2.3.1."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return {}
    return {"client_id": unquote(client_id), "client_secret": unquote(secret)}


def _negotiate(request: Request, answer: dict[str, Any], status: int = 200) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(answer, status)
    return Response(
        urlencode(answer), status, media_type="application/x-www-form-urlencoded; charset=utf-8"
    )


def _redirect(url: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if urlsplit(url).query else "?"
    return RedirectResponse(f"{url}{separator}{query}", 302)


def _redirect_error(url: str, error: str, state: str | None) -> Response:
    description, uri = AUTHORIZE_ERRORS[error]
    params = {"error": error, "error_description": description, "error_uri": uri, "state": state}
    return _redirect(url, params)


def _rest_error(status: int, message: str, docs_path: str) -> JSONResponse:
    url = f"{DOCS}/rest{docs_path}"
    return JSONResponse(
        {"message": message, "documentation_url": url, "status": str(status)}, status
    )


async def _rest_not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    return _rest_error(status, HTTPStatus(status).phrase, "")


async def _avatar(request: Request) -> Response:
    # Served here so pages that show the avatar never reach out of the machine.
    hue = request.path_params["user_id"] % 360
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
        f'<rect width="40" height="40" fill="hsl({hue},60%,55%)"/></svg>'
    )
    return Response(svg, media_type="image/svg+xml")


def _user_json(user: User, web: str, api: str) -> dict[str, Any]:
    me = f"{api}/users/{user.login}"
    links = {
        "followers": "followers",
        "following": "following{/other_user}",
        "gists": "gists{/gist_id}",
        "starred": "starred{/owner}{/repo}",
        "subscriptions": "subscriptions",
        "organizations": "orgs",
        "repos": "repos",
        "events": "events{/privacy}",
        "received_events": "received_events",
    }
    profile = dict.fromkeys(("company", "location", "hireable", "bio", "twitter_username"))
    counts = dict.fromkeys(("public_repos", "public_gists", "followers", "following"), 0)
    return {
        "login": user.login,
        "id": user.id,
        "node_id": base64.b64encode(f"04:User{user.id}".encode()).decode(),
        "avatar_url": f"{web}/avatars/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": me,
        "html_url": f"{web}/{user.login}",
        **{f"{name}_url": f"{me}/{path}" for name, path in links.items()},
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
        "name": user.name,
        "email": user.email,
        "blog": "",
        **profile,
        **counts,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    }


_UNICORN = (
    "<h1>Unicorn!</h1><p>No server is currently available to service your request.</p>"
    "<p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · GitHub</title></head>"
        f"<body><main>{body}</main></body></html>"
    )


# -- command line ---------------------------------------------------------------------------


def load_config(path: Path) -> tuple[list[User], list[OAuthApp]]:
    """A JSON list of users, or {"users": [...], "apps": [...]}; a user is at least
    {"login": ...}, an app {"client_id", "client_secret", "callback_url"}."""
    data = json.loads(path.read_text())
    if isinstance(data, list):
        data = {"users": data}
    users = [User(**u) for u in data.get("users", [])]
    apps = [OAuthApp(**a) for a in data.get("apps", [])]
    return users, apps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--users", type=Path, help="JSON file of users (and apps)")
    parser.add_argument(
        "--app",
        nargs=3,
        action="append",
        default=[],
        metavar=("CLIENT_ID", "CLIENT_SECRET", "CALLBACK_URL"),
        help="register an OAuth app (repeatable)",
    )
    parser.add_argument(
        "--api-base-path",
        action="append",
        dest="api_base_paths",
        help='REST base path, "" (api.github.com style) or "/api/v3" (Enterprise); repeatable',
    )
    parser.add_argument("--device-interval", type=int, default=5)
    args = parser.parse_args(argv)
    users, apps = load_config(args.users) if args.users else ([], [])
    apps += [OAuthApp(*app) for app in args.app]
    standin = GitHubStandin(
        users=users,
        apps=apps,
        host=args.host,
        port=args.port,
        api_base_paths=args.api_base_paths or ("", "/api/v3"),
        device_interval=args.device_interval,
    )
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with standin:
        print(standin.web_url, flush=True)
        print(f"web_url={standin.web_url} api_url={standin.api_url}", file=sys.stderr, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
