"""What every page shares: the app's state, the session of the request, forms checked
against CSRF, rendering, and the exceptions that become whole pages."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from dashboard.gateway import Gateway
from dashboard.sessions import Refresher, Session
from dashboard.settings import DashboardSettings
from dashboard.submissions import Submissions

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Forms here are a few fields; anything larger is not one of ours.
_MAX_FORM_BYTES = 64 * 1024


@dataclass
class DashboardState:
    settings: DashboardSettings
    gateway: Gateway
    refresher: Refresher
    submissions: Submissions


class PageError(Exception):
    """An expected failure shown as a whole page with its status (403 CSRF, 404 missing)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class NeedsSignIn(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def state_of(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.dashboard
    return state


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def signed_in_session(request: Request) -> Session:
    """The request's session with an access token good for the next minute, or a sign-in."""
    session = session_of(request)
    if not session.signed_in:
        query = request.url.query
        raise NeedsSignIn(request.url.path + (f"?{query}" if query else ""))
    await state_of(request).refresher.ensure_fresh(session)
    return session


AppState = Annotated[DashboardState, Depends(state_of)]
User = Annotated[Session, Depends(signed_in_session)]


def safe_next(path: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/projects"


async def form_of(request: Request) -> dict[str, str]:
    """The posted form, after its CSRF token is checked against the session's."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise PageError(403, "Form refused", "This form was sent from another site.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise PageError(400, "Form refused", "This is not a form this page sends.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise PageError(413, "Form refused", "This form is larger than any of ours.")
    try:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "Form refused", "This form could not be read.") from None
    sent = fields.pop("csrf", "")
    if not sent or not hmac.compare_digest(sent.encode(), session_of(request).csrf.encode()):
        raise PageError(
            403,
            "This form has expired",
            "The page was open from before you signed in or out, or the form did not come "
            "from Stackline. Nothing was changed: go back, reload the page and try again.",
        )
    return fields


Form = Annotated[dict[str, str], Depends(form_of)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    session = session_of(request)
    notice, session.notice = session.notice, ""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "notice": notice,
            "dev_login_enabled": state_of(request).settings.dev_login_enabled,
            **(context or {}),
        },
        status_code=status,
        headers=headers,
    )


def redirect(path: str, *, notice: str = "", request: Request | None = None) -> RedirectResponse:
    """303 to a page of this site, with a one-line notice for it."""
    if notice and request is not None:
        session_of(request).notice = notice
    return RedirectResponse(path, status_code=303)


def login_path(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")
