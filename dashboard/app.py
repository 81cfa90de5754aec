"""The dashboard application: pages, the session cookie, security headers, error pages."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from dashboard.gateway import Gateway, GatewayError, GatewayUnavailable, SignedOut
from dashboard.routes import account, auth, incidents, projects
from dashboard.sessions import COOKIE, Refresher, Session, SessionCodec
from dashboard.settings import DashboardSettings
from dashboard.submissions import Submissions
from dashboard.web import TEMPLATES, DashboardState, NeedsSignIn, PageError, login_path, render
from stackline_infra.metrics import HttpMetricsMiddleware

log = logging.getLogger(__name__)

# Scripts and styles from this site only, no inline code, no frames, no plug-ins, forms
# posting only here, and nothing fetched by script: the pages need none of it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(
    settings: DashboardSettings, *, transport: httpx2.AsyncBaseTransport | None = None
) -> FastAPI:
    """The app; `transport` is how it reaches the gateway (tests hand it one in-process)."""
    key = settings.session_key.get_secret_value().encode() or Fernet.generate_key()
    codec = SessionCodec(key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = Gateway(
            settings.gateway_url, timeout=settings.gateway_timeout_seconds, transport=transport
        )
        app.state.dashboard = DashboardState(settings, gateway, Refresher(gateway), Submissions())
        try:
            yield
        finally:
            await gateway.close()

    app = FastAPI(
        title="Stackline dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (auth.router, projects.router, incidents.router, account.router):
        app.include_router(router)

    @app.get("/health", include_in_schema=False)
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.middleware("http")
    async def session_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        loaded = codec.load(request.cookies.get(COOKIE))
        session = loaded or Session.fresh()
        before = dict(loaded.__dict__) if loaded else None
        request.state.session = session
        response = await call_next(request)
        if session.__dict__ != before:
            max_age = int(session.refresh_expires - time.time()) if session.signed_in else None
            response.set_cookie(
                COOKIE,
                codec.dump(session),
                max_age=max_age,
                path="/",
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
            )
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        else:
            # Pages show one user's projects and keys: no shared or back-button cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    _install_error_pages(app)
    # Outermost, so the error pages and the session middleware are inside what it times.
    app.add_middleware(HttpMetricsMiddleware, process="dashboard")
    return app


def _install_error_pages(app: FastAPI) -> None:
    async def needs_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NeedsSignIn)
        return Response(status_code=303, headers={"Location": login_path(exc.next_path)})

    async def signed_out(request: Request, exc: Exception) -> Response:
        session = request.state.session
        session.sign_out()
        session.notice = "Your session has ended. Sign in again to go on."
        return Response(status_code=303, headers={"Location": login_path(request.url.path)})

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return render(
            request,
            "error.html",
            {"title": exc.title, "message": exc.message},
            status=exc.status,
        )

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        if exc.status == 404:
            return _not_found(request)
        if exc.status == 429:
            return render(
                request,
                "error.html",
                {"title": "Too many requests", "message": exc.message},
                status=429,
                headers={"Retry-After": exc.retry_after or "60"},
            )
        return render(
            request,
            "error.html",
            {"title": "That did not work", "message": exc.message},
            status=400,
        )

    async def unavailable(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "unavailable.html",
            {"retry": _same_page(request) if request.method == "GET" else None},
            status=503,
            headers={"Retry-After": "5"},
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _not_found(request)
        return render(
            request,
            "error.html",
            {"title": "Not possible", "message": "This page does not answer that request."},
            status=exc.status_code,
        )

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # A malformed id in the address names nothing: the same page as a missing one.
        if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
            return _not_found(request)
        return render(
            request,
            "error.html",
            {"title": "Not understood", "message": "This address or form is not one of ours."},
            status=400,
        )

    async def internal(request: Request, exc: Exception) -> Response:
        # A bug: logged with its trace for whoever runs the dashboard, never shown to the user.
        log.exception("page failed: %s %s", request.method, request.url.path, exc_info=exc)
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {
                "session": None,
                "notice": "",
                "title": "Something went wrong",
                "message": "This page failed on our side. Nothing was changed; try again.",
            },
            status_code=500,
            headers=_SECURITY_HEADERS,
        )

    app.add_exception_handler(Exception, internal)
    app.add_exception_handler(NeedsSignIn, needs_sign_in)
    app.add_exception_handler(SignedOut, signed_out)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(GatewayUnavailable, unavailable)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)


def _same_page(request: Request) -> str:
    # A path, never an absolute URL built from the Host header.
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _not_found(request: Request) -> Response:
    # The same page whether the thing is missing or someone else's: existence does not leak.
    return render(
        request,
        "error.html",
        {
            "title": "Not found",
            "message": "There is nothing here, or it is not yours to see.",
        },
        status=404,
    )
