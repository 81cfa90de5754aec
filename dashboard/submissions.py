"""One result per submitted form: a double-clicked "Create" makes one project.

Each create form carries a random submission id. The first POST with it does the work;
a second one (a double click, a resubmitted page) waits for the first and gets the same
answer, key included, so whichever response the browser keeps shows the key. Results are
kept in this process's memory for two minutes, keyed by the session's CSRF token and the
id, so only the browser that sent the form can see one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")

_KEEP_SECONDS = 120
_MAX_KEPT = 10_000


class Submissions:
    def __init__(self) -> None:
        self._done: OrderedDict[bytes, tuple[float, object]] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Future[object]] = {}

    async def once(self, owner: str, submission: str, work: Callable[[], Awaitable[T]]) -> T:
        if not submission:
            return await work()
        digest = hashlib.sha256(f"{owner}\0{submission}".encode()).digest()
        now = time.monotonic()
        while self._done and next(iter(self._done.values()))[0] < now:
            self._done.popitem(last=False)
        if digest in self._done:
            return cast(T, self._done[digest][1])
        pending = self._in_flight.get(digest)
        if pending is not None:
            return cast(T, await asyncio.shield(pending))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._in_flight[digest] = future
        try:
            result = await work()
        except BaseException as exc:
            # A failure is not remembered: fixing the form and sending it again must work.
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._in_flight[digest]
        future.set_result(result)
        self._done[digest] = (now + _KEEP_SECONDS, result)
        while len(self._done) > _MAX_KEPT:
            self._done.popitem(last=False)
        return result
