"""What ingest reads from the database per batch, read at most once per period per key.

A batch names a few projects or releases; each key's value is fetched together with the other
stale keys of the batch in one query, and misses are remembered too, so a batch from one deploy
costs one query per period, not one per event. A change made through the API reaches new events
within the period.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stackline_infra.clock import MonotonicClock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Load = Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]]


class PeriodicRead(Generic[K, V]):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        load: Load[K, V],
        missing: V,
        *,
        period: float,
        clock: MonotonicClock = time.monotonic,
        max_entries: int | None = None,
    ) -> None:
        """`load` reads the values of some keys in one query; a key it does not answer has
        `missing`. Past `max_entries` keys (made-up keys flooding in) the cache starts afresh."""
        self._sessions = sessions
        self._load = load
        self._missing = missing
        self._period = period
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    async def get(self, keys: Iterable[K]) -> dict[K, V]:
        wanted = set(keys)
        now = self._clock()
        stale = [k for k in wanted if k not in self._entries or self._entries[k][0] <= now]
        if stale:
            async with self._sessions() as session:
                found = await self._load(session, stale)
            if (
                self._max_entries is not None
                and len(self._entries) + len(stale) > self._max_entries
            ):
                self._entries.clear()
            for key in stale:
                self._entries[key] = (now + self._period, found.get(key, self._missing))
        return {k: self._entries[k][1] for k in wanted}
