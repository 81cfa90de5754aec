"""ProjectsService rules: projects owned by one user, each mapped to one GitHub repo, and keys.

Takes a session; never commits. Another user's project is "not found", never
"forbidden": its existence is not the caller's business.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects import repository
from stackline_infra import keyformat
from stackline_infra.db import audit
from stackline_infra.db.schema import IngestKey, Project
from stackline_infra.db.types import utcnow
from stackline_infra.errors import Conflict, InvalidArgument, NotFound
from stackline_infra.identity import Caller

DEFAULT_RETENTION_DAYS = 90
MAX_RETENTION_DAYS = 3650
MAX_NAME_LENGTH = 100

# GitHub's rules: an owner is 1-39 letters, digits or single hyphens; a
# repository name is letters, digits, '.', '_' and '-', and not '.' or '..'.
_REPO = re.compile(
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/(?P<name>[A-Za-z0-9._-]{1,100})"
)


def normalise_repo(repo: str) -> str:
    match = _REPO.fullmatch(repo.strip())
    if match is None or match["name"] in (".", ".."):
        raise InvalidArgument("repo must be a GitHub repository as owner/repo", field="repo")
    return f"{match['owner']}/{match['name']}"


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidArgument(
            f"name must be 1-{MAX_NAME_LENGTH} printable characters", field="name"
        )
    return name


def _validate_retention(days: int) -> int:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidArgument(
            f"retention_days must be between 1 and {MAX_RETENTION_DAYS}", field="retention_days"
        )
    return days


@dataclass(frozen=True)
class NewKey:
    key: IngestKey
    secret: str


async def _new_key(session: AsyncSession, caller: Caller, project_id: uuid.UUID) -> NewKey:
    secret = keyformat.generate()
    key = await repository.add_key(
        session,
        IngestKey(
            project_id=project_id,
            prefix=keyformat.display_prefix(secret),
            key_hash=keyformat.digest(secret),
        ),
    )
    await audit.record(
        session,
        action="ingest_key.create",
        actor_user_id=caller.user_id,
        source_ip=caller.source_ip,
        project_id=project_id,
        target=f"ingest_key:{key.id}",
    )
    return NewKey(key, secret)


async def create_project(
    session: AsyncSession, caller: Caller, *, name: str, repo: str, retention_days: int
) -> tuple[Project, NewKey]:
    name = _validate_name(name)
    repo = normalise_repo(repo)
    retention_days = _validate_retention(retention_days or DEFAULT_RETENTION_DAYS)
    if await repository.find_by_repo(session, caller.user_id, repo) is not None:
        raise Conflict(f"you already have a project for {repo}", field="repo")
    try:
        project = await repository.add_project(
            session,
            Project(owner_id=caller.user_id, name=name, repo=repo, retention_days=retention_days),
        )
    except IntegrityError as exc:
        if "uq_projects_owner_id_repo" not in str(exc.orig):
            raise
        # A concurrent create for the same repository won the race.
        raise Conflict(f"you already have a project for {repo}", field="repo") from None
    await audit.record(
        session,
        action="project.create",
        actor_user_id=caller.user_id,
        source_ip=caller.source_ip,
        project_id=project.id,
        target=f"project:{project.id}",
        details={"name": name, "repo": repo},
    )
    return project, await _new_key(session, caller, project.id)


async def list_projects(session: AsyncSession, caller: Caller) -> Sequence[Project]:
    return await repository.list_projects(session, caller.user_id)


async def _owned(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID, *, for_update: bool = False
) -> Project:
    project = await repository.get_owned_project(
        session, caller.user_id, project_id, for_update=for_update
    )
    if project is None:
        raise NotFound("no such project")
    return project


async def get_project(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID
) -> tuple[Project, Sequence[IngestKey]]:
    project = await _owned(session, caller, project_id)
    return project, await repository.list_keys(session, project.id)


async def update_project(
    session: AsyncSession,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    name: str | None,
    retention_days: int | None,
) -> Project:
    project = await _owned(session, caller, project_id, for_update=True)
    changes: dict[str, object] = {}
    if name is not None:
        project.name = changes["name"] = _validate_name(name)
    if retention_days is not None:
        project.retention_days = changes["retention_days"] = _validate_retention(retention_days)
    if changes:
        await session.flush()
        await audit.record(
            session,
            action="project.update",
            actor_user_id=caller.user_id,
            source_ip=caller.source_ip,
            project_id=project.id,
            target=f"project:{project.id}",
            details=changes,
        )
    return project


async def delete_project(session: AsyncSession, caller: Caller, project_id: uuid.UUID) -> None:
    project = await _owned(session, caller, project_id, for_update=True)
    await repository.delete_project(session, project.id)
    await audit.record(
        session,
        action="project.delete",
        actor_user_id=caller.user_id,
        source_ip=caller.source_ip,
        project_id=project.id,
        target=f"project:{project.id}",
        details={"name": project.name, "repo": project.repo},
    )


async def create_ingest_key(session: AsyncSession, caller: Caller, project_id: uuid.UUID) -> NewKey:
    project = await _owned(session, caller, project_id)
    return await _new_key(session, caller, project.id)


async def revoke_ingest_key(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID, key_id: uuid.UUID
) -> IngestKey:
    project = await _owned(session, caller, project_id)
    key = await repository.get_key(session, project.id, key_id)
    if key is None:
        raise NotFound("no such ingest key")
    if key.revoked_at is None:
        await repository.revoke_key(session, key.id, utcnow())
        await session.refresh(key)
        await audit.record(
            session,
            action="ingest_key.revoke",
            actor_user_id=caller.user_id,
            source_ip=caller.source_ip,
            project_id=project.id,
            target=f"ingest_key:{key.id}",
        )
    return key
