"""A project's releases: which commit each was built from, recorded by a CI step after a build.

Events that name a release and no commit (as Sentry's SDKs send them) are placed at the
release's commit, as `sentry-cli releases set-commits` tells Sentry.
"""

from __future__ import annotations

from fastapi import APIRouter
from stackline.projects.v1 import projects_pb2

from services.gateway.dependencies import Actor, State
from services.gateway.schemas.errors import documented_errors
from services.gateway.schemas.releases import Release, ReleaseCommit, ReleaseList

router = APIRouter(prefix="/api/projects", tags=["releases"])


@router.post(
    "/{project_id}/releases",
    summary="Record the commit a release was built from; setting it again moves it",
    description="New events naming the release use it within 10 seconds.",
    responses=documented_errors(400, 401, 404),
)
async def set_release_commit(
    project_id: str, body: ReleaseCommit, state: State, actor: Actor
) -> Release:
    response = await state.backends.projects.SetReleaseCommit(
        projects_pb2.SetReleaseCommitRequest(
            actor=actor, project_id=project_id, version=body.version, commit_sha=body.commit_sha
        )
    )
    return Release.from_proto(response.release)


@router.get(
    "/{project_id}/releases",
    summary="The project's releases and their commits",
    responses=documented_errors(401, 404),
)
async def list_releases(project_id: str, state: State, actor: Actor) -> ReleaseList:
    response = await state.backends.projects.ListReleases(
        projects_pb2.ListReleasesRequest(actor=actor, project_id=project_id)
    )
    return ReleaseList(releases=[Release.from_proto(r) for r in response.releases])
