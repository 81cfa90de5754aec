"""Source maps for a project's builds: upload (the body is the map itself), list, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import grpc
from fastapi import APIRouter, Query, Request, Response, status
from stackline.ingest.v1 import ingest_pb2
from stackline.projects.v1 import projects_pb2
from starlette.exceptions import HTTPException

from services.gateway.dependencies import Actor, State
from services.gateway.schemas.errors import documented_errors
from services.gateway.schemas.sourcemaps import SourceMapInfo, SourceMapList
from stackline_contract import text

router = APIRouter(prefix="/api/projects/{project_id}/sourcemaps", tags=["source maps"])

# The largest map accepted; BodyLimitMiddleware lets this route's bodies grow to it.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOAD_PATH = r"^/api/projects/[^/]+/sourcemaps$"
# Sent to IngestService in pieces well under gRPC's message limit.
_CHUNK_BYTES = 1024 * 1024
# Large maps take a while to send and to check.
_UPLOAD_DEADLINE_SECONDS = 120.0

# A build is named by one of the two, as IngestService checks them: the full SHA the events
# carry, or a printable release. That it is exactly one, no schema of query parameters can say.
CommitSha = Annotated[str, Query(max_length=40, pattern=r"^(?:[0-9a-fA-F]{40})?$")]
Release = Annotated[str, Query(max_length=200, pattern=text.PRINTABLE_PATTERN)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload the source map of one bundle of one build",
    description=(
        "The request body is the map itself (JSON, up to 50 MiB). Name the build by `commit_sha`"
        " (the full 40 digits the events carry) or by `release`, and the bundle by the file frames"
        " name: `assets/app-3f2a.js`, `.next/server/chunks/123.js`, `~/static/app.js` or a full"
        " URL. A map for the same bundle and build is replaced. A map that cannot be read is"
        " refused with 400 and the reason."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}}}},
    responses=documented_errors(400, 401, 404, 413),
)
async def upload(
    project_id: str,
    request: Request,
    state: State,
    actor: Actor,
    bundle: Annotated[str, Query(min_length=1, max_length=1024, pattern=text.PRINTABLE_PATTERN)],
    commit_sha: CommitSha = "",
    release: Release = "",
) -> SourceMapInfo:
    # Whose project, before a byte of the body is read; IngestService checks again.
    await state.backends.projects.GetProject(
        projects_pb2.GetProjectRequest(actor=actor, project_id=project_id)
    )
    over_limit: list[HTTPException] = []

    async def chunks() -> AsyncIterator[ingest_pb2.UploadSourceMapRequest]:
        yield ingest_pb2.UploadSourceMapRequest(
            actor=actor,
            project_id=project_id,
            commit_sha=commit_sha,
            release=release,
            bundle=bundle,
        )
        pending = b""
        try:
            async for piece in request.stream():
                pending += piece
                while len(pending) >= _CHUNK_BYTES:
                    yield ingest_pb2.UploadSourceMapRequest(data=pending[:_CHUNK_BYTES])
                    pending = pending[_CHUNK_BYTES:]
        except HTTPException as exc:  # the body limit: the call is cancelled, and says why
            over_limit.append(exc)
            raise
        if pending:
            yield ingest_pb2.UploadSourceMapRequest(data=pending)

    try:
        response = await state.backends.ingest.UploadSourceMap(
            chunks(), timeout=_UPLOAD_DEADLINE_SECONDS
        )
    except (grpc.aio.AioRpcError, asyncio.CancelledError):
        # A body over the limit ends the call from this side; anything else is the call's own.
        if over_limit:
            raise over_limit[0] from None
        raise
    return SourceMapInfo.from_proto(response.source_map)


@router.get(
    "",
    summary="The project's source maps, newest first",
    responses=documented_errors(400, 401, 404),
)
async def list_maps(
    project_id: str,
    state: State,
    actor: Actor,
    commit_sha: CommitSha = "",
    release: Release = "",
) -> SourceMapList:
    response = await state.backends.ingest.ListSourceMaps(
        ingest_pb2.ListSourceMapsRequest(
            actor=actor, project_id=project_id, commit_sha=commit_sha, release=release
        )
    )
    return SourceMapList(source_maps=[SourceMapInfo.from_proto(m) for m in response.source_maps])


@router.delete(
    "/{source_map_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a source map",
    responses=documented_errors(401, 404),
)
async def delete_map(project_id: str, source_map_id: str, state: State, actor: Actor) -> Response:
    await state.backends.ingest.DeleteSourceMap(
        ingest_pb2.DeleteSourceMapRequest(
            actor=actor, project_id=project_id, source_map_id=source_map_id
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
