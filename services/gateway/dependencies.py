"""FastAPI dependencies: the gateway's state, the signed-in user, the ingest key's project."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from stackline.common.v1 import common_pb2

from services.gateway.backends import Backends
from services.gateway.credentials import IngestKeyCache, ResolvedKey, TokenVerifier, User
from services.gateway.ingest_batcher import IngestBatcher
from services.gateway.rate_limits import RateLimits
from services.gateway.revocations import RevocationBus
from services.gateway.settings import GatewaySettings
from stackline_contract import keyformat
from stackline_infra.errors import PermissionDenied, StacklineError, Unauthenticated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayState:
    settings: GatewaySettings
    backends: Backends
    tokens: TokenVerifier
    ingest_keys: IngestKeyCache
    batcher: IngestBatcher
    limits: RateLimits
    revocations: RevocationBus


async def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


# Every dependency is async: FastAPI runs a plain `def` one in a thread pool,
# which on the ingest path cost more than the work it does.
State = Annotated[GatewayState, Depends(gateway_state)]

# Declared for OpenAPI; the checks themselves are below, so that every
# failure gets Stackline's error shape and status.
_user_token = HTTPBearer(
    scheme_name="UserToken", description="A Stackline access token (JWT).", auto_error=False
)


def client_ip(request: Request, trusted_proxy_hops: int) -> str:
    """The caller's address: the socket peer, or what a trusted proxy put in X-Forwarded-For."""
    peer = request.client.host if request.client else ""
    if trusted_proxy_hops:
        forwarded = [
            p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()
        ]
        if len(forwarded) >= trusted_proxy_hops:
            candidate = forwarded[-trusted_proxy_hops]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return peer


def _bearer(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthenticated("missing credentials: send Authorization: Bearer <token>")
    return credentials.credentials


async def refused(state: GatewayState, address: str, credential: str, why: StacklineError) -> None:
    """Count a bad credential against its address (429 once it is over its limit), and say so
    in the log: never the credential itself, only why it was refused."""
    log.info("refused %s from %s: %s", credential, address, why.message)
    await state.limits.count_failure(address)


async def current_user(
    request: Request,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_user_token)],
) -> User:
    address = client_ip(request, state.settings.trusted_proxy_hops)
    try:
        token = _bearer(credentials)
        if token.startswith(keyformat.PREFIX):
            raise Unauthenticated(
                "an ingest key cannot call this endpoint; sign in for an access token"
            )
        user = await state.tokens.verify(token)
    except Unauthenticated as exc:
        await refused(state, address, "an access token", exc)
        raise
    await state.limits.api(str(user.id))
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def actor(request: Request, state: State, user: CurrentUser) -> common_pb2.Actor:
    """The proto Actor for calls made on behalf of the signed-in user."""
    return common_pb2.Actor(
        user_id=str(user.id), source_ip=client_ip(request, state.settings.trusted_proxy_hops)
    )


Actor = Annotated[common_pb2.Actor, Depends(actor)]


async def resolve_ingest_key(request: Request, state: GatewayState) -> ResolvedKey:
    """The project an ingest request's key belongs to.

    Called by the ingest route itself rather than through Depends: on the
    hottest path, FastAPI's dependency solving costs more than the check.
    """
    address = client_ip(request, state.settings.trusted_proxy_hops)

    try:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Unauthenticated("missing credentials: send Authorization: Bearer <ingest key>")
        if not key.startswith(keyformat.PREFIX):
            raise Unauthenticated("POST /api/ingest takes a project's ingest key (slk_...)")
        return await state.ingest_keys.resolve(key.strip())
    except (Unauthenticated, PermissionDenied) as exc:
        await refused(state, address, "an ingest key", exc)
        raise
