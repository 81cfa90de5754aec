from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incidents import service
from stackline_infra.db.schema import AuditEntry, Event, Incident, Project
from stackline_infra.db.types import utcnow
from stackline_infra.errors import InvalidArgument, NotFound
from stackline_infra.identity import Caller
from tests.infra.test_cursors import ISSUED_CURSOR, ISSUED_POSITION
from tests.support import factories

WEB = "https://github.com"


async def _incident(
    session: AsyncSession, project: Project, n: int = 0, **fields: object
) -> Incident:
    now = utcnow()
    values: dict[str, object] = {
        "project_id": project.id,
        "fingerprint": uuid.uuid4().hex,
        "grouping_version": 1,
        "status": "open",
        "title": f"TypeError in src/a{n}.ts:{n + 1}",
        "exception_type": "TypeError",
        "message": "boom",
        "culprit_file": f"src/a{n}.ts",
        "culprit_line": n + 1,
        "culprit_column": 3,
        "culprit_function": "f",
        "first_seen": now - timedelta(hours=1),
        "last_seen": now - timedelta(seconds=n),
        "count": 1,
        "last_commit_sha": "c" * 40,
        "last_environment": "production",
    }
    values.update(fields)
    incident = Incident(**values)
    session.add(incident)
    await session.flush()
    return incident


async def _owned_project(session: AsyncSession, repo: str = "Octo/Shop") -> tuple[Caller, Project]:
    caller = await factories.caller(session)
    return caller, await factories.project(session, caller.user_id, repo=repo)


async def test_list_by_repo_whatever_the_case_newest_first(session: AsyncSession) -> None:
    caller, project = await _owned_project(session)
    old = await _incident(session, project, n=50)
    new = await _incident(session, project, n=1)
    page = await service.list_incidents(
        session, caller, repo="octo/shop", status=None, page_size=0, cursor="", github_web_url=WEB
    )
    assert [v.incident.id for v in page.incidents] == [new.id, old.id]
    assert page.incidents[0].repo == "Octo/Shop"
    assert page.incidents[0].github_url == f"{WEB}/Octo/Shop/blob/{'c' * 40}/src/a1.ts#L2"
    assert page.next_cursor == ""


async def test_status_filter(session: AsyncSession) -> None:
    caller, project = await _owned_project(session)
    await _incident(session, project, n=1, status="resolved")
    open_one = await _incident(session, project, n=2)
    page = await service.list_incidents(
        session,
        caller,
        repo=project.repo,
        status="open",
        page_size=10,
        cursor="",
        github_web_url=WEB,
    )
    assert [v.incident.id for v in page.incidents] == [open_one.id]


async def test_cursor_pages_through_everything_once(session: AsyncSession) -> None:
    caller, project = await _owned_project(session)
    same_time = utcnow()
    created = {
        (
            await _incident(
                session,
                project,
                n=n,
                last_seen=same_time if n % 3 == 0 else utcnow() - timedelta(seconds=n),
            )
        ).id
        for n in range(45)
    }
    seen: list[uuid.UUID] = []
    cursor = ""
    pages = 0
    while True:
        page = await service.list_incidents(
            session,
            caller,
            repo=project.repo,
            status=None,
            page_size=10,
            cursor=cursor,
            github_web_url=WEB,
        )
        seen.extend(v.incident.id for v in page.incidents)
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert len(seen) == len(set(seen)) == 45
    assert set(seen) == created


async def test_a_cursor_issued_by_an_earlier_release_pages_on(session: AsyncSession) -> None:
    at, cursor_id = ISSUED_POSITION
    caller, project = await _owned_project(session)
    newer = await _incident(session, project, n=1, last_seen=at + timedelta(seconds=1))
    await _incident(session, project, n=2, last_seen=at, id=cursor_id)  # the row it points at
    same_time = await _incident(
        session, project, n=3, last_seen=at, id=uuid.UUID(int=cursor_id.int - 1)
    )
    older = await _incident(session, project, n=4, last_seen=at - timedelta(seconds=1))
    page = await service.list_incidents(
        session,
        caller,
        repo=project.repo,
        status=None,
        page_size=10,
        cursor=ISSUED_CURSOR,
        github_web_url=WEB,
    )
    # The rows after it, newest first, as on the day it was issued.
    assert [v.incident.id for v in page.incidents] == [same_time.id, older.id]
    assert newer.id not in {v.incident.id for v in page.incidents}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"repo": "not a repo"}, "repo"),
        ({"status": "closed"}, "status"),
        ({"page_size": 101}, "page_size"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "WyJ4IiwgInkiXQ"}, "cursor"),
    ],
)
async def test_bad_list_arguments_name_the_field(
    session: AsyncSession, kwargs: dict[str, object], field: str
) -> None:
    caller, project = await _owned_project(session)
    arguments: dict[str, object] = {
        "repo": project.repo,
        "status": None,
        "page_size": 10,
        "cursor": "",
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidArgument) as refused:
        await service.list_incidents(session, caller, github_web_url=WEB, **arguments)  # type: ignore[arg-type]
    assert refused.value.field == field


async def test_other_users_incidents_do_not_exist(session: AsyncSession) -> None:
    _, project = await _owned_project(session)
    incident = await _incident(session, project)
    stranger = await factories.caller(session)
    with pytest.raises(NotFound):
        await service.list_incidents(
            session,
            stranger,
            repo=project.repo,
            status=None,
            page_size=10,
            cursor="",
            github_web_url=WEB,
        )
    with pytest.raises(NotFound):
        await service.get_incident(session, stranger, incident.id, github_web_url=WEB)
    with pytest.raises(NotFound):
        await service.set_status(session, stranger, incident.id, "resolved", github_web_url=WEB)
    assert (await session.get(Incident, incident.id)).status == "open"  # type: ignore[union-attr]


async def test_get_returns_the_latest_event(session: AsyncSession) -> None:
    caller, project = await _owned_project(session)
    incident = await _incident(session, project)
    for minutes, commit in ((5, "1" * 40), (1, "2" * 40)):
        session.add(
            Event(
                project_id=project.id,
                incident_id=incident.id,
                event_id=uuid.uuid4(),
                occurred_at=utcnow() - timedelta(minutes=minutes),
                received_at=utcnow(),
                platform="node",
                commit_sha=commit,
                exception_type="TypeError",
                message="boom",
                raw_stack="",
                frames=[],
                context={},
            )
        )
    await session.flush()
    view = await service.get_incident(session, caller, incident.id, github_web_url=WEB)
    assert view.latest_event is not None and view.latest_event.commit_sha == "2" * 40


async def test_status_changes_are_audited(session: AsyncSession) -> None:
    caller, project = await _owned_project(session)
    incident = await _incident(session, project)
    view = await service.set_status(session, caller, incident.id, "resolved", github_web_url=WEB)
    assert isinstance(view.incident, Incident)
    assert view.incident.status == "resolved" and view.incident.resolved_at is not None
    view = await service.set_status(session, caller, incident.id, "ignored", github_web_url=WEB)
    assert isinstance(view.incident, Incident) and view.incident.resolved_at is None
    with pytest.raises(InvalidArgument):
        await service.set_status(session, caller, incident.id, "deleted", github_web_url=WEB)
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target == f"incident:{incident.id}")
            .order_by(AuditEntry.occurred_at)
        )
    ).all()
    assert [e.details for e in entries] == [
        {"from": "open", "to": "resolved"},
        {"from": "resolved", "to": "ignored"},
    ]
    assert entries[0].source_ip == caller.source_ip


def test_permalinks_quote_paths_and_need_a_commit() -> None:
    incident = Incident(last_commit_sha="c" * 40, culprit_file="src/my app/été.ts", culprit_line=7)
    assert (
        service.github_url(WEB + "/", "o/r", incident)
        == f"{WEB}/o/r/blob/{'c' * 40}/src/my%20app/%C3%A9t%C3%A9.ts#L7"
    )
    assert (
        service.github_url(
            WEB, "o/r", Incident(last_commit_sha=None, culprit_file="a.ts", culprit_line=1)
        )
        == ""
    )
