"""Sign-in, and who the signed-in user is."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from stackline.auth.v1 import auth_pb2

from services.gateway.dependencies import CurrentUser, State, client_ip
from services.gateway.schemas.auth import AccessToken, DevLogin, Me, UserInfo
from services.gateway.schemas.errors import documented_errors
from stackline_infra.errors import NotFound
from stackline_infra.timestamps import from_proto

router = APIRouter(tags=["auth"])


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@router.post(
    "/api/auth/dev-login",
    summary="Local sign-in for the one-machine mode (switched off everywhere else)",
    responses=documented_errors(400, 404),
)
async def dev_login(body: DevLogin, request: Request, state: State) -> AccessToken:
    # Off unless switched on, and even then only for a caller on this machine;
    # anywhere else the endpoint does not exist.
    source_ip = client_ip(request, state.settings.trusted_proxy_hops)
    if not state.settings.dev_login_enabled or not _is_loopback(source_ip):
        raise NotFound("no such endpoint")
    response = await state.backends.auth.DevLogin(
        auth_pb2.DevLoginRequest(login=body.login, source_ip=source_ip)
    )
    return AccessToken(
        access_token=response.access_token.token,
        expires_at=from_proto(response.access_token.expires_at),
        user=UserInfo.from_proto(response.user),
    )


@router.get("/api/me", summary="The signed-in user", responses=documented_errors(401))
async def me(state: State, user: CurrentUser) -> Me:
    response = await state.backends.auth.GetUser(auth_pb2.GetUserRequest(user_id=str(user.id)))
    return Me(user=UserInfo.from_proto(response.user))
