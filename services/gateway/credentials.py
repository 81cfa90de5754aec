"""Checking who calls: Stackline JWTs verified locally, ingest keys resolved through a cache.

Neither costs a round trip on the common path: JWTs are verified with
AuthService's public keys, fetched once and again only for an unknown key id;
ingest keys (and, for Sentry's routes, their public parts) are resolved by AuthService
once per key per cache period.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import grpc
import jwt
from stackline.auth.v1 import auth_pb2, auth_pb2_grpc

from stackline_contract import keyformat
from stackline_infra.clock import MonotonicClock
from stackline_infra.errors import PermissionDenied, StacklineError, Unauthenticated, from_rpc_error

log = logging.getLogger(__name__)

_ALGORITHMS = ["EdDSA"]
# Clock difference between AuthService and the gateway that is forgiven.
_LEEWAY_SECONDS = 30
# A token naming an unknown key id makes the gateway fetch the key set again,
# but not more often than this: forged key ids must not hammer AuthService.
_JWKS_MIN_REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    login: str


class TokenVerifier:
    def __init__(
        self, auth: auth_pb2_grpc.AuthServiceStub, *, clock: MonotonicClock = time.monotonic
    ) -> None:
        self._auth = auth
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._issuer = ""
        self._audience = ""
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            if (
                kid not in self._keys
                and self._clock() - self._fetched_at >= _JWKS_MIN_REFRESH_SECONDS
            ):
                await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        response = await self._auth.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        jwks = json.loads(response.jwks_json)
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
        self._issuer = response.issuer
        self._audience = response.audience
        self._fetched_at = self._clock()

    async def verify(self, token: str) -> User:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("malformed access token") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or header.get("alg") not in _ALGORITHMS:
            raise Unauthenticated("access token not signed by Stackline")
        key = await self._key(kid)
        if key is None:
            raise Unauthenticated("access token not signed by Stackline")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=_ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return User(uuid.UUID(claims["sub"]), str(claims.get("login", "")))
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token expired") from None
        except (jwt.InvalidTokenError, ValueError):
            raise Unauthenticated("invalid access token") from None


@dataclass(frozen=True)
class ResolvedKey:
    project_id: str
    key_id: str


@dataclass(frozen=True)
class _Resolution:
    key: ResolvedKey | None
    error: StacklineError | None
    expires: float


class IngestKeyCache:
    """Ingest key → project id, remembered for a short while.

    Refusals are remembered too, for less time, so a flood of wrong keys costs
    AuthService one lookup per key. Concurrent requests with the same uncached
    key share one lookup.
    """

    _NEGATIVE_TTL = 5.0
    _MAX_ENTRIES = 50_000

    def __init__(
        self,
        auth: auth_pb2_grpc.AuthServiceStub,
        ttl: float,
        *,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._auth = auth
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[bytes, _Resolution] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Future[_Resolution]] = {}

    def forget(self, resolved: ResolvedKey) -> None:
        """Drop a key whose project turned out to be gone, so the next request asks again."""
        self.forget_key_id(resolved.key_id)

    def forget_key_id(self, key_id: str) -> None:
        """Drop a key revoked or rotated through this gateway: it stops here at once, not when
        its cache entry ends. The cache holds its keys by hash, so this is a scan; revocations
        are rare and the cache is bounded."""
        for digest, entry in list(self._entries.items()):
            if entry.key is not None and entry.key.key_id == key_id:
                del self._entries[digest]

    async def resolve(self, key: str, *, public: bool = False) -> ResolvedKey:
        """The key's project; with `public`, a key's public part (a DSN's) resolves too.

        Both forms share one cache, keyed by their SHA-256 (the prefixes keep them apart), so
        a public part is remembered, refused, and dropped on revocation exactly as a key is.
        """
        if not (keyformat.is_well_formed(key) or (public and keyformat.is_well_formed_public(key))):
            raise Unauthenticated("malformed ingest key")
        digest = keyformat.digest(key)
        entry = self._entries.get(digest)
        if entry is None or entry.expires <= self._clock():
            entry = await self._resolve(digest, key)
        if entry.error is not None:
            raise entry.error
        assert entry.key is not None
        return entry.key

    async def _resolve(self, digest: bytes, key: str) -> _Resolution:
        pending = self._in_flight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Resolution] = asyncio.get_running_loop().create_future()
        self._in_flight[digest] = future
        try:
            entry = await self._lookup(key)
            self._remember(digest, entry)
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            # Nobody else may be waiting; do not let the loop warn about it.
            future.exception()
            raise
        finally:
            del self._in_flight[digest]

    async def _lookup(self, key: str) -> _Resolution:
        try:
            response = await self._auth.ResolveIngestKey(auth_pb2.ResolveIngestKeyRequest(key=key))
        except grpc.aio.AioRpcError as exc:
            error = from_rpc_error(exc)
            if isinstance(error, (Unauthenticated, PermissionDenied)):
                return _Resolution(None, error, self._clock() + self._NEGATIVE_TTL)
            raise error from None
        resolved = ResolvedKey(response.project_id, response.key_id)
        ttl = self._ttl
        if response.HasField("stops_in_seconds"):
            # A key in its rotation grace is not trusted past the end of it.
            ttl = min(ttl, max(0.0, response.stops_in_seconds))
        return _Resolution(resolved, None, self._clock() + ttl)

    def _remember(self, digest: bytes, entry: _Resolution) -> None:
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self._MAX_ENTRIES:
            self._entries.popitem(last=False)
