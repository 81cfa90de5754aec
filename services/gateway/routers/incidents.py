"""Incidents of the signed-in user's projects: what the editor polls."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from stackline.incidents.v1 import incidents_pb2

from services.gateway.dependencies import Actor, State
from services.gateway.schemas.errors import documented_errors
from services.gateway.schemas.incidents import (
    Incident,
    IncidentDetail,
    IncidentList,
    IncidentUpdate,
)
from stackline_contract import statuses

router = APIRouter(prefix="/api/incidents", tags=["incidents"])


@router.get(
    "",
    response_model=IncidentList,
    summary="Incidents of your project for a repository, most recently seen first",
    description=(
        "Answers 304 when `If-None-Match` carries the ETag of an unchanged page, "
        "so an editor polling every 30-60 s costs almost nothing: the ETag comes from the "
        "repository's incident version, checked (after the caller's access) without reading "
        "the list."
    ),
    responses={
        304: {"description": "Unchanged since the ETag sent."},
        **documented_errors(400, 401, 404),
    },
)
async def list_incidents(
    state: State,
    actor: Actor,
    repo: Annotated[str, Query(min_length=3, max_length=140, examples=["octo-org/shop-api"])],
    status: Literal["open", "resolved", "ignored", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str, Query(max_length=200)] = "",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    response = await state.backends.incidents.ListIncidents(
        incidents_pb2.ListIncidentsRequest(
            actor=actor,
            repo=repo,
            status=statuses.to_proto(status),
            page_size=limit,
            cursor=cursor,
            known_versions=_entity_tags(if_none_match),
        )
    )
    headers = {"ETag": f'"{response.version}"', "Cache-Control": "private, no-cache"}
    if response.not_modified:
        return Response(status_code=304, headers=headers)
    page = IncidentList(
        incidents=[Incident.from_proto(i) for i in response.incidents],
        next_cursor=response.next_cursor or None,
    )
    return Response(page.model_dump_json(), media_type="application/json", headers=headers)


def _entity_tags(if_none_match: str | None) -> list[str]:
    """The opaque tags of an If-None-Match list, or ["*"]. A weak tag (W/"...") matches as its
    strong self: If-None-Match compares weakly (RFC 9110, 13.1.2)."""
    if if_none_match is None:
        return []
    tags = []
    for listed in if_none_match.split(","):
        tag = listed.strip().removeprefix("W/")
        if tag == "*":
            tags.append(tag)
        elif len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tags.append(tag[1:-1])
    return tags


@router.get(
    "/{incident_id}",
    summary="One incident with its latest event, frames and permalink",
    responses=documented_errors(401, 404),
)
async def get_incident(incident_id: str, state: State, actor: Actor) -> IncidentDetail:
    response = await state.backends.incidents.GetIncident(
        incidents_pb2.GetIncidentRequest(actor=actor, incident_id=incident_id)
    )
    return IncidentDetail.from_proto(response.incident)


@router.patch(
    "/{incident_id}",
    summary="Set an incident's status: open, resolved or ignored",
    responses=documented_errors(400, 401, 404),
)
async def update_incident(
    incident_id: str, body: IncidentUpdate, state: State, actor: Actor
) -> Incident:
    response = await state.backends.incidents.UpdateIncidentStatus(
        incidents_pb2.UpdateIncidentStatusRequest(
            actor=actor, incident_id=incident_id, status=statuses.to_proto(body.status)
        )
    )
    return Incident.from_proto(response.incident)
