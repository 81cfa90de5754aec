"""The account: who is signed in, the data export, and deleting it all."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from dashboard.web import AppState, Form, User, redirect, render, session_of

router = APIRouter(prefix="/account")

# The export streams every event the user's projects hold; the gateway allows it as long.
_EXPORT_TIMEOUT_SECONDS = 600.0


@router.get("")
async def account(request: Request, state: AppState, session: User) -> Response:
    body = await state.gateway.json("GET", "/api/me", token=session.access_token)
    return render(request, "account.html", {"user": body["user"], "error": ""})


@router.get("/export")
async def export(state: AppState, session: User) -> Response:
    """The gateway's export, passed through as it streams, never held here whole."""
    streamed = state.gateway.stream(
        "/api/me/export", token=session.access_token, timeout=_EXPORT_TIMEOUT_SECONDS
    )
    # Entered here, so a gateway that refuses or is down still gets its own page.
    response = await streamed.__aenter__()

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await streamed.__aexit__(None, None, None)

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="stackline-export.json"'},
    )


@router.post("/delete")
async def delete_account(request: Request, state: AppState, session: User, form: Form) -> Response:
    if form.get("confirm", "").strip() != session.login:
        body = await state.gateway.json("GET", "/api/me", token=session.access_token)
        return render(
            request,
            "account.html",
            {
                "user": body["user"],
                "error": f"Type your login, {session.login}, to delete the account; "
                "nothing was deleted.",
            },
            status=400,
        )
    await state.gateway.send("DELETE", "/api/me", token=session.access_token)
    session_of(request).sign_out()
    return redirect(
        "/login",
        notice="Your account and everything it owned are deleted.",
        request=request,
    )
