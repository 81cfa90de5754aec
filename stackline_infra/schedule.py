"""A service's periodic job, run in the background of its host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(interval_seconds: float, run: Callable[[], Awaitable[object]], what: str) -> None:
    """Run now and then every interval, until cancelled. A failed run is logged and the next
    one carries on, so a database outage never stops the schedule."""
    while True:
        try:
            await run()
        except Exception:
            log.exception("%s failed; the next run carries on from where it stopped", what)
        await asyncio.sleep(interval_seconds)
