"""IncidentsService rules: a user reads and changes only the incidents of projects they own.

Takes a session; never commits. Another user's incident is "not found".
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from services.incidents import repository
from stackline_contract import github
from stackline_contract.frames import FrameJSON
from stackline_infra import cursors
from stackline_infra.db.schema import INCIDENT_STATUSES, AuditEntry, Event, IncidentCommit
from stackline_infra.db.types import utcnow
from stackline_infra.errors import InvalidArgument, NotFound
from stackline_infra.identity import Caller

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


# Commits listed with one incident, most recently seen first.
MAX_COMMITS = 20


@dataclass(frozen=True)
class FrameLinks:
    """Permalinks of one stored frame ("" where there is none)."""

    frame: str
    # Where the code the frame runs was made, for a frame of code made at run time.
    origin: str = ""


class IncidentFields(Protocol):
    """What a view shows of an incident: an Incident, or a row of the list's columns
    (repository.LISTED_COLUMNS)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def project_id(self) -> uuid.UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def exception_type(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def last_commit_sha(self) -> str | None: ...
    @property
    def last_environment(self) -> str | None: ...
    @property
    def count(self) -> int: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def last_seen(self) -> datetime: ...
    @property
    def culprit_file(self) -> str | None: ...
    @property
    def culprit_line(self) -> int | None: ...
    @property
    def culprit_column(self) -> int | None: ...
    @property
    def culprit_function(self) -> str | None: ...
    @property
    def regressed_at(self) -> datetime | None: ...
    @property
    def regression_commit_sha(self) -> str | None: ...


@dataclass(frozen=True)
class IncidentView:
    incident: IncidentFields
    repo: str
    github_url: str
    environments: Sequence[str] = ()
    latest_event: Event | None = None
    # Per frame of latest_event, and per frame of each of its causes.
    frame_links: Sequence[FrameLinks] = ()
    cause_links: Sequence[Sequence[FrameLinks]] = ()
    commits: Sequence[IncidentCommit] = ()


@dataclass(frozen=True)
class Page:
    incidents: Sequence[IncidentView]
    next_cursor: str
    # Changes whenever the page would (see page_version).
    version: str
    # The version was one the caller named: incidents and next_cursor are left empty.
    not_modified: bool = False


def permalink(
    web_url: str, repo: str, commit_sha: str | None, file: str | None, line: int | None
) -> str:
    """`<web>/<repo>/blob/<sha>/<path>#L<line>`, or "" unless commit, file and line are known."""
    if not (commit_sha and file and line):
        return ""
    return f"{web_url.rstrip('/')}/{repo}/blob/{commit_sha}/{quote(file, safe='/')}#L{line}"


def frame_links(
    web_url: str, repo: str, commit_sha: str | None, frames: Sequence[FrameJSON]
) -> list[FrameLinks]:
    links = []
    for frame in frames:
        origin = frame.get("eval_origin")
        links.append(
            FrameLinks(
                permalink(web_url, repo, commit_sha, frame["file"], frame["line"])
                if frame["in_app"]
                else "",
                permalink(web_url, repo, commit_sha, origin["file"], origin["line"])
                if origin is not None
                else "",
            )
        )
    return links


def github_url(web_url: str, repo: str, incident: IncidentFields) -> str:
    """Permalink to the culprit line at the commit where the incident was last seen."""
    return permalink(
        web_url, repo, incident.last_commit_sha, incident.culprit_file, incident.culprit_line
    )


def page_version(
    project_id: uuid.UUID,
    repo: str,
    incidents_version: int,
    *,
    status: str | None,
    limit: int,
    cursor: str,
    github_web_url: str,
) -> str:
    """Everything a page of the list is made of, hashed: the project (so no two callers'
    versions collide), its repository's spelling and its incident-list version (raised by the
    database at every change to its incidents), and the request's paging and links."""
    material = "\n".join(
        (
            str(project_id),
            repo,
            str(incidents_version),
            status or "",
            str(limit),
            cursor,
            github_web_url,
        )
    )
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


async def list_incidents(
    session: repository.Reader,
    caller: Caller,
    *,
    repo: str,
    status: str | None,
    page_size: int,
    cursor: str,
    github_web_url: str,
    known_versions: Sequence[str] = (),
) -> Page:
    """A page of the caller's incidents for a repository, or only its version when that is
    one of `known_versions` (a poll of an unchanged list reads one row).

    Runs single statements, each in its own snapshot: `session` may be a read engine's
    connection (stackline_infra.db.engine.read)."""
    if github.normalise_repo(repo) != repo:
        raise InvalidArgument(f"repo must be {github.REPO_RULE}", field="repo")
    if status is not None and status not in INCIDENT_STATUSES:
        raise InvalidArgument(
            f"status must be one of {', '.join(INCIDENT_STATUSES)}", field="status"
        )
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}", field="page_size")
    after = cursors.decode(cursor) if cursor else None

    project = await repository.owned_project_for_repo(session, caller.user_id, repo)
    if project is None:
        # The editor tells "this repository has no Stackline project" from "no incidents".
        raise NotFound(f"none of your projects is mapped to {repo}", field="repo")
    project_id, project_repo, incidents_version = project
    limit = page_size or DEFAULT_PAGE_SIZE
    # The version is read before the list, each in its own snapshot: a change committed in
    # between shows in the page but not the version, so the caller's next poll sees a new
    # version and reads the page again; read the other way round, it would keep a stale page.
    version = page_version(
        project_id,
        project_repo,
        incidents_version,
        status=status,
        limit=limit,
        cursor=cursor,
        github_web_url=github_web_url,
    )
    if version in known_versions or "*" in known_versions:
        return Page((), "", version, not_modified=True)
    rows, environments = await repository.list_incidents(
        session, project_id, status=status, after=after, limit=limit + 1
    )
    # Rows of the listed columns, read by attribute like an Incident.
    page = cast(Sequence[IncidentFields], rows[:limit])
    views = [
        IncidentView(i, project_repo, github_url(github_web_url, project_repo, i), seen_in)
        for i, seen_in in zip(page, environments, strict=False)
    ]
    next_cursor = (
        cursors.encode(rows[limit - 1].last_seen, rows[limit - 1].id) if len(rows) > limit else ""
    )
    return Page(views, next_cursor, version)


async def get_incident(
    session: AsyncSession, caller: Caller, incident_id: uuid.UUID, *, github_web_url: str
) -> IncidentView:
    row = await repository.get_owned_incident(session, caller.user_id, incident_id)
    if row is None:
        raise NotFound("no such incident")
    incident, repo = row
    latest = await repository.latest_event(session, incident.id)
    links: list[FrameLinks] = []
    cause_links: list[list[FrameLinks]] = []
    if latest is not None:
        commit = latest.commit_sha
        links = frame_links(github_web_url, repo, commit, latest.frames)
        cause_links = [
            frame_links(github_web_url, repo, commit, cause.get("frames", []))
            for cause in latest.causes
        ]
    commits = await repository.commits_of(session, incident.id, limit=MAX_COMMITS)
    return IncidentView(
        incident,
        repo,
        github_url(github_web_url, repo, incident),
        environments=sorted({c.environment for c in commits if c.environment}),
        latest_event=latest,
        frame_links=links,
        cause_links=cause_links,
        commits=commits,
    )


async def set_status(
    session: AsyncSession,
    caller: Caller,
    incident_id: uuid.UUID,
    status: str,
    *,
    github_web_url: str,
) -> IncidentView:
    if status not in INCIDENT_STATUSES:
        raise InvalidArgument(
            f"status must be one of {', '.join(INCIDENT_STATUSES)}", field="status"
        )
    row = await repository.get_owned_incident(session, caller.user_id, incident_id, for_update=True)
    if row is None:
        raise NotFound("no such incident")
    incident, repo = row
    previous = incident.status
    if status != previous:
        incident.status = status
        incident.resolved_at = utcnow() if status == "resolved" else None
        await session.flush()
        await repository.add_audit_entry(
            session,
            AuditEntry(
                action="incident.status",
                actor_user_id=caller.user_id,
                source_ip=caller.source_ip,
                project_id=incident.project_id,
                target=f"incident:{incident.id}",
                details={"from": previous, "to": status},
            ),
        )
    return IncidentView(incident, repo, github_url(github_web_url, repo, incident))
