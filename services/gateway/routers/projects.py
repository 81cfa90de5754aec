"""Projects and ingest keys of the signed-in user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response, status
from stackline.projects.v1 import projects_pb2

from services.gateway.dependencies import Actor, State
from services.gateway.routers.sentry import sentry_dsn
from services.gateway.schemas.errors import documented_errors
from services.gateway.schemas.projects import (
    AuditEntry,
    AuditLog,
    DsnOf,
    IngestKeyCreated,
    IngestKeyInfo,
    KeyRotated,
    KeyRotation,
    PathMapping,
    PathMappings,
    Project,
    ProjectCreate,
    ProjectCreated,
    ProjectDetail,
    ProjectList,
    ProjectResponse,
    ProjectUpdate,
    ProjectUpdated,
)
from stackline_infra.timestamps import from_proto

router = APIRouter(prefix="/api/projects", tags=["projects"])


def _dsn_of(request: Request) -> DsnOf:
    return lambda public_key, project_id: sentry_dsn(request, public_key, project_id)


def _detail(
    request: Request, project: projects_pb2.Project, keys: list[projects_pb2.IngestKey]
) -> ProjectDetail:
    dsn_of = _dsn_of(request)
    return ProjectDetail(
        **Project.from_proto(project, dsn_of).model_dump(),
        ingest_keys=[IngestKeyInfo.from_proto(k, project.id, dsn_of) for k in keys],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a project for a GitHub repository; its first ingest key is returned this once",
    responses=documented_errors(400, 401, 409),
)
async def create_project(
    body: ProjectCreate, state: State, actor: Actor, request: Request
) -> ProjectCreated:
    response = await state.backends.projects.CreateProject(
        projects_pb2.CreateProjectRequest(
            actor=actor, name=body.name, repo=body.repo, retention_days=body.retention_days or 0
        )
    )
    return ProjectCreated(
        project=_detail(request, response.project, [response.ingest_key]),
        ingest_key=response.ingest_key_secret,
        dsn=sentry_dsn(request, response.ingest_key.public_key, response.project.id),
    )


@router.get("", summary="Your projects", responses=documented_errors(401))
async def list_projects(state: State, actor: Actor, request: Request) -> ProjectList:
    response = await state.backends.projects.ListProjects(
        projects_pb2.ListProjectsRequest(actor=actor)
    )
    dsn_of = _dsn_of(request)
    return ProjectList(projects=[Project.from_proto(p, dsn_of) for p in response.projects])


@router.get(
    "/{project_id}",
    summary="One of your projects, with its keys",
    responses=documented_errors(401, 404),
)
async def get_project(
    project_id: str, state: State, actor: Actor, request: Request
) -> ProjectResponse:
    response = await state.backends.projects.GetProject(
        projects_pb2.GetProjectRequest(actor=actor, project_id=project_id)
    )
    return ProjectResponse(project=_detail(request, response.project, list(response.ingest_keys)))


@router.patch(
    "/{project_id}",
    summary="Rename a project or change its retention",
    responses=documented_errors(400, 401, 404),
)
async def update_project(
    project_id: str, body: ProjectUpdate, state: State, actor: Actor, request: Request
) -> ProjectUpdated:
    update = projects_pb2.UpdateProjectRequest(actor=actor, project_id=project_id)
    if body.name is not None:
        update.name = body.name
    if body.retention_days is not None:
        update.retention_days = body.retention_days
    response = await state.backends.projects.UpdateProject(update)
    return ProjectUpdated(project=Project.from_proto(response.project, _dsn_of(request)))


@router.delete(
    "/{project_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a project with its keys, incidents and events",
    responses=documented_errors(401, 404),
)
async def delete_project(project_id: str, state: State, actor: Actor) -> Response:
    await state.backends.projects.DeleteProject(
        projects_pb2.DeleteProjectRequest(actor=actor, project_id=project_id)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{project_id}/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create another ingest key; returned this once",
    responses=documented_errors(401, 404),
)
async def create_key(
    project_id: str, state: State, actor: Actor, request: Request
) -> IngestKeyCreated:
    response = await state.backends.projects.CreateIngestKey(
        projects_pb2.CreateIngestKeyRequest(actor=actor, project_id=project_id)
    )
    return IngestKeyCreated(
        ingest_key=response.ingest_key_secret,
        dsn=sentry_dsn(request, response.ingest_key.public_key, project_id),
        key=IngestKeyInfo.from_proto(response.ingest_key, project_id, _dsn_of(request)),
    )


@router.delete(
    "/{project_id}/keys/{key_id}",
    summary="Revoke an ingest key: refused at once by every gateway replica sharing Redis, "
    "and by any other within the key cache period",
    responses=documented_errors(401, 404),
)
async def revoke_key(
    project_id: str, key_id: str, state: State, actor: Actor, request: Request
) -> IngestKeyInfo:
    response = await state.backends.projects.RevokeIngestKey(
        projects_pb2.RevokeIngestKeyRequest(actor=actor, project_id=project_id, key_id=key_id)
    )
    await state.revocations.revoked(response.ingest_key.id)
    return IngestKeyInfo.from_proto(response.ingest_key, project_id, _dsn_of(request))


def _path_mappings(mappings: Sequence[projects_pb2.PathMapping]) -> PathMappings:
    return PathMappings(
        mappings=[PathMapping(stack_root=m.stack_root, source_root=m.source_root) for m in mappings]
    )


@router.get(
    "/{project_id}/path-mappings",
    summary="How the project's deployed paths map to repository paths",
    responses=documented_errors(401, 404),
)
async def get_path_mappings(project_id: str, state: State, actor: Actor) -> PathMappings:
    response = await state.backends.projects.GetPathMappings(
        projects_pb2.GetPathMappingsRequest(actor=actor, project_id=project_id)
    )
    return _path_mappings(response.mappings)


@router.put(
    "/{project_id}/path-mappings",
    summary="Replace the project's path mappings (for monorepos, build folders, asset URLs)",
    description="New events use them within 10 seconds; stored events keep their paths.",
    responses=documented_errors(400, 401, 404),
)
async def set_path_mappings(
    project_id: str, body: PathMappings, state: State, actor: Actor
) -> PathMappings:
    response = await state.backends.projects.SetPathMappings(
        projects_pb2.SetPathMappingsRequest(
            actor=actor,
            project_id=project_id,
            mappings=[
                projects_pb2.PathMapping(stack_root=m.stack_root, source_root=m.source_root)
                for m in body.mappings
            ],
        )
    )
    return _path_mappings(response.mappings)


@router.post(
    "/{project_id}/keys/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    summary="Replace a key: a new one now, the old one working for a grace period",
    responses=documented_errors(400, 401, 404, 409),
)
async def rotate_key(
    project_id: str,
    key_id: str,
    state: State,
    actor: Actor,
    request: Request,
    body: KeyRotation | None = None,
) -> KeyRotated:
    grace = (body or KeyRotation()).grace_seconds
    response = await state.backends.projects.RotateIngestKey(
        projects_pb2.RotateIngestKeyRequest(
            actor=actor, project_id=project_id, key_id=key_id, grace_seconds=grace
        )
    )
    # Asked again, the old key comes back with the end of its grace, which bounds its cache entry.
    await state.revocations.revoked(response.old_key.id)
    return KeyRotated(
        ingest_key=response.new_key_secret,
        dsn=sentry_dsn(request, response.new_key.public_key, project_id),
        key=IngestKeyInfo.from_proto(response.new_key, project_id, _dsn_of(request)),
        old_key=IngestKeyInfo.from_proto(response.old_key, project_id, _dsn_of(request)),
    )


@router.get(
    "/{project_id}/audit",
    summary="Who did what to the project, when and from where; newest first",
    responses=documented_errors(400, 401, 404),
)
async def audit_log(
    project_id: str,
    state: State,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> AuditLog:
    response = await state.backends.projects.ListAuditEntries(
        projects_pb2.ListAuditEntriesRequest(
            actor=actor, project_id=project_id, page_size=limit, cursor=cursor
        )
    )
    return AuditLog(
        entries=[
            AuditEntry(
                id=e.id,
                occurred_at=from_proto(e.occurred_at),
                actor_user_id=e.actor_user_id or None,
                action=e.action,
                target=e.target or None,
                source_ip=e.source_ip or None,
                details=orjson.loads(e.details_json) if e.details_json else {},
            )
            for e in response.entries
        ],
        next_cursor=response.next_cursor or None,
    )
