"""Rate limits: per ingest key (events per minute, and a burst), per user (API requests per
minute), and per client address for failed credentials.

Counted in memory for one gateway, or in Redis (REDIS_URL) when several
replicas must share the counts. The sliding-window counter keeps two numbers
per key and window, so an ingest batch of 100 events costs what one request
does. If Redis fails, requests go through and the failure is logged and
counted: an outage of the limiter must not become an outage of ingest.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from prometheus_client import Counter

from services.gateway.settings import GatewaySettings
from stackline_infra.clock import MonotonicClock
from stackline_infra.errors import RateLimited

log = logging.getLogger(__name__)

# Kept for a minute each; a flood of addresses beyond this starts the list afresh.
_MAX_SUSPECTS = 100_000

LIMITED = Counter(
    "stackline_gateway_rate_limited_total",
    "Requests refused with 429, by limit.",
    ["limit"],
)
LIMITER_ERRORS = Counter(
    "stackline_gateway_rate_limiter_errors_total",
    "Rate limit checks that failed (Redis unreachable) and let the request through.",
)


class RateLimits:
    def __init__(
        self, settings: GatewaySettings, *, clock: MonotonicClock = time.monotonic
    ) -> None:
        self._clock = clock
        uri = f"async+{settings.redis_url}" if settings.redis_url else "async+memory://"
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(uri))
        self._ingest: list[tuple[str, RateLimitItem]] = []
        if settings.ingest_events_per_minute:
            self._ingest.append(
                ("ingest_per_minute", RateLimitItemPerMinute(settings.ingest_events_per_minute))
            )
        if settings.ingest_burst_per_second:
            self._ingest.append(
                ("ingest_burst", RateLimitItemPerSecond(settings.ingest_burst_per_second))
            )
        self._api = (
            RateLimitItemPerMinute(settings.api_requests_per_minute)
            if settings.api_requests_per_minute
            else None
        )
        self._failures = (
            RateLimitItemPerMinute(settings.failed_credentials_per_minute)
            if settings.failed_credentials_per_minute
            else None
        )
        # Addresses that failed lately, and when: see refuse_if_failing.
        self._suspects: dict[str, float] = {}
        # Every limit's series exists from the start at 0, so rate() and alerts see it before
        # the first refusal.
        for name in (
            *(name for name, _ in self._ingest),
            *(["api_per_minute"] if self._api is not None else []),
            *(["failed_credentials"] if self._failures is not None else []),
        ):
            LIMITED.labels(name)

    async def _hit(self, name: str, item: RateLimitItem, key: str, cost: int = 1) -> None:
        try:
            allowed = await self._limiter.hit(item, name, key, cost=cost)
        except Exception:  # the limiter's store, not the request, failed
            LIMITER_ERRORS.inc()
            log.warning("rate limiter unavailable; letting the request through", exc_info=True)
            return
        if not allowed:
            LIMITED.labels(name).inc()
            raise RateLimited(
                f"rate limit exceeded ({name})",
                retry_after=await self._retry_after(name, item, key),
            )

    async def _retry_after(self, name: str, item: RateLimitItem, key: str) -> int:
        try:
            stats = await self._limiter.get_window_stats(item, name, key)
        except Exception:
            return item.get_expiry()
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def ingest(self, key_id: str, events: int) -> None:
        for name, item in self._ingest:
            await self._hit(name, item, key_id, cost=events)

    async def api(self, user_id: str) -> None:
        if self._api is not None:
            await self._hit("api_per_minute", self._api, user_id)

    async def refuse_if_failing(self, client_address: str) -> None:
        """429 for an address that has presented too many bad credentials lately.

        Only addresses this gateway saw fail in the last minute are looked up:
        the shared count is a round trip to Redis, and nearly every request
        comes from an address that never failed. An address failing through
        several replicas is looked up by each from its first failure there.
        """
        if self._failures is None or not client_address:
            return
        failed_at = self._suspects.get(client_address)
        if failed_at is None or self._clock() - failed_at > 60:
            return
        try:
            allowed = await self._limiter.test(self._failures, "failed_credentials", client_address)
        except Exception:
            LIMITER_ERRORS.inc()
            return
        if not allowed:
            LIMITED.labels("failed_credentials").inc()
            raise RateLimited(
                "too many failed credentials from this address",
                retry_after=await self._retry_after(
                    "failed_credentials", self._failures, client_address
                ),
            )

    async def count_failure(self, client_address: str) -> None:
        if self._failures is None or not client_address:
            return
        if len(self._suspects) >= _MAX_SUSPECTS:
            self._suspects.clear()
        self._suspects[client_address] = self._clock()
        try:
            await self._limiter.hit(self._failures, "failed_credentials", client_address)
        except Exception:
            LIMITER_ERRORS.inc()
