"""A project's incidents, short: each with its line, links to the editor and GitHub, status."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response

from dashboard.routes.projects import ProjectId, _when, project_of
from dashboard.web import AppState, Form, PageError, User, redirect, render

router = APIRouter(prefix="/projects")

IncidentId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
# The editor extension's id (publisher.name): its URI handler answers
# <scheme>://stackline.stackline/open?repo=owner/repo&incident=<id>.
EXTENSION_ID = "stackline.stackline"
STATUSES = ("open", "resolved", "ignored", "all")
_PAGE = 50


def editor_link(scheme: str, repo: str, incident_id: str) -> str:
    return f"{scheme}://{EXTENSION_ID}/open?" + urlencode({"repo": repo, "incident": incident_id})


def _view(incident: dict[str, Any]) -> dict[str, Any]:
    culprit = incident.get("culprit")
    where = ""
    if culprit:
        where = culprit["file"] + (f":{culprit['line']}" if culprit.get("line") else "")
    return {
        **incident,
        "where": where,
        "last_seen_text": _when(incident["last_seen"]),
        "vscode_url": editor_link("vscode", incident["repo"], incident["id"]),
        "cursor_url": editor_link("cursor", incident["repo"], incident["id"]),
    }


@router.get("/{project_id}")
async def project_home(project_id: ProjectId) -> Response:
    return redirect(f"/projects/{project_id}/incidents")


@router.get("/{project_id}/incidents")
async def incidents(
    request: Request,
    state: AppState,
    session: User,
    project_id: ProjectId,
    status: Literal["open", "resolved", "ignored", "all"] = "open",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    project = await project_of(state, session, project_id)
    page = await state.gateway.json(
        "GET",
        "/api/incidents",
        token=session.access_token,
        params={"repo": project["repo"], "status": status, "limit": _PAGE, "cursor": cursor},
    )
    return render(
        request,
        "incidents.html",
        {
            "project": project,
            "incidents": [_view(i) for i in page["incidents"]],
            "status": status,
            "statuses": STATUSES,
            "next_cursor": page.get("next_cursor") or "",
            "first_page": not cursor,
        },
    )


@router.post("/{project_id}/incidents/{incident_id}/status")
async def set_status(
    request: Request,
    state: AppState,
    session: User,
    project_id: ProjectId,
    incident_id: IncidentId,
    form: Form,
) -> Response:
    new_status = form.get("status", "")
    if new_status not in ("open", "resolved", "ignored"):
        raise PageError(400, "Not understood", "An incident is open, resolved or ignored.")
    # The project is checked first, so that an incident id of another project of the same
    # user does not act through this page's address.
    project = await project_of(state, session, project_id)
    incident = await state.gateway.json(
        "GET", f"/api/incidents/{incident_id}", token=session.access_token
    )
    if incident["project_id"] != project["id"]:
        raise PageError(404, "Not found", "There is nothing here, or it is not yours to see.")
    await state.gateway.json(
        "PATCH",
        f"/api/incidents/{incident_id}",
        token=session.access_token,
        json={"status": new_status},
    )
    shown = form.get("shown", "open")
    back = shown if shown in STATUSES else "open"
    verb = {"open": "reopened", "resolved": "resolved", "ignored": "ignored"}[new_status]
    return redirect(
        f"/projects/{project_id}/incidents?status={back}",
        notice=f"“{incident['title']}” is {verb}.",
        request=request,
    )
