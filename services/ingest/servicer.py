"""IngestService's gRPC edge: each call is one batch and one transaction."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from services.ingest import uploads
from services.ingest.batches import BatchIngestor, Outcome, Rejected
from services.ingest.sourcemaps import DEFAULT_PARSE_BUDGET, MAX_SOURCEMAP_BYTES
from services.ingest.upload_slots import UploadSlots
from stackline_infra.clock import MonotonicClock
from stackline_infra.db.types import utcnow
from stackline_infra.errors import InvalidArgument
from stackline_infra.identity import caller_from_proto, parse_id
from stackline_infra.timestamps import to_proto


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
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
        self._parse_budget = source_map_parse_budget
        self._batches = BatchIngestor(
            sessions,
            clock=clock,
            source_map_bytes=source_map_bytes,
            source_map_idle_seconds=source_map_idle_seconds,
            source_map_parse_budget=source_map_parse_budget,
        )
        self._upload_slots = UploadSlots()

    async def IngestEvents(
        self, request: ingest_pb2.IngestEventsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.IngestEventsResponse:
        outcomes = await self._batches.ingest(request.events, utcnow())
        return ingest_pb2.IngestEventsResponse(
            results=[_result(e.event_id, o) for e, o in zip(request.events, outcomes, strict=True)]
        )

    async def UploadSourceMap(
        self,
        request_iterator: AsyncIterator[ingest_pb2.UploadSourceMapRequest],
        context: grpc.aio.ServicerContext,
    ) -> ingest_pb2.UploadSourceMapResponse:
        messages = aiter(request_iterator)
        first = await anext(messages, None)
        if first is None:
            raise InvalidArgument("no upload", field="data")
        # Who and what first, before a byte of the map is read: another user's upload costs
        # one query, not 50 MiB of memory.
        caller = caller_from_proto(first.actor)
        project_id = parse_id(first.project_id, "project")
        build = uploads.build_for_upload(project_id, first.commit_sha, first.release)
        uploads.validate_bundle(first.bundle)
        async with self._sessions.begin() as session:
            await uploads.check_owner(session, caller, project_id)
        with self._upload_slots.slot(caller.user_id):
            chunks = [first.data]
            size = len(first.data)
            async for chunk in messages:
                size += len(chunk.data)
                if size > MAX_SOURCEMAP_BYTES:
                    raise InvalidArgument(
                        f"the map is over {MAX_SOURCEMAP_BYTES // (1024 * 1024)} MiB",
                        field="data",
                    )
                chunks.append(chunk.data)
            data = b"".join(chunks)
            del chunks
            # Parsing a large map takes a moment; the event loop keeps serving meanwhile.
            await asyncio.to_thread(
                functools.partial(uploads.validate, parse_budget=self._parse_budget),
                first.bundle,
                data,
            )
            async with self._sessions.begin() as session:
                saved = await uploads.save(session, caller, build, first.bundle, data)
        self._batches.source_maps.forget(build)
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
        self._batches.source_maps.forget(build)
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


def _result(event_id: str, outcome: Outcome) -> ingest_pb2.EventResult:
    if isinstance(outcome, Rejected):
        return ingest_pb2.EventResult(
            event_id=event_id,
            rejection=ingest_pb2.Rejection(
                field=outcome.field, message=outcome.message, code=outcome.code
            ),
        )
    return ingest_pb2.EventResult(
        event_id=event_id, incident_id=str(outcome.incident_id), duplicate=outcome.duplicate
    )
