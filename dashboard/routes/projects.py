"""Projects: the list, creating one, its key shown once, keys, settings, setup, audit log."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from dashboard import snippets
from dashboard.gateway import GatewayError
from dashboard.sessions import Session
from dashboard.web import AppState, DashboardState, Form, PageError, User, redirect, render
from stackline_contract.github import OWNER_PATTERN, REPO_RULE, normalise_repo

router = APIRouter(prefix="/projects")

# Ids are UUIDs; anything else is a missing page, not a call to the API.
ProjectId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
# GitHub's rule for owner/repo, the one the API applies, for the browser to check first (an
# HTML pattern is a JavaScript regex with the v flag, where a class's '-' must be escaped).
REPO_PATTERN = rf"{OWNER_PATTERN}/[A-Za-z0-9._\-]{{1,100}}"
DEFAULT_RETENTION_DAYS = 90
GRACE_CHOICES = (
    (0, "now"),
    (3600, "in 1 hour"),
    (86_400, "in 24 hours"),
    (7 * 86_400, "in 7 days"),
)
_AUDIT_PAGE = 25


async def project_of(state: DashboardState, session: Session, project_id: str) -> dict[str, Any]:
    body = await state.gateway.json(
        "GET", f"/api/projects/{project_id}", token=session.access_token
    )
    project: dict[str, Any] = body["project"]
    return project


async def _summary(state: DashboardState, session: Session, project: dict[str, Any]) -> None:
    """Open incidents and the last event of a project, for the list."""
    open_page, latest_page = await asyncio.gather(
        state.gateway.json(
            "GET",
            "/api/incidents",
            token=session.access_token,
            params={"repo": project["repo"], "status": "open", "limit": 100},
        ),
        state.gateway.json(
            "GET",
            "/api/incidents",
            token=session.access_token,
            params={"repo": project["repo"], "status": "all", "limit": 1},
        ),
    )
    count = len(open_page["incidents"])
    project["open_incidents"] = f"{count}+" if open_page.get("next_cursor") else str(count)
    latest = latest_page["incidents"]
    project["last_event"] = _when(latest[0]["last_seen"]) if latest else ""


def _when(value: str | None) -> str:
    """A time as people read it here: UTC, to the minute."""
    if not value:
        return ""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


@router.get("")
async def list_projects(request: Request, state: AppState, session: User) -> Response:
    body = await state.gateway.json("GET", "/api/projects", token=session.access_token)
    projects: list[dict[str, Any]] = body["projects"]
    await asyncio.gather(*(_summary(state, session, p) for p in projects))
    return render(request, "projects.html", {"projects": projects})


def _new_form(
    request: Request, values: dict[str, str], error: str = "", field: str = ""
) -> Response:
    return render(
        request,
        "project_new.html",
        {
            "values": values,
            "error": error,
            "field": field,
            "repo_pattern": REPO_PATTERN,
            "submission": secrets.token_urlsafe(16),
        },
        status=400 if error else 200,
    )


@router.get("/new")
async def new_project(
    request: Request, session: User, repo: Annotated[str, Query(max_length=140)] = ""
) -> Response:
    # The editor extension's "Create Project" comes here with the workspace's repository.
    values = {"retention_days": str(DEFAULT_RETENTION_DAYS), "repo": repo}
    if repo:
        values["name"] = repo.rsplit("/", 1)[-1]
    return _new_form(request, values)


def _retention(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@router.post("")
async def create_project(request: Request, state: AppState, session: User, form: Form) -> Response:
    values = {k: form.get(k, "").strip() for k in ("name", "repo", "retention_days")}
    retention = _retention(values["retention_days"])
    if retention is None:
        return _new_form(request, values, "Retention must be a number of days.", "retention_days")
    if normalise_repo(values["repo"]) is None:
        return _new_form(request, values, f"The repository must be {REPO_RULE}.", "repo")
    payload = {"name": values["name"], "repo": values["repo"], "retention_days": retention}

    async def create() -> dict[str, Any]:
        return await state.gateway.json(
            "POST", "/api/projects", token=session.access_token, json=payload
        )

    submission = form.get("submission", "")
    try:
        created = await state.submissions.once(session.csrf, submission, create)
    except GatewayError as exc:
        if exc.status == 404:
            raise
        return _new_form(request, values, exc.message, exc.field or "")
    project = created["project"]
    if not submission or submission != session.key_shown_for:
        session.new_key = {
            "project_id": project["id"],
            "key": created["ingest_key"],
            "dsn": created.get("dsn", ""),
            "first": "1",
            "submission": submission,
        }
    return redirect(f"/projects/{project['id']}/key")


@router.get("/{project_id}/key")
async def show_key(
    request: Request, state: AppState, session: User, project_id: ProjectId
) -> Response:
    """The new key, this once: the session drops it as this page is answered."""
    project = await project_of(state, session, project_id)
    new_key, session.new_key = session.new_key, None
    shown = new_key if new_key and new_key.get("project_id") == project["id"] else None
    if shown and shown.get("submission"):
        session.key_shown_for = shown["submission"]
    return render(
        request,
        "key.html",
        {
            "project": project,
            "key": shown["key"] if shown else "",
            "dsn": snippets.dsn_at(state.settings.api_url, shown["dsn"], project["id"])
            if shown and shown.get("dsn")
            else "",
            "first": bool(shown and shown.get("first")),
            "api_url": state.settings.api_url,
        },
    )


def _key_view(api_url: str, project_id: str, key: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now().astimezone()
    revoked_at = key.get("revoked_at")
    stops = datetime.fromisoformat(revoked_at) if revoked_at else None
    return {
        **key,
        "dsn": snippets.dsn_at(api_url, key["dsn"], project_id),
        "created": _when(key["created_at"]),
        "last_used": _when(key.get("last_used_at")) or "never",
        "state": "active" if stops is None else ("retiring" if stops > now else "revoked"),
        "stops": _when(revoked_at),
    }


@router.get("/{project_id}/keys")
async def keys(request: Request, state: AppState, session: User, project_id: ProjectId) -> Response:
    project = await project_of(state, session, project_id)
    return render(
        request,
        "keys.html",
        {
            "project": project,
            "keys": [
                _key_view(state.settings.api_url, project["id"], k) for k in project["ingest_keys"]
            ],
            "grace_choices": GRACE_CHOICES,
        },
    )


@router.post("/{project_id}/keys")
async def create_key(
    request: Request, state: AppState, session: User, project_id: ProjectId, form: Form
) -> Response:
    created = await state.gateway.json(
        "POST", f"/api/projects/{project_id}/keys", token=session.access_token
    )
    session.new_key = {
        "project_id": project_id,
        "key": created["ingest_key"],
        "dsn": created.get("dsn", ""),
    }
    return redirect(f"/projects/{project_id}/key")


@router.post("/{project_id}/keys/{key_id}/rotate")
async def rotate_key(
    request: Request,
    state: AppState,
    session: User,
    project_id: ProjectId,
    key_id: KeyId,
    form: Form,
) -> Response:
    try:
        grace = int(form.get("grace_seconds", "86400"))
    except ValueError:
        raise PageError(400, "Not understood", "Choose when the old key stops working.") from None
    rotated = await state.gateway.json(
        "POST",
        f"/api/projects/{project_id}/keys/{key_id}/rotate",
        token=session.access_token,
        json={"grace_seconds": grace},
    )
    if grace == 0:
        # The API reads a grace of 0 as "the default" (a 0 does not survive its protobuf
        # request), so "now" is a rotation followed by revoking the old key.
        await state.gateway.json(
            "DELETE", f"/api/projects/{project_id}/keys/{key_id}", token=session.access_token
        )
    session.new_key = {
        "project_id": project_id,
        "key": rotated["ingest_key"],
        "dsn": rotated.get("dsn", ""),
    }
    return redirect(f"/projects/{project_id}/key")


@router.post("/{project_id}/keys/{key_id}/revoke")
async def revoke_key(
    request: Request,
    state: AppState,
    session: User,
    project_id: ProjectId,
    key_id: KeyId,
    form: Form,
) -> Response:
    revoked = await state.gateway.json(
        "DELETE", f"/api/projects/{project_id}/keys/{key_id}", token=session.access_token
    )
    return redirect(
        f"/projects/{project_id}/keys",
        notice=f"Key {revoked['prefix']}… is revoked: events sent with it are refused.",
        request=request,
    )


async def _settings_page(
    request: Request,
    state: DashboardState,
    session: Session,
    project_id: str,
    *,
    error: str = "",
    field: str = "",
    values: dict[str, str] | None = None,
) -> Response:
    project, mappings = await asyncio.gather(
        project_of(state, session, project_id),
        state.gateway.json(
            "GET", f"/api/projects/{project_id}/path-mappings", token=session.access_token
        ),
    )
    return render(
        request,
        "settings.html",
        {
            "project": project,
            "dsn": snippets.dsn_at(state.settings.api_url, project["dsn"], project["id"])
            if project.get("dsn")
            else "",
            "mappings": mappings["mappings"],
            "error": error,
            "field": field,
            "values": values
            or {"name": project["name"], "retention_days": str(project["retention_days"])},
        },
        status=400 if error else 200,
    )


@router.get("/{project_id}/settings")
async def settings(
    request: Request, state: AppState, session: User, project_id: ProjectId
) -> Response:
    return await _settings_page(request, state, session, project_id)


@router.post("/{project_id}/settings")
async def update_settings(
    request: Request, state: AppState, session: User, project_id: ProjectId, form: Form
) -> Response:
    values = {k: form.get(k, "").strip() for k in ("name", "retention_days")}
    retention = _retention(values["retention_days"])
    if retention is None:
        return await _settings_page(
            request,
            state,
            session,
            project_id,
            error="Retention must be a number of days.",
            field="retention_days",
            values=values,
        )
    try:
        await state.gateway.json(
            "PATCH",
            f"/api/projects/{project_id}",
            token=session.access_token,
            json={"name": values["name"], "retention_days": retention},
        )
    except GatewayError as exc:
        if exc.status == 404:
            raise
        return await _settings_page(
            request,
            state,
            session,
            project_id,
            error=exc.message,
            field=exc.field or "",
            values=values,
        )
    return redirect(f"/projects/{project_id}/settings", notice="Settings saved.", request=request)


@router.post("/{project_id}/path-mappings")
async def update_path_mappings(
    request: Request, state: AppState, session: User, project_id: ProjectId, form: Form
) -> Response:
    mappings = []
    for index in range(51):
        stack_root = form.get(f"stack_root_{index}", "").strip()
        source_root = form.get(f"source_root_{index}", "").strip()
        if stack_root:
            mappings.append({"stack_root": stack_root, "source_root": source_root})
    try:
        await state.gateway.json(
            "PUT",
            f"/api/projects/{project_id}/path-mappings",
            token=session.access_token,
            json={"mappings": mappings},
        )
    except GatewayError as exc:
        if exc.status == 404:
            raise
        return await _settings_page(
            request, state, session, project_id, error=exc.message, field="mappings"
        )
    return redirect(
        f"/projects/{project_id}/settings", notice="Path mappings saved.", request=request
    )


@router.post("/{project_id}/delete")
async def delete_project(
    request: Request, state: AppState, session: User, project_id: ProjectId, form: Form
) -> Response:
    project = await project_of(state, session, project_id)
    if form.get("confirm", "").strip() != project["repo"]:
        return await _settings_page(
            request,
            state,
            session,
            project_id,
            error=f"Type {project['repo']} to delete the project; nothing was deleted.",
            field="confirm",
        )
    await state.gateway.send("DELETE", f"/api/projects/{project_id}", token=session.access_token)
    return redirect(
        "/projects",
        notice=f"{project['name']} ({project['repo']}) and everything it held are deleted.",
        request=request,
    )


@router.get("/{project_id}/setup")
async def setup(
    request: Request, state: AppState, session: User, project_id: ProjectId
) -> Response:
    project = await project_of(state, session, project_id)
    return render(
        request,
        "setup.html",
        {"project": project, "sections": snippets.sections(state.settings.api_url, project)},
    )


@router.get("/{project_id}/audit")
async def audit(
    request: Request,
    state: AppState,
    session: User,
    project_id: ProjectId,
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    project, page = await asyncio.gather(
        project_of(state, session, project_id),
        state.gateway.json(
            "GET",
            f"/api/projects/{project_id}/audit",
            token=session.access_token,
            params={"limit": _AUDIT_PAGE, "cursor": cursor},
        ),
    )
    entries = [
        {**e, "when": _when(e["occurred_at"]), "actor": e.get("actor_user_id") or "deleted user"}
        for e in page["entries"]
    ]
    return render(
        request,
        "audit.html",
        {
            "project": project,
            "entries": entries,
            "next_cursor": page.get("next_cursor") or "",
            "first_page": not cursor,
        },
    )
