"""The signed-in user: profile, everything Stackline holds about them, and leaving."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse
from stackline.auth.v1 import auth_pb2

from services.gateway.dependencies import Actor, State
from services.gateway.schemas.auth import Me, UserInfo
from services.gateway.schemas.errors import documented_errors

router = APIRouter(prefix="/api/me", tags=["account"])

# An export streams every event the user's projects hold; it may take a while.
_EXPORT_DEADLINE_SECONDS = 600.0


@router.get("", summary="The signed-in user", responses=documented_errors(401))
async def me(state: State, actor: Actor) -> Me:
    response = await state.backends.auth.GetUser(auth_pb2.GetUserRequest(actor=actor))
    return Me(user=UserInfo.from_proto(response.user))


@router.get(
    "/export",
    summary="Everything Stackline holds about you, as JSON",
    description=(
        "One object whose keys are lists: `user`, `sessions`, `projects`, `ingest_keys`,"
        " `path_mappings`, `incidents`, `incident_commits`, `events`, `audit_log`. Secrets"
        " (key and token hashes) are not included. Streamed, so it works for any size."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}, **documented_errors(401)},
)
async def export(state: State, actor: Actor) -> StreamingResponse:
    records = state.backends.auth.ExportUser(
        auth_pb2.ExportUserRequest(actor=actor), timeout=_EXPORT_DEADLINE_SECONDS
    ).__aiter__()
    # The first record is awaited here, so that a failure to start (no such
    # user, a service down) is still answered with its own status.
    first = await anext(records)

    async def document() -> AsyncIterator[bytes]:
        record: auth_pb2.ExportUserResponse | None = first
        opened = False
        first_in_section = True
        yield b"{"
        while record is not None:
            if not record.json:
                # A new kind begins.
                yield (b"]," if opened else b"") + orjson.dumps(record.kind) + b":["
                opened, first_in_section = True, True
            else:
                yield (b"" if first_in_section else b",") + record.json.encode()
                first_in_section = False
            record = await anext(records, None)
        yield b"]}" if opened else b"}"

    return StreamingResponse(
        document(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="stackline-export.json"'},
    )


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your account and everything it owns, now and for good",
    description=(
        "Projects, keys, incidents and events are deleted in one transaction; audit entries"
        " stay, without your name, address or details."
    ),
    responses=documented_errors(401),
)
async def delete_me(state: State, actor: Actor) -> Response:
    await state.backends.auth.DeleteUser(auth_pb2.DeleteUserRequest(actor=actor))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
