"""AuthService's gRPC edge: proto in, proto out.

Each call is one transaction, except the GitHub sign-ins, which talk to
GitHub between two: one that takes the sign-in state, one that records the
user. A slow GitHub then holds no database connection.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.auth.v1 import auth_pb2, auth_pb2_grpc

from services.auth import service
from services.auth.github import GitHub, GitHubUser
from services.auth.tokens import TokenIssuer
from stackline_infra.clock import WallClock
from stackline_infra.db.schema import User
from stackline_infra.db.types import json_dumps, utcnow
from stackline_infra.errors import Unauthenticated
from stackline_infra.identity import caller_from_proto
from stackline_infra.timestamps import to_proto

# GitHub's tokens: gho_..., ghp_..., github_pat_..., or 40 hex digits of old.
_GITHUB_TOKEN = re.compile(r"[A-Za-z0-9_]{1,512}")


def _user(user: User) -> auth_pb2.User:
    return auth_pb2.User(
        id=str(user.id),
        login=user.login,
        name=user.name or "",
        provider=user.provider,
        created_at=to_proto(user.created_at),
        avatar_url=user.avatar_url or "",
    )


def _signed_in(signed_in: service.SignedIn) -> auth_pb2.SignIn:
    return auth_pb2.SignIn(
        user=_user(signed_in.user),
        access_token=auth_pb2.AccessToken(
            token=signed_in.token, expires_at=to_proto(signed_in.expires_at)
        ),
        refresh_token=signed_in.refresh_token,
        refresh_expires_at=to_proto(signed_in.refresh_expires_at),
    )


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        issuer: TokenIssuer,
        github: GitHub,
        *,
        dev_login_enabled: bool,
        refresh_ttl: timedelta,
        accept_other_app_tokens: bool = False,
        clock: WallClock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._accept_other_app_tokens = accept_other_app_tokens
        self._clock = clock
        self._issuer = issuer
        self._github = github
        self._dev_login_enabled = dev_login_enabled
        self._refresh_ttl = refresh_ttl

    async def _sign_in_github(
        self, github_user: GitHubUser, source_ip: str, via: str
    ) -> auth_pb2.SignIn:
        async with self._sessions.begin() as session:
            signed_in = await service.github_sign_in(
                session,
                self._issuer,
                github_user,
                source_ip=source_ip,
                via=via,
                refresh_ttl=self._refresh_ttl,
                now=self._clock(),
            )
        return _signed_in(signed_in)

    async def StartGitHubLogin(
        self, request: auth_pb2.StartGitHubLoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.StartGitHubLoginResponse:
        async with self._sessions.begin() as session:
            state, verifier = await service.begin_github_login(session, now=self._clock())
        return auth_pb2.StartGitHubLoginResponse(
            authorize_url=self._github.authorize_url(state, verifier), state=state
        )

    async def CompleteGitHubLogin(
        self, request: auth_pb2.CompleteGitHubLoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CompleteGitHubLoginResponse:
        async with self._sessions.begin() as session:
            verifier = await service.take_github_login(session, request.state, now=self._clock())
        github_token = await self._github.exchange_code(request.code, verifier)
        github_user = await self._github.user(github_token)
        signed_in = await self._sign_in_github(github_user, request.source_ip, "web")
        return auth_pb2.CompleteGitHubLoginResponse(sign_in=signed_in)

    async def ExchangeGitHubToken(
        self, request: auth_pb2.ExchangeGitHubTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ExchangeGitHubTokenResponse:
        if not request.github_token:
            raise Unauthenticated("no GitHub token given")
        if not _GITHUB_TOKEN.fullmatch(request.github_token):
            # It could not even go in a header to GitHub.
            raise Unauthenticated("this is not a GitHub token")
        # Any site a user signed in to with GitHub holds a token of theirs: only one issued to
        # Stackline's own app proves they meant to sign in here. A token of an app whose
        # secret Stackline lacks (the editor's built-in GitHub sign-in) cannot be checked that
        # way, so it is taken only where the operator chose to (docs/identity.md).
        github_user = await self._github.own_app_user(request.github_token)
        if github_user is not None:
            signed_in = await self._sign_in_github(github_user, request.source_ip, "token")
            return auth_pb2.ExchangeGitHubTokenResponse(sign_in=signed_in)
        if not self._accept_other_app_tokens:
            raise Unauthenticated(
                "this GitHub token was not issued to Stackline's GitHub app; sign in with a "
                "one-time code instead (POST /api/auth/device/start)"
            )
        github_user = await self._github.user(request.github_token)
        signed_in = await self._sign_in_github(github_user, request.source_ip, "token_other_app")
        return auth_pb2.ExchangeGitHubTokenResponse(sign_in=signed_in)

    async def StartDeviceLogin(
        self, request: auth_pb2.StartDeviceLoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.StartDeviceLoginResponse:
        device = await self._github.start_device_login()
        return auth_pb2.StartDeviceLoginResponse(
            device_code=device.device_code,
            user_code=device.user_code,
            verification_uri=device.verification_uri,
            expires_in=device.expires_in,
            interval=device.interval,
        )

    async def PollDeviceLogin(
        self, request: auth_pb2.PollDeviceLoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.PollDeviceLoginResponse:
        github_token = await self._github.poll_device_login(request.device_code)
        github_user = await self._github.user(github_token)
        signed_in = await self._sign_in_github(github_user, request.source_ip, "device")
        return auth_pb2.PollDeviceLoginResponse(sign_in=signed_in)

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
                refresh_ttl=self._refresh_ttl,
                now=self._clock(),
            )
        return auth_pb2.DevLoginResponse(sign_in=_signed_in(signed_in))

    async def RefreshSession(
        self, request: auth_pb2.RefreshSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RefreshSessionResponse:
        async with self._sessions.begin() as session:
            outcome = await service.refresh(
                session,
                self._issuer,
                request.refresh_token,
                refresh_ttl=self._refresh_ttl,
                now=self._clock(),
            )
        if outcome.signed_in is None:
            raise Unauthenticated(outcome.refusal)
        return auth_pb2.RefreshSessionResponse(sign_in=_signed_in(outcome.signed_in))

    async def EndSession(
        self, request: auth_pb2.EndSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.EndSessionResponse:
        async with self._sessions.begin() as session:
            await service.end_session(session, request.refresh_token, now=self._clock())
        return auth_pb2.EndSessionResponse()

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
            now = self._clock()
            resolved = await service.resolve_ingest_key(session, request.key, now=now)
        response = auth_pb2.ResolveIngestKeyResponse(
            project_id=str(resolved.project_id), key_id=str(resolved.key_id)
        )
        if resolved.stops_at is not None:
            response.stops_in_seconds = (resolved.stops_at - now).total_seconds()
        return response

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetUserResponse:
        caller = caller_from_proto(request.actor)
        async with self._sessions.begin() as session:
            user = await service.get_user(session, caller.user_id)
        return auth_pb2.GetUserResponse(user=_user(user))

    async def ExportUser(
        self, request: auth_pb2.ExportUserRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[auth_pb2.ExportUserResponse]:
        caller = caller_from_proto(request.actor)
        async with self._sessions.begin() as session:
            # One snapshot for the whole export, however long it streams.
            if session.get_bind().dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            async for kind, row in service.export_user(session, caller.user_id):
                yield auth_pb2.ExportUserResponse(
                    kind=kind, json=json_dumps(row) if row is not None else ""
                )

    async def DeleteUser(
        self, request: auth_pb2.DeleteUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.DeleteUserResponse:
        caller = caller_from_proto(request.actor)
        async with self._sessions.begin() as session:
            await service.delete_user(session, caller.user_id)
        return auth_pb2.DeleteUserResponse()
