"""ProjectsService rules: projects owned by one user, each mapped to one GitHub repo, and keys.

Takes a session; never commits. Another user's project is "not found", never
"forbidden": its existence is not the caller's business.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects import repository
from stackline_contract import github, keyformat, scrubbing
from stackline_contract.text import is_printable
from stackline_infra import cursors
from stackline_infra.db.constraints import violation
from stackline_infra.db.schema import AuditEntry, IngestKey, PathMapping, Project, Release
from stackline_infra.errors import Conflict, InvalidArgument, NotFound, Unauthenticated
from stackline_infra.identity import Caller

DEFAULT_RETENTION_DAYS = 90
# How long a rotated key keeps working, so deployments can pick up its successor.
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MAX_ROTATION_GRACE = timedelta(days=7)
DEFAULT_AUDIT_PAGE = 50
MAX_AUDIT_PAGE = 100
MAX_PATH_MAPPINGS = 50
MAX_ROOT_LENGTH = 1024
MAX_RETENTION_DAYS = 3650
MAX_NAME_LENGTH = 100
MAX_RELEASE_LENGTH = 200
MAX_RELEASES_LISTED = 100


@dataclass(frozen=True)
class Caps:
    """How much one user may hold. Ingest is limited per project, so without these a user
    could multiply their ingest volume with more projects, and keys are capped so a leaked
    account cannot mint them without end."""

    projects_per_user: int = 100
    keys_per_project: int = 10


DEFAULT_CAPS = Caps()


def normalise_repo(repo: str) -> str:
    normalised = github.normalise_repo(repo)
    if normalised is None:
        raise InvalidArgument(f"repo must be {github.REPO_RULE}", field="repo")
    return normalised


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not is_printable(name):
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
class ScrubbingChange:
    """The scrubbing settings an update sets; None leaves one as it is."""

    keep_emails: bool | None = None
    fields: list[str] | None = None
    patterns: list[str] | None = None


def _validate_scrub_fields(names: list[str]) -> list[str]:
    if len(names) > scrubbing.MAX_FIELDS:
        raise InvalidArgument(
            f"scrub_fields holds at most {scrubbing.MAX_FIELDS} names", field="scrub_fields"
        )
    try:
        return list(dict.fromkeys(scrubbing.validate_field(name) for name in names))
    except ValueError as exc:
        raise InvalidArgument(f"scrub_fields: {exc}", field="scrub_fields") from None


def _validate_scrub_patterns(patterns: list[str]) -> list[str]:
    if len(patterns) > scrubbing.MAX_PATTERNS:
        raise InvalidArgument(
            f"scrub_patterns holds at most {scrubbing.MAX_PATTERNS} patterns",
            field="scrub_patterns",
        )
    for index, pattern in enumerate(patterns):
        try:
            scrubbing.translate(pattern)
        except ValueError as exc:
            raise InvalidArgument(
                f"scrub_patterns[{index}]: {exc}", field="scrub_patterns"
            ) from None
    return list(dict.fromkeys(patterns))


def _apply_scrubbing(project: Project, change: ScrubbingChange) -> dict[str, object]:
    changes: dict[str, object] = {}
    if change.keep_emails is not None:
        project.scrub_keep_emails = changes["scrub_keep_emails"] = change.keep_emails
    if change.fields is not None:
        project.scrub_fields = changes["scrub_fields"] = _validate_scrub_fields(change.fields)
    if change.patterns is not None:
        project.scrub_patterns = changes["scrub_patterns"] = _validate_scrub_patterns(
            change.patterns
        )
    return changes


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
            # 214 random bits: two keys drawing the same one is not a case to handle.
            public_key=keyformat.generate_public(),
        ),
    )
    await _audit(session, caller, "ingest_key.create", project_id, f"ingest_key:{key.id}")
    return NewKey(key, secret)


async def create_project(
    session: AsyncSession,
    caller: Caller,
    *,
    name: str,
    repo: str,
    retention_days: int,
    caps: Caps = DEFAULT_CAPS,
) -> tuple[Project, NewKey]:
    name = _validate_name(name)
    repo = normalise_repo(repo)
    retention_days = _validate_retention(retention_days or DEFAULT_RETENTION_DAYS)
    if await repository.account_deleted(session, caller.user_id):
        raise Unauthenticated("this account no longer exists")
    if await repository.count_projects(session, caller.user_id) >= caps.projects_per_user:
        raise Conflict(
            f"you have {caps.projects_per_user} projects, the most one account may have;"
            " delete one first",
            field="repo",
        )
    if await repository.find_by_repo(session, caller.user_id, repo) is not None:
        raise Conflict(f"you already have a project for {repo}", field="repo")
    try:
        project = await repository.add_project(
            session,
            Project(owner_id=caller.user_id, name=name, repo=repo, retention_days=retention_days),
        )
    except IntegrityError as exc:
        broken = violation(exc)
        if broken.is_("foreign_key", "fk_projects_owner_id_users"):
            # The account was deleted while its access token still lives.
            raise Unauthenticated("this account no longer exists") from None
        if not broken.is_("unique", "uq_projects_owner_id_repo"):
            raise
        # A concurrent create for the same repository won the race.
        raise Conflict(f"you already have a project for {repo}", field="repo") from None
    await _audit(
        session,
        caller,
        "project.create",
        project.id,
        f"project:{project.id}",
        details={"name": name, "repo": repo},
    )
    return project, await _new_key(session, caller, project.id)


def dsn_key(keys: Sequence[IngestKey]) -> IngestKey | None:
    """The key a project's DSN names: its newest that works and is not being replaced.

    A key made later is the one its owner means to hand out now, and rotating the key moves
    the DSN to its successor; one in its grace period or revoked is never the project's DSN.
    """
    current = [k for k in keys if k.revoked_at is None]
    return max(current, key=lambda k: (k.created_at, k.id), default=None)


async def list_projects(
    session: AsyncSession, caller: Caller
) -> tuple[Sequence[Project], dict[uuid.UUID, str]]:
    """The caller's projects, and the public key of each one's DSN (absent when it has none)."""
    projects = await repository.list_projects(session, caller.user_id)
    keys = await repository.unrevoked_keys(session, [p.id for p in projects])
    by_project: dict[uuid.UUID, list[IngestKey]] = {}
    for key in keys:
        by_project.setdefault(key.project_id, []).append(key)
    dsn_keys = {project_id: dsn_key(rows) for project_id, rows in by_project.items()}
    return projects, {pid: key.public_key for pid, key in dsn_keys.items() if key is not None}


async def project_dsn_public_key(session: AsyncSession, project_id: uuid.UUID) -> str:
    key = dsn_key(await repository.unrevoked_keys(session, [project_id]))
    return key.public_key if key is not None else ""


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
    scrubbing: ScrubbingChange = ScrubbingChange(),
) -> Project:
    project = await _owned(session, caller, project_id, for_update=True)
    changes: dict[str, object] = {}
    if name is not None:
        project.name = changes["name"] = _validate_name(name)
    if retention_days is not None:
        project.retention_days = changes["retention_days"] = _validate_retention(retention_days)
    changes.update(_apply_scrubbing(project, scrubbing))
    if changes:
        await session.flush()
        await _audit(
            session, caller, "project.update", project.id, f"project:{project.id}", details=changes
        )
    return project


async def delete_project(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID, *, now: datetime
) -> list[uuid.UUID]:
    """Mark the project deleted: gone from every API and its keys refused from this commit on.
    Its rows are purged behind the call in batches (purge.py, and IngestService's own); the ids
    of its keys are returned for the gateway to drop from its cache."""
    project = await _owned(session, caller, project_id, for_update=True)
    await repository.mark_deleted(session, project.id, now)
    await _audit(
        session,
        caller,
        "project.delete",
        project.id,
        f"project:{project.id}",
        details={"name": project.name, "repo": project.repo},
    )
    return [key.id for key in await repository.list_keys(session, project.id)]


async def create_ingest_key(
    session: AsyncSession,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    now: datetime,
    caps: Caps = DEFAULT_CAPS,
) -> NewKey:
    # Locked, so that concurrent creates cannot pass the cap together.
    project = await _owned(session, caller, project_id, for_update=True)
    if await repository.count_live_keys(session, project.id, now) >= caps.keys_per_project:
        raise Conflict(
            f"this project has {caps.keys_per_project} ingest keys that work, the most it may"
            " have; revoke one first",
            field="project_id",
        )
    return await _new_key(session, caller, project.id)


async def revoke_ingest_key(
    session: AsyncSession,
    caller: Caller,
    project_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    now: datetime,
) -> IngestKey:
    project = await _owned(session, caller, project_id)
    key = await repository.get_key(session, project.id, key_id)
    if key is None:
        raise NotFound("no such ingest key")
    # A key in its rotation grace period is revoked for good, now.
    if key.revoked_at is None or key.revoked_at > now:
        await repository.set_key_expiry(session, key.id, now)
        await session.refresh(key)
        await _audit(session, caller, "ingest_key.revoke", project.id, f"ingest_key:{key.id}")
    return key


def _repository_folder(source_root: str) -> str | None:
    """A source root as a folder of the repository, or None when it is none.

    Normalised as a path, not as characters: `./.well-known/` is `.well-known/`, `./web/./a`
    is `web/a`, `.` is the root (""). A path that climbs out of the repository at any point
    (`../etc/`, `./../etc/`, `web/../../etc`) or starts at `/` is refused.
    """
    text = source_root.strip()
    if text.startswith("/") or "\\" in text or not is_printable(text):
        return None
    folder = posixpath.normpath(text) if text else "."
    if folder == ".." or folder.startswith("../"):
        return None
    if folder == ".":
        return ""
    return folder + "/" if text.endswith("/") else folder


def _validate_mapping(index: int, stack_root: str, source_root: str) -> tuple[str, str]:
    field = f"mappings[{index}]"
    if not stack_root or len(stack_root) > MAX_ROOT_LENGTH or not is_printable(stack_root):
        raise InvalidArgument(
            f"stack_root must be 1-{MAX_ROOT_LENGTH} printable characters",
            field=f"{field}.stack_root",
        )
    normalised = _repository_folder(source_root)
    if normalised is None or len(source_root) > MAX_ROOT_LENGTH:
        raise InvalidArgument(
            "source_root must be a path inside the repository, like packages/web/src/",
            field=f"{field}.source_root",
        )
    source_root = normalised
    # Roots join as prefixes: a root that names a folder ends with a slash on both sides.
    if source_root and not source_root.endswith("/") and stack_root.endswith("/"):
        source_root += "/"
    if len(source_root) > MAX_ROOT_LENGTH:  # the slash may have made it one too long
        raise InvalidArgument(
            f"source_root must be at most {MAX_ROOT_LENGTH} characters with its final slash",
            field=f"{field}.source_root",
        )
    return stack_root, source_root


async def get_path_mappings(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID
) -> Sequence[PathMapping]:
    project = await _owned(session, caller, project_id)
    return await repository.path_mappings(session, project.id)


async def set_path_mappings(
    session: AsyncSession,
    caller: Caller,
    project_id: uuid.UUID,
    mappings: Sequence[tuple[str, str]],
) -> Sequence[PathMapping]:
    project = await _owned(session, caller, project_id, for_update=True)
    if len(mappings) > MAX_PATH_MAPPINGS:
        raise InvalidArgument(f"at most {MAX_PATH_MAPPINGS} mappings", field="mappings")
    valid = [_validate_mapping(i, stack, source) for i, (stack, source) in enumerate(mappings)]
    roots = [stack for stack, _ in valid]
    if len(set(roots)) != len(roots):
        raise InvalidArgument("each stack_root may appear once", field="mappings")
    await repository.replace_path_mappings(session, project.id, valid)
    await _audit(
        session,
        caller,
        "project.path_mappings",
        project.id,
        f"project:{project.id}",
        details={"mappings": [{"stack_root": a, "source_root": b} for a, b in valid]},
    )
    return await repository.path_mappings(session, project.id)


async def set_release_commit(
    session: AsyncSession,
    caller: Caller,
    project_id: uuid.UUID,
    version: str,
    commit_sha: str,
    *,
    now: datetime,
) -> Release:
    project = await _owned(session, caller, project_id, for_update=True)
    if not version or len(version) > MAX_RELEASE_LENGTH or not is_printable(version):
        raise InvalidArgument(
            f"version must be 1-{MAX_RELEASE_LENGTH} printable characters", field="version"
        )
    # What the ingest event's commit_sha accepts: a commit, abbreviated or whole.
    sha = github.normalise_sha(commit_sha)
    if sha is None:
        raise InvalidArgument("commit_sha must be 7 to 40 hexadecimal digits", field="commit_sha")
    commit_sha = sha
    # The project's row is locked (for_update): two calls for one release cannot both insert.
    release = await repository.get_release(session, project.id, version)
    if release is None:
        release = await repository.add_release(
            session,
            Release(
                project_id=project.id,
                version=version,
                commit_sha=commit_sha,
                created_at=now,
                updated_at=now,
            ),
        )
    else:
        release.commit_sha = commit_sha
        release.updated_at = now
        await session.flush()
    await _audit(
        session,
        caller,
        "release.set_commit",
        project.id,
        f"project:{project.id}",
        details={"version": version, "commit_sha": commit_sha},
    )
    return release


async def list_releases(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID
) -> Sequence[Release]:
    project = await _owned(session, caller, project_id)
    return await repository.recent_releases(session, project.id, MAX_RELEASES_LISTED)


@dataclass(frozen=True)
class Rotated:
    new: NewKey
    old: IngestKey


async def rotate_ingest_key(
    session: AsyncSession,
    caller: Caller,
    project_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    grace: timedelta,
    now: datetime,
) -> Rotated:
    project = await _owned(session, caller, project_id, for_update=True)
    if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        raise InvalidArgument("grace_seconds must be at most 7 days", field="grace_seconds")
    old = await repository.get_key(session, project.id, key_id)
    if old is None:
        raise NotFound("no such ingest key")
    if old.revoked_at is not None and old.revoked_at <= now:
        raise Conflict("this key is revoked already; create a new one instead", field="key_id")
    # A key in its grace period was replaced already: rotating it again would mint a second
    # replacement and could stretch its life. Its successor is the key to rotate.
    if old.revoked_at is not None:
        raise Conflict(
            "this key is being replaced already and stops at "
            f"{old.revoked_at.isoformat()}; rotate its replacement, or revoke it to stop it now",
            field="key_id",
        )
    new = await _new_key(session, caller, project.id)
    await repository.set_key_expiry(session, old.id, now + grace)
    await session.refresh(old)
    await _audit(
        session,
        caller,
        "ingest_key.rotate",
        project.id,
        f"ingest_key:{old.id}",
        details={
            "new_key_id": str(new.key.id),
            "old_key_stops_at": old.revoked_at.isoformat() if old.revoked_at else None,
        },
    )
    return Rotated(new, old)


async def audit_log(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID, *, page_size: int, cursor: str
) -> tuple[Sequence[AuditEntry], str]:
    project = await _owned(session, caller, project_id)
    if not 0 <= page_size <= MAX_AUDIT_PAGE:
        raise InvalidArgument(
            f"page_size must be between 1 and {MAX_AUDIT_PAGE}", field="page_size"
        )
    limit = page_size or DEFAULT_AUDIT_PAGE
    rows = await repository.audit_entries(
        session, project.id, before=cursors.decode(cursor) if cursor else None, limit=limit + 1
    )
    last = rows[limit - 1] if len(rows) > limit else None
    return rows[:limit], cursors.encode(last.occurred_at, last.id) if last else ""


async def _audit(
    session: AsyncSession,
    caller: Caller,
    action: str,
    project_id: uuid.UUID,
    target: str,
    *,
    details: dict[str, object] | None = None,
) -> None:
    """Records what the caller did, in the transaction of the change."""
    entry = AuditEntry(
        action=action,
        actor_user_id=caller.user_id,
        source_ip=caller.source_ip,
        project_id=project_id,
        target=target,
        details=details or {},
    )
    await repository.add_audit_entry(session, entry)
