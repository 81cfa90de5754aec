"""How many source-map uploads IngestService reads and parses at once: per user and in total.

A map is held whole while it is parsed, and parsing takes a few times its size, so memory is
bounded by how many run together. An upload beyond either count is refused at once (429 with
Retry-After) rather than queued: a queue of held requests is memory too, and CI retries.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter as Count
from prometheus_client import Gauge

from stackline_infra.errors import RateLimited

# 2 x 50 MiB maps parsing at once stays within a few hundred MB; one per user means a single
# account cannot take both.
MAX_UPLOADS = 2
MAX_UPLOADS_PER_USER = 1
_RETRY_AFTER_SECONDS = 5

RUNNING = Gauge(
    "stackline_ingest_sourcemap_uploads_running", "Source map uploads being read or parsed now."
)
REFUSED = Count(
    "stackline_ingest_sourcemap_uploads_refused_total",
    "Source map uploads refused because too many ran at once, by which limit.",
    ["limit"],
)


class UploadSlots:
    def __init__(self, total: int = MAX_UPLOADS, per_user: int = MAX_UPLOADS_PER_USER) -> None:
        self._total = total
        self._per_user = per_user
        self._running: Counter[uuid.UUID] = Counter()

    @contextmanager
    def slot(self, user_id: uuid.UUID) -> Iterator[None]:
        # No awaits between the checks and the count: on one event loop this is atomic.
        if self._running[user_id] >= self._per_user:
            REFUSED.labels("per_user").inc()
            raise RateLimited(
                "you have a source map upload running already; send the next when it is done",
                retry_after=_RETRY_AFTER_SECONDS,
            )
        if sum(self._running.values()) >= self._total:
            REFUSED.labels("total").inc()
            raise RateLimited(
                "the server is busy with other source map uploads; try again shortly",
                retry_after=_RETRY_AFTER_SECONDS,
            )
        self._running[user_id] += 1
        RUNNING.inc()
        try:
            yield
        finally:
            RUNNING.dec()
            self._running[user_id] -= 1
            if not self._running[user_id]:
                del self._running[user_id]
