"""IngestService's gRPC edge: each call is one batch and one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

import grpc
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from services.ingest import service
from services.ingest.events import PreparedEvent, prepare
from services.ingest.mappings import PathMappingCache
from stackline_infra.db.types import utcnow
from stackline_infra.errors import InvalidArgument, PermissionDenied

log = logging.getLogger(__name__)

EVENTS = Counter(
    "stackline_ingest_events_total",
    "Events received, by outcome: stored, duplicate or rejected.",
    ["outcome"],
)
BATCH_EVENTS = Histogram(
    "stackline_ingest_batch_events",
    "Events per stored batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)

# PostgreSQL's deadlock_detected and serialization_failure: the transaction
# lost a race and is safe to run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
_ATTEMPTS = 3


def _is_retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def _project_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # prepare() refuses the event, naming the field


def _project_ids(events: Iterable[ingest_pb2.Event]) -> set[uuid.UUID]:
    return {p for p in (_project_id(e.project_id) for e in events) if p is not None}


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._mappings = PathMappingCache(sessions)

    async def IngestEvents(
        self, request: ingest_pb2.IngestEventsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.IngestEventsResponse:
        now = utcnow()
        results = [ingest_pb2.EventResult(event_id=e.event_id) for e in request.events]
        mappings = await self._mappings.for_projects(_project_ids(request.events))
        prepared: list[tuple[int, PreparedEvent]] = []
        for index, event in enumerate(request.events):
            try:
                project_id = _project_id(event.project_id)
                project_mappings = mappings[project_id] if project_id else ()
                prepared.append((index, prepare(event, now, project_mappings)))
            except InvalidArgument as exc:
                results[index].rejection.field = exc.field or ""
                results[index].rejection.message = exc.message
                results[index].rejection.code = exc.code
                EVENTS.labels("rejected").inc()

        if prepared:
            stored = await self._store([p for _, p in prepared], now)
            for (index, _), outcome in zip(prepared, stored, strict=True):
                if outcome is service.PROJECT_GONE:
                    results[index].rejection.message = "the project of this key no longer exists"
                    results[index].rejection.code = PermissionDenied.code
                    EVENTS.labels("rejected").inc()
                    continue
                results[index].incident_id = str(outcome.incident_id)
                results[index].duplicate = outcome.duplicate
                EVENTS.labels("duplicate" if outcome.duplicate else "stored").inc()
            BATCH_EVENTS.observe(len(prepared))
        return ingest_pb2.IngestEventsResponse(results=results)

    async def _store(
        self, events: list[PreparedEvent], now: datetime
    ) -> list[service.Stored | None]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    return await service.store(session, events, now)
            except DBAPIError as exc:
                if attempt == _ATTEMPTS or not _is_retryable(exc):
                    raise
                log.info("ingest batch lost a race (attempt %d), running it again", attempt)
        raise AssertionError("unreachable")
