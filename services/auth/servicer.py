"""AuthService's gRPC edge: proto in, proto out; each call is one transaction."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.auth.v1 import auth_pb2, auth_pb2_grpc

from services.auth import service
from services.auth.tokens import TokenIssuer
from stackline_infra.db.schema import User
from stackline_infra.timestamps import to_proto


def _user(user: User) -> auth_pb2.User:
    return auth_pb2.User(
        id=str(user.id),
        login=user.login,
        name=user.name or "",
        provider=user.provider,
        created_at=to_proto(user.created_at),
    )


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        issuer: TokenIssuer,
        *,
        dev_login_enabled: bool,
    ) -> None:
        self._sessions = sessions
        self._issuer = issuer
        self._dev_login_enabled = dev_login_enabled

    async def DevLogin(
        self, request: auth_pb2.DevLoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.DevLoginResponse:
        async with self._sessions.begin() as session:
            signed_in = await service.dev_login(
                session,
                self._issuer,
                enabled=self._dev_login_enabled,
                login=request.login,
                source_ip=request.source_ip,
            )
        return auth_pb2.DevLoginResponse(
            user=_user(signed_in.user),
            access_token=auth_pb2.AccessToken(
                token=signed_in.token, expires_at=to_proto(signed_in.expires_at)
            ),
        )

    async def GetPublicKeys(
        self, request: auth_pb2.GetPublicKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetPublicKeysResponse:
        return auth_pb2.GetPublicKeysResponse(
            jwks_json=self._issuer.jwks_json(),
            issuer=self._issuer.issuer,
            audience=self._issuer.audience,
        )

    async def ResolveIngestKey(
        self, request: auth_pb2.ResolveIngestKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ResolveIngestKeyResponse:
        async with self._sessions.begin() as session:
            project_id, key_id = await service.resolve_ingest_key(session, request.key)
        return auth_pb2.ResolveIngestKeyResponse(project_id=str(project_id), key_id=str(key_id))

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetUserResponse:
        async with self._sessions.begin() as session:
            user = await service.get_user(session, request.user_id)
        return auth_pb2.GetUserResponse(user=_user(user))
