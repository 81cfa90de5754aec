"""Revoked and rotated ingest keys, told to every gateway replica through Redis at once.

Each gateway caches what a key resolved to (services/gateway/credentials.py). The gateway that
revokes a key drops it from its own cache; with REDIS_URL set it also publishes the key's id,
and every replica subscribed drops it too, so a revocation stops the key everywhere within a
message's delay, not a cache period. Without Redis, or while a replica's subscription is down,
the cache period still bounds it: a message missed is not a key that works for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import coredis
from prometheus_client import Counter

from services.gateway.credentials import IngestKeyCache

log = logging.getLogger(__name__)

CHANNEL = "stackline:gateway:ingest-key-revoked"
_RESUBSCRIBE_SECONDS = (0.5, 1.0, 2.0, 5.0)

BUS_ERRORS = Counter(
    "stackline_gateway_revocation_bus_errors_total",
    "Revocations not published, or subscriptions lost, because Redis failed.",
)


class RevocationBus:
    def __init__(self, redis_url: str, cache: IngestKeyCache) -> None:
        self._cache = cache
        self._redis: coredis.Redis[str] | None = (
            coredis.Redis.from_url(redis_url, decode_responses=True) if redis_url else None
        )
        self._listener: asyncio.Task[None] | None = None
        # Set while this replica is subscribed; tests wait for it.
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        if self._redis is not None:
            self._listener = asyncio.create_task(self._listen(), name="revocation-bus")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def revoked(self, key_id: str) -> None:
        """A key revoked or rotated through this gateway: forgotten here, and told to the rest."""
        self._cache.forget_key_id(key_id)
        if self._redis is None:
            return
        try:
            await self._redis.publish(CHANNEL, key_id)
        except Exception:  # Redis, not the revocation, failed: the cache period still bounds it
            BUS_ERRORS.inc()
            log.warning("could not tell other gateways of a revoked key", exc_info=True)

    async def _listen(self) -> None:
        assert self._redis is not None
        failures = 0
        while True:
            try:
                async with self._redis.pubsub(
                    channels=[CHANNEL], ignore_subscribe_messages=True
                ) as subscription:
                    self.subscribed.set()
                    failures = 0
                    async for message in subscription:
                        if message["type"] == "message":
                            self._cache.forget_key_id(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                BUS_ERRORS.inc()
                log.warning("revocation subscription lost; resubscribing", exc_info=True)
            self.subscribed.clear()
            await asyncio.sleep(_RESUBSCRIBE_SECONDS[min(failures, len(_RESUBSCRIBE_SECONDS) - 1)])
            failures += 1
