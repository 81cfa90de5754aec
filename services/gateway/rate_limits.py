"""Rate limits: per project (ingest events per minute, and a burst), per user (API requests per
minute), per client address for failed credentials, and for sign-in routes per address and in
total (they reach GitHub, whose rate limit the whole instance shares).

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
from stackline_infra.errors import RateLimited

log = logging.getLogger(__name__)

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
    def __init__(self, settings: GatewaySettings) -> None:
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
        self._sign_in: list[tuple[str, RateLimitItem, str | None]] = []
        if settings.sign_in_per_address_per_minute:
            item = RateLimitItemPerMinute(settings.sign_in_per_address_per_minute)
            self._sign_in.append(("sign_in_per_address", item, None))
        if settings.sign_in_per_minute:
            item = RateLimitItemPerMinute(settings.sign_in_per_minute)
            self._sign_in.append(("sign_in", item, "all"))
        self._failures = (
            RateLimitItemPerMinute(settings.failed_credentials_per_minute)
            if settings.failed_credentials_per_minute
            else None
        )

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

    async def ingest(self, project_id: str, events: int) -> None:
        """Per project, not per key: more keys must not mean more volume. Every limit is
        tested before any is counted, so events one limit refuses cost nothing against the
        others (two concurrent batches may both pass a test; the overshoot is one batch)."""
        try:
            for name, item in self._ingest:
                if not await self._limiter.test(item, name, project_id, cost=events):
                    LIMITED.labels(name).inc()
                    raise RateLimited(
                        f"rate limit exceeded ({name})",
                        retry_after=await self._retry_after(name, item, project_id),
                    )
        except RateLimited:
            raise
        except Exception:  # the limiter's store, not the request, failed
            LIMITER_ERRORS.inc()
            log.warning("rate limiter unavailable; letting the request through", exc_info=True)
            return
        for name, item in self._ingest:
            await self._hit(name, item, project_id, cost=events)

    async def api(self, user_id: str) -> None:
        if self._api is not None:
            await self._hit("api_per_minute", self._api, user_id)

    async def sign_in(self, client_address: str) -> None:
        """A sign-in call (one that reaches GitHub or writes a session or a state) from this
        address: counted for the address and for the whole instance."""
        for name, item, key in self._sign_in:
            await self._hit(name, item, key or client_address or "unknown")

    async def count_failure(self, client_address: str) -> None:
        """Count a refused credential against its address; 429 once the address is over its
        limit, so that guessing from it stops being answered.

        Only failures are counted and only failures are refused: a credential that verifies
        passes whatever its neighbours behind the same NAT or proxy did.
        """
        if self._failures is None or not client_address:
            return
        try:
            allowed = await self._limiter.hit(self._failures, "failed_credentials", client_address)
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
