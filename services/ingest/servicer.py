"""IngestService's gRPC edge: each call is one batch and one transaction."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from services.ingest import service, uploads
from services.ingest.events import ParsedEvent, PreparedEvent, finish, parse
from services.ingest.mappings import PathMappingCache
from services.ingest.sourcemaps import MAX_SOURCEMAP_BYTES
from services.ingest.stacks import StackFrame
from services.ingest.symbolication import BatchMaps, Build, SourceMapStore
from stackline_infra.clock import MonotonicClock
from stackline_infra.db.types import utcnow
from stackline_infra.errors import InvalidArgument, PermissionDenied
from stackline_infra.identity import caller_from_proto, parse_id
from stackline_infra.timestamps import to_proto

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


def _is_retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, clock: MonotonicClock = time.monotonic
    ) -> None:
        self._sessions = sessions
        # The clock the caches' periods run on.
        self._mappings = PathMappingCache(sessions, clock=clock)
        self._source_maps = SourceMapStore(sessions, clock=clock)

    async def IngestEvents(
        self, request: ingest_pb2.IngestEventsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.IngestEventsResponse:
        now = utcnow()
        results = [ingest_pb2.EventResult(event_id=e.event_id) for e in request.events]
        parsed: list[tuple[int, ParsedEvent]] = []
        for index, event in enumerate(request.events):
            try:
                parsed.append((index, parse(event, now)))
            except InvalidArgument as exc:
                results[index].rejection.field = exc.field or ""
                results[index].rejection.message = exc.message
                results[index].rejection.code = exc.code
                EVENTS.labels("rejected").inc()
                REJECTED.labels(exc.code).inc()

        # What finishing the events needs from the database, fetched once per batch.
        mappings = await self._mappings.for_projects({p.project_id for _, p in parsed})
        wants: dict[Build, list[StackFrame]] = {}
        for _, p in parsed:
            if p.build is not None:
                wants.setdefault(p.build, []).extend(p.frames_to_map())
        maps = await self._source_maps.for_batch(wants) if wants else BatchMaps()
        prepared = [(index, finish(p, mappings[p.project_id], maps)) for index, p in parsed]

        if prepared:
            stored = await self._store([p for _, p in prepared], now)
            for (index, _), outcome in zip(prepared, stored, strict=True):
                if outcome is service.PROJECT_GONE:
                    results[index].rejection.message = "the project of this key no longer exists"
                    results[index].rejection.code = PermissionDenied.code
                    EVENTS.labels("rejected").inc()
                    REJECTED.labels(PermissionDenied.code).inc()
                    continue
                results[index].incident_id = str(outcome.incident_id)
                results[index].duplicate = outcome.duplicate
                EVENTS.labels("duplicate" if outcome.duplicate else "stored").inc()
            BATCH_EVENTS.observe(len(prepared))
        return ingest_pb2.IngestEventsResponse(results=results)

    async def _store(
        self, events: list[PreparedEvent], now: datetime
    ) -> list[service.Stored | None]:
        check_projects = False
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    return await service.store(session, events, now, check_projects=check_projects)
            except IntegrityError as exc:
                if check_projects or not service.is_project_gone(exc):
                    raise
                check_projects = True
            except DBAPIError as exc:
                if attempt == _ATTEMPTS or not _is_retryable(exc):
                    raise
                log.info("ingest batch lost a race (attempt %d), running it again", attempt)
        raise AssertionError("unreachable")

    async def UploadSourceMap(
        self,
        request_iterator: AsyncIterator[ingest_pb2.UploadSourceMapRequest],
        context: grpc.aio.ServicerContext,
    ) -> ingest_pb2.UploadSourceMapResponse:
        first: ingest_pb2.UploadSourceMapRequest | None = None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request_iterator:
            first = first or chunk
            size += len(chunk.data)
            if size > MAX_SOURCEMAP_BYTES:
                raise InvalidArgument(
                    f"the map is over {MAX_SOURCEMAP_BYTES // (1024 * 1024)} MiB", field="data"
                )
            chunks.append(chunk.data)
        if first is None:
            raise InvalidArgument("no upload", field="data")
        caller = caller_from_proto(first.actor)
        project_id = parse_id(first.project_id, "project")
        build = uploads.build_for_upload(project_id, first.commit_sha, first.release)
        data = b"".join(chunks)
        # Parsing a large map takes a moment; the event loop keeps serving meanwhile.
        await asyncio.to_thread(uploads.validate, first.bundle, data)
        async with self._sessions.begin() as session:
            saved = await uploads.save(session, caller, build, first.bundle, data)
        self._source_maps.forget(build)
        return ingest_pb2.UploadSourceMapResponse(source_map=_source_map_info(saved))

    async def ListSourceMaps(
        self, request: ingest_pb2.ListSourceMapsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListSourceMapsResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            rows = await uploads.list_maps(
                session, caller, project_id, request.commit_sha, request.release
            )
        return ingest_pb2.ListSourceMapsResponse(source_maps=[_source_map_info(r) for r in rows])

    async def DeleteSourceMap(
        self, request: ingest_pb2.DeleteSourceMapRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.DeleteSourceMapResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        map_id = parse_id(request.source_map_id, "source map")
        async with self._sessions.begin() as session:
            build = await uploads.delete(session, caller, project_id, map_id)
        self._source_maps.forget(build)
        return ingest_pb2.DeleteSourceMapResponse()


def _source_map_info(row: Any) -> ingest_pb2.SourceMapInfo:
    return ingest_pb2.SourceMapInfo(
        id=str(row.id),
        commit_sha=row.version if row.version_kind == "commit" else "",
        release=row.version if row.version_kind == "release" else "",
        bundle=row.bundle,
        size_bytes=row.size_bytes,
        uploaded_at=to_proto(row.uploaded_at),
    )
