"""Sign-in with GitHub (browser, editor token, device flow) or locally, and sessions."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import grpc
from fastapi import APIRouter, Cookie, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from stackline.auth.v1 import auth_pb2

from services.gateway.dependencies import GatewayState, State, client_ip, refused
from services.gateway.schemas.auth import (
    DeviceLogin,
    DevicePoll,
    DevLogin,
    GitHubToken,
    RefreshRequest,
    Session,
)
from services.gateway.schemas.errors import documented_errors
from stackline_infra.errors import AccessDenied, InvalidArgument, NotFound, from_rpc_error

_T = TypeVar("_T")
# Answers here carry tokens (or a device code, or a sign-in state): no cache, shared or
# private, may keep them (RFC 9111; OAuth 2.0, RFC 6749 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _no_store(response: Response) -> None:
    response.headers.update(_NO_STORE)


async def _sign_in_limit(request: Request, state: State) -> None:
    await state.limits.sign_in(client_ip(request, state.settings.trusted_proxy_hops))


router = APIRouter(prefix="/api/auth", tags=["auth"], dependencies=[Depends(_no_store)])
# Every route that reaches GitHub or writes a session; not dev-login, which is loopback-only.
_LIMITED = [Depends(_sign_in_limit)]


async def _counting_refusals(
    request: Request, state: GatewayState, credential: str, call: Awaitable[_T]
) -> _T:
    """The call's answer; a credential AuthService refuses (a bad GitHub or refresh token)
    counts against the caller's address as a bad key or access token does."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            address = client_ip(request, state.settings.trusted_proxy_hops)
            await refused(state, address, credential, from_rpc_error(exc))
        raise


# Binds a browser sign-in to the browser that started it, against login CSRF:
# the state GitHub sends back must match the one this browser was given.
STATE_COOKIE = "stackline_oauth_state"
_STATE_COOKIE_PATH = "/api/auth/github"
_STATE_COOKIE_SECONDS = 600


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@router.get(
    "/github/login",
    status_code=status.HTTP_302_FOUND,
    summary="Start signing in with GitHub in a browser",
    response_class=RedirectResponse,
    responses={302: {"description": "To GitHub's authorize page."}, **documented_errors(400)},
    dependencies=_LIMITED,
)
async def github_login(state: State) -> RedirectResponse:
    started = await state.backends.auth.StartGitHubLogin(auth_pb2.StartGitHubLoginRequest())
    redirect = RedirectResponse(
        started.authorize_url, status_code=status.HTTP_302_FOUND, headers=_NO_STORE
    )
    redirect.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=_STATE_COOKIE_SECONDS,
        path=_STATE_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=state.settings.environment == "production",
    )
    return redirect


@router.get(
    "/github/callback",
    summary="Where GitHub sends the browser back: exchanges the code for a session",
    responses=documented_errors(400, 401, 403),
    dependencies=_LIMITED,
)
async def github_callback(
    request: Request,
    response: Response,
    state: State,
    code: Annotated[str, Query(max_length=512)] = "",
    oauth_state: Annotated[str, Query(alias="state", max_length=512)] = "",
    error: Annotated[str, Query(max_length=128)] = "",
    browser_state: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> Session:
    if error == "access_denied":
        raise AccessDenied("you declined the sign-in on GitHub")
    if error:
        raise InvalidArgument(f"GitHub refused the sign-in ({error})", field="error")
    if not browser_state or not hmac.compare_digest(browser_state.encode(), oauth_state.encode()):
        raise InvalidArgument(
            "this sign-in was not started in this browser, or has expired; sign in again",
            field="state",
        )
    if not code:
        raise InvalidArgument("code is required", field="code")
    signed_in = await state.backends.auth.CompleteGitHubLogin(
        auth_pb2.CompleteGitHubLoginRequest(
            state=oauth_state,
            code=code,
            source_ip=client_ip(request, state.settings.trusted_proxy_hops),
        )
    )
    response.delete_cookie(STATE_COOKIE, path=_STATE_COOKIE_PATH)
    return Session.from_proto(signed_in.sign_in)


@router.post(
    "/token",
    summary="Exchange a GitHub token of Stackline's own OAuth app (or, where the operator "
    "allows, of another app) for a Stackline session",
    responses=documented_errors(400, 401),
    dependencies=_LIMITED,
)
async def exchange_github_token(body: GitHubToken, request: Request, state: State) -> Session:
    signed_in = await _counting_refusals(
        request,
        state,
        "a GitHub token",
        state.backends.auth.ExchangeGitHubToken(
            auth_pb2.ExchangeGitHubTokenRequest(
                github_token=body.github_token,
                source_ip=client_ip(request, state.settings.trusted_proxy_hops),
            )
        ),
    )
    return Session.from_proto(signed_in.sign_in)


@router.post(
    "/device/start",
    summary="Start a GitHub device sign-in: the editors' default",
    responses=documented_errors(400),
    dependencies=_LIMITED,
)
async def device_start(state: State) -> DeviceLogin:
    started = await state.backends.auth.StartDeviceLogin(auth_pb2.StartDeviceLoginRequest())
    return DeviceLogin(
        device_code=started.device_code,
        user_code=started.user_code,
        verification_uri=started.verification_uri,
        expires_in=started.expires_in,
        interval=started.interval,
    )


@router.post(
    "/device/poll",
    summary="Poll a device sign-in",
    description=(
        "400 with code `authorization_pending` until the user approves (poll again after"
        " `interval` seconds), `slow_down` with `Retry-After` when polled too often,"
        " `expired_token` once the code expired; 403 `access_denied` if the user declined."
    ),
    responses=documented_errors(400, 401, 403),
    dependencies=_LIMITED,
)
async def device_poll(body: DevicePoll, request: Request, state: State) -> Session:
    signed_in = await state.backends.auth.PollDeviceLogin(
        auth_pb2.PollDeviceLoginRequest(
            device_code=body.device_code,
            source_ip=client_ip(request, state.settings.trusted_proxy_hops),
        )
    )
    return Session.from_proto(signed_in.sign_in)


@router.post(
    "/refresh",
    summary="Spend a refresh token for a new access token and refresh token",
    responses=documented_errors(400, 401),
    dependencies=_LIMITED,
)
async def refresh(body: RefreshRequest, request: Request, state: State) -> Session:
    signed_in = await _counting_refusals(
        request,
        state,
        "a refresh token",
        state.backends.auth.RefreshSession(
            auth_pb2.RefreshSessionRequest(
                refresh_token=body.refresh_token,
                source_ip=client_ip(request, state.settings.trusted_proxy_hops),
            )
        ),
    )
    return Session.from_proto(signed_in.sign_in)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the session a refresh token belongs to",
    responses=documented_errors(400),
    dependencies=_LIMITED,
)
async def logout(body: RefreshRequest, state: State) -> Response:
    await state.backends.auth.EndSession(
        auth_pb2.EndSessionRequest(refresh_token=body.refresh_token)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/dev-login",
    summary="Local sign-in for the one-machine mode (switched off everywhere else)",
    responses=documented_errors(400, 404),
)
async def dev_login(body: DevLogin, request: Request, state: State) -> Session:
    # Off unless switched on, and even then only for a caller on this machine;
    # anywhere else the endpoint does not exist.
    source_ip = client_ip(request, state.settings.trusted_proxy_hops)
    if not state.settings.dev_login_enabled or not _is_loopback(source_ip):
        raise NotFound("no such endpoint")
    signed_in = await state.backends.auth.DevLogin(
        auth_pb2.DevLoginRequest(login=body.login, source_ip=source_ip)
    )
    return Session.from_proto(signed_in.sign_in)
