"""ProjectsService's gRPC edge: proto in, proto out; each call is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.projects.v1 import projects_pb2, projects_pb2_grpc

from services.projects import service
from stackline_infra.clock import WallClock
from stackline_infra.db.schema import AuditEntry, IngestKey, PathMapping, Project, Release
from stackline_infra.db.types import json_dumps, utcnow
from stackline_infra.identity import caller_from_proto, parse_id
from stackline_infra.timestamps import to_proto


def _project(project: Project, dsn_public_key: str) -> projects_pb2.Project:
    return projects_pb2.Project(
        id=str(project.id),
        name=project.name,
        repo=project.repo,
        retention_days=project.retention_days,
        created_at=to_proto(project.created_at),
        updated_at=to_proto(project.updated_at),
        dsn_public_key=dsn_public_key,
    )


def _key(key: IngestKey) -> projects_pb2.IngestKey:
    message = projects_pb2.IngestKey(
        id=str(key.id),
        prefix=key.prefix,
        created_at=to_proto(key.created_at),
        public_key=key.public_key,
    )
    if key.last_used_at is not None:
        message.last_used_at.CopyFrom(to_proto(key.last_used_at))
    if key.revoked_at is not None:
        message.revoked_at.CopyFrom(to_proto(key.revoked_at))
    return message


def _mappings(rows: Sequence[PathMapping]) -> list[projects_pb2.PathMapping]:
    return [
        projects_pb2.PathMapping(stack_root=m.stack_root, source_root=m.source_root) for m in rows
    ]


def _release(release: Release) -> projects_pb2.Release:
    return projects_pb2.Release(
        version=release.version,
        commit_sha=release.commit_sha,
        updated_at=to_proto(release.updated_at),
    )


def _audit_entry(entry: AuditEntry) -> projects_pb2.AuditEntry:
    return projects_pb2.AuditEntry(
        id=str(entry.id),
        occurred_at=to_proto(entry.occurred_at),
        actor_user_id=str(entry.actor_user_id) if entry.actor_user_id else "",
        action=entry.action,
        target=entry.target or "",
        source_ip=entry.source_ip or "",
        details_json=json_dumps(entry.details),
    )


class ProjectsServicer(projects_pb2_grpc.ProjectsServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        caps: service.Caps = service.DEFAULT_CAPS,
        clock: WallClock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._caps = caps
        self._clock = clock

    async def CreateProject(
        self, request: projects_pb2.CreateProjectRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.CreateProjectResponse:
        caller = caller_from_proto(request.actor)
        async with self._sessions.begin() as session:
            project, new_key = await service.create_project(
                session,
                caller,
                name=request.name,
                repo=request.repo,
                retention_days=request.retention_days,
                caps=self._caps,
            )
        return projects_pb2.CreateProjectResponse(
            project=_project(project, new_key.key.public_key),
            ingest_key=_key(new_key.key),
            ingest_key_secret=new_key.secret,
        )

    async def ListProjects(
        self, request: projects_pb2.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.ListProjectsResponse:
        caller = caller_from_proto(request.actor)
        async with self._sessions.begin() as session:
            projects, dsn_public_keys = await service.list_projects(session, caller)
        return projects_pb2.ListProjectsResponse(
            projects=[_project(p, dsn_public_keys.get(p.id, "")) for p in projects]
        )

    async def GetProject(
        self, request: projects_pb2.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.GetProjectResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            project, keys = await service.get_project(session, caller, project_id)
        dsn_key = service.dsn_key(keys)
        return projects_pb2.GetProjectResponse(
            project=_project(project, dsn_key.public_key if dsn_key is not None else ""),
            ingest_keys=[_key(k) for k in keys],
        )

    async def UpdateProject(
        self, request: projects_pb2.UpdateProjectRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.UpdateProjectResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            project = await service.update_project(
                session,
                caller,
                project_id,
                name=request.name if request.HasField("name") else None,
                retention_days=request.retention_days
                if request.HasField("retention_days")
                else None,
            )
            dsn_public_key = await service.project_dsn_public_key(session, project.id)
        return projects_pb2.UpdateProjectResponse(project=_project(project, dsn_public_key))

    async def DeleteProject(
        self, request: projects_pb2.DeleteProjectRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.DeleteProjectResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            await service.delete_project(session, caller, project_id)
        return projects_pb2.DeleteProjectResponse()

    async def CreateIngestKey(
        self, request: projects_pb2.CreateIngestKeyRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.CreateIngestKeyResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            new_key = await service.create_ingest_key(
                session, caller, project_id, now=self._clock(), caps=self._caps
            )
        return projects_pb2.CreateIngestKeyResponse(
            ingest_key=_key(new_key.key), ingest_key_secret=new_key.secret
        )

    async def RevokeIngestKey(
        self, request: projects_pb2.RevokeIngestKeyRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.RevokeIngestKeyResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        key_id = parse_id(request.key_id, "ingest key")
        async with self._sessions.begin() as session:
            key = await service.revoke_ingest_key(
                session, caller, project_id, key_id, now=self._clock()
            )
        return projects_pb2.RevokeIngestKeyResponse(ingest_key=_key(key))

    async def GetPathMappings(
        self, request: projects_pb2.GetPathMappingsRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.GetPathMappingsResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            rows = await service.get_path_mappings(session, caller, project_id)
        return projects_pb2.GetPathMappingsResponse(mappings=_mappings(rows))

    async def SetPathMappings(
        self, request: projects_pb2.SetPathMappingsRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.SetPathMappingsResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        wanted = [(m.stack_root, m.source_root) for m in request.mappings]
        async with self._sessions.begin() as session:
            rows = await service.set_path_mappings(session, caller, project_id, wanted)
        return projects_pb2.SetPathMappingsResponse(mappings=_mappings(rows))

    async def SetReleaseCommit(
        self, request: projects_pb2.SetReleaseCommitRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.SetReleaseCommitResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            release = await service.set_release_commit(
                session, caller, project_id, request.version, request.commit_sha, now=self._clock()
            )
        return projects_pb2.SetReleaseCommitResponse(release=_release(release))

    async def ListReleases(
        self, request: projects_pb2.ListReleasesRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.ListReleasesResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            rows = await service.list_releases(session, caller, project_id)
        return projects_pb2.ListReleasesResponse(releases=[_release(r) for r in rows])

    async def RotateIngestKey(
        self, request: projects_pb2.RotateIngestKeyRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.RotateIngestKeyResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        key_id = parse_id(request.key_id, "ingest key")
        # Presence, not the value: 0 is "stop the old key now", absent is the default.
        grace = (
            timedelta(seconds=request.grace_seconds)
            if request.HasField("grace_seconds")
            else service.DEFAULT_ROTATION_GRACE
        )
        async with self._sessions.begin() as session:
            rotated = await service.rotate_ingest_key(
                session, caller, project_id, key_id, grace=grace, now=self._clock()
            )
        return projects_pb2.RotateIngestKeyResponse(
            new_key=_key(rotated.new.key),
            new_key_secret=rotated.new.secret,
            old_key=_key(rotated.old),
        )

    async def ListAuditEntries(
        self, request: projects_pb2.ListAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> projects_pb2.ListAuditEntriesResponse:
        caller = caller_from_proto(request.actor)
        project_id = parse_id(request.project_id, "project")
        async with self._sessions.begin() as session:
            entries, next_cursor = await service.audit_log(
                session, caller, project_id, page_size=request.page_size, cursor=request.cursor
            )
        return projects_pb2.ListAuditEntriesResponse(
            entries=[_audit_entry(e) for e in entries], next_cursor=next_cursor
        )
