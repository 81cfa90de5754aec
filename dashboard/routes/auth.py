"""Signing in (GitHub's browser flow through the gateway, or locally) and out."""

from __future__ import annotations

import contextlib
import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response

from dashboard.gateway import GatewayError, GatewayUnavailable, SignedOut
from dashboard.web import AppState, Form, redirect, render, safe_next, session_of

router = APIRouter()

# The gateway binds a browser sign-in to the browser with this cookie. The browser here
# never talks to the gateway: the dashboard keeps the value in its own sealed session and
# hands it back when it completes the sign-in.
_GATEWAY_STATE_COOKIE = "stackline_oauth_state"


@router.get("/")
async def home(request: Request) -> Response:
    return redirect("/projects" if session_of(request).signed_in else "/login")


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    if session_of(request).signed_in:
        return redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "error": ""})


@router.get("/login/github")
async def github_login(request: Request, state: AppState) -> Response:
    """Ask the gateway to start a sign-in, then send the browser to GitHub's authorize page."""
    try:
        started = await state.gateway.send("GET", "/api/auth/github/login")
    except GatewayError as exc:
        return render(
            request, "login.html", {"next": "/projects", "error": exc.message}, status=400
        )
    location = started.headers.get("location", "")
    oauth_state = started.cookies.get(_GATEWAY_STATE_COOKIE, "")
    if urlsplit(location).scheme not in ("https", "http") or not oauth_state:
        return render(
            request,
            "login.html",
            {"next": "/projects", "error": "GitHub sign-in could not be started."},
            status=502,
        )
    session_of(request).oauth_state = oauth_state
    return redirect(location)


@router.get("/auth/github/callback")
async def github_callback(
    request: Request,
    state: AppState,
    code: Annotated[str, Query(max_length=512)] = "",
    oauth_state: Annotated[str, Query(alias="state", max_length=512)] = "",
    error: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    """Where GitHub sends the browser back; the gateway turns the code into a session."""
    session = session_of(request)
    expected, session.oauth_state = session.oauth_state, ""
    if error:
        message = (
            "You declined the sign-in on GitHub."
            if error == "access_denied"
            else f"GitHub refused the sign-in ({error})."
        )
        return render(request, "login.html", {"next": "/projects", "error": message}, status=400)
    if not expected or not hmac.compare_digest(expected.encode(), oauth_state.encode()):
        return render(
            request,
            "login.html",
            {
                "next": "/projects",
                "error": "This sign-in was not started in this browser, or took too long. "
                "Sign in again.",
            },
            status=400,
        )
    try:
        response = await state.gateway.send(
            "GET",
            "/api/auth/github/callback",
            params={"code": code, "state": oauth_state},
            cookies={_GATEWAY_STATE_COOKIE: oauth_state},
        )
    except (GatewayError, SignedOut) as exc:
        message = exc.message if isinstance(exc, GatewayError) else "GitHub refused the sign-in."
        return render(request, "login.html", {"next": "/projects", "error": message}, status=400)
    session.sign_in(response.json())
    return redirect("/projects")


@router.post("/login/local")
async def local_login(request: Request, state: AppState, form: Form) -> Response:
    login = form.get("login", "").strip()
    next_path = safe_next(form.get("next"))
    if not state.settings.dev_login_enabled:
        return render(
            request,
            "login.html",
            {"next": next_path, "error": "Local sign-in is switched off here."},
            status=404,
        )
    try:
        tokens = await state.gateway.json("POST", "/api/auth/dev-login", json={"login": login})
    except GatewayError as exc:
        return render(
            request,
            "login.html",
            {"next": next_path, "error": exc.message, "login": login},
            status=400,
        )
    session_of(request).sign_in(tokens)
    return redirect(next_path)


@router.post("/logout")
async def logout(request: Request, state: AppState, form: Form) -> Response:
    session = session_of(request)
    if session.refresh_token:
        # Ended already, or the API is down: forgetting the tokens here still signs this
        # browser out, and the refresh token expires on its own.
        with contextlib.suppress(GatewayError, GatewayUnavailable, SignedOut):
            await state.gateway.send(
                "POST", "/api/auth/logout", json={"refresh_token": session.refresh_token}
            )
    session.sign_out()
    return redirect("/login", notice="You are signed out.", request=request)
