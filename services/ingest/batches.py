"""One batch of events from parse to commit: what IngestEvents does, without the proto answer.

The servicer stays a translation: it hands the request's events here and turns
each outcome into an `EventResult`. Here the batch is parsed, finished with
what it needs from the database (path mappings, source maps, fetched once per
batch), and stored in one transaction that is run again when it loses a race.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2

from services.ingest import service
from services.ingest.events import ParsedEvent, PreparedEvent, finish, parse
from services.ingest.mappings import path_mapping_cache
from services.ingest.releases import release_commit_cache
from services.ingest.scrub_settings import scrub_rules_cache
from services.ingest.sourcemaps import DEFAULT_PARSE_BUDGET
from services.ingest.stacks import StackFrame
from services.ingest.symbolication import BatchMaps, Build, SourceMapStore
from stackline_infra.clock import MonotonicClock
from stackline_infra.errors import InvalidArgument, PermissionDenied

log = logging.getLogger(__name__)

EVENTS = Counter(
    "stackline_ingest_events_total",
    "Events received, by outcome: stored, duplicate or rejected.",
    ["outcome"],
)
REJECTED = Counter(
    "stackline_ingest_events_rejected_total",
    "Events refused, by reason: the refusal's error code (invalid_argument, forbidden).",
    ["reason"],
)
# Known outcomes and reasons exist at 0 from the start: rate() over a series that appears late
# misses its first increase.
for _outcome in ("stored", "duplicate", "rejected"):
    EVENTS.labels(_outcome)
for _reason in (InvalidArgument.code, PermissionDenied.code):
    REJECTED.labels(_reason)
BATCH_EVENTS = Histogram(
    "stackline_ingest_batch_events",
    "Events per stored batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)

# PostgreSQL's deadlock_detected and serialization_failure: the transaction
# lost a race and is safe to run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
_ATTEMPTS = 3


@dataclass(frozen=True)
class Rejected:
    code: str
    message: str
    field: str = ""


Outcome = service.Stored | Rejected
_PROJECT_GONE = Rejected(PermissionDenied.code, "the project of this key no longer exists")


def _is_retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


class BatchIngestor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: MonotonicClock = time.monotonic,
        source_map_bytes: int = 256 * 1024 * 1024,
        source_map_idle_seconds: float = 3600.0,
        source_map_parse_budget: int = DEFAULT_PARSE_BUDGET,
    ) -> None:
        self._sessions = sessions
        # The clock the caches' periods run on.
        self._mappings = path_mapping_cache(sessions, clock=clock)
        self._releases = release_commit_cache(sessions, clock=clock)
        self._scrubbing = scrub_rules_cache(sessions, clock=clock)
        self.source_maps = SourceMapStore(
            sessions,
            clock=clock,
            max_bytes=source_map_bytes,
            max_idle=source_map_idle_seconds,
            parse_budget=source_map_parse_budget,
        )

    async def ingest(self, events: Sequence[ingest_pb2.Event], now: datetime) -> list[Outcome]:
        """Each event's outcome, in the order given; stored ones are committed."""
        outcomes: dict[int, Outcome] = {}
        await self._commits_of_releases(events)
        parsed: list[tuple[int, ParsedEvent]] = []
        for index, event in enumerate(events):
            try:
                parsed.append((index, parse(event, now)))
            except InvalidArgument as exc:
                outcomes[index] = Rejected(exc.code, exc.message, exc.field or "")

        projects = {p.project_id for _, p in parsed}
        mappings = await self._mappings.get(projects)
        scrubbing = await self._scrubbing.get(projects)
        wants: dict[Build, list[StackFrame]] = {}
        for _, p in parsed:
            if p.build is not None:
                wants.setdefault(p.build, []).extend(p.frames_to_map())
        maps = await self.source_maps.for_batch(wants) if wants else BatchMaps()
        prepared = [
            (index, finish(p, mappings[p.project_id], maps, scrubbing[p.project_id]))
            for index, p in parsed
        ]

        if prepared:
            stored = await self._store([p for _, p in prepared], now)
            for (index, _), result in zip(prepared, stored, strict=True):
                outcomes[index] = _PROJECT_GONE if result is service.PROJECT_GONE else result
            BATCH_EVENTS.observe(len(prepared))

        done = [outcomes[index] for index in range(len(events))]
        for outcome in done:
            if isinstance(outcome, Rejected):
                EVENTS.labels("rejected").inc()
                REJECTED.labels(outcome.code).inc()
            else:
                EVENTS.labels("duplicate" if outcome.duplicate else "stored").inc()
        return done

    async def _commits_of_releases(self, events: Sequence[ingest_pb2.Event]) -> None:
        """Events that name a release and no commit get the commit recorded for the release."""
        wanting: list[tuple[ingest_pb2.Event, tuple[uuid.UUID, str]]] = []
        for event in events:
            if event.release and not event.commit_sha:
                try:
                    wanting.append((event, (uuid.UUID(event.project_id), event.release)))
                except ValueError:
                    continue  # refused by parse() with its reason
        if not wanting:
            return
        commits = await self._releases.get(release for _, release in wanting)
        for event, release in wanting:
            event.commit_sha = commits[release]

    async def _store(
        self, events: list[PreparedEvent], now: datetime
    ) -> list[service.Stored | None]:
        check_projects = False
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    return await service.store(session, events, now, check_projects=check_projects)
            except IntegrityError as exc:
                if service.is_incident_gone(exc) and attempt < _ATTEMPTS:
                    log.info("an incident of the batch was removed by retention, running it again")
                    continue
                if check_projects or not service.is_project_gone(exc):
                    raise
                check_projects = True
            except DBAPIError as exc:
                if attempt == _ATTEMPTS or not _is_retryable(exc):
                    raise
                log.info("ingest batch lost a race (attempt %d), running it again", attempt)
        raise AssertionError("unreachable")
