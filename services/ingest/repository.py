"""All SQL of IngestService: a batch of events stored in three statements on PostgreSQL,
whatever its size (four when it has a bug never seen before: its incident is created first).

On PostgreSQL each statement takes its whole batch as one JSON document that
jsonb_to_recordset turns back into typed rows, so the SQL text is the same for
every batch: compiled once by SQLAlchemy, converted once by psycopg, one round
trip, and the rows serialised by orjson. The document is read as jsonb, not
json: an event's frames, causes and context are then parsed once, with the
document, where json_to_recordset hands each out as text to be parsed again
into its jsonb column (a tenth to a fifth less of the backend's CPU per
event: bench/README.md). Two roads not taken, both measured
slower than storing the rows: a multi-row VALUES list is new SQL text for
every batch size, and one array parameter per column has psycopg escape every
quote of every stack in Python. SQLite, the one-machine store, takes the rows
as an executemany.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    FunctionElement,
    Table,
    TextualSelect,
    bindparam,
    case,
    delete,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from stackline_infra.db.schema import (
    Event,
    EventKey,
    Incident,
    IncidentCommit,
    PathMapping,
    Project,
    Release,
    SourceMap,
)
from stackline_infra.db.types import json_dumps

# Core tables, not the ORM classes: this is the hot path, and bulk statements
# gain nothing from the unit of work.
_events = cast(Table, Event.__table__)
_incidents = cast(Table, Incident.__table__)
_incident_commits = cast(Table, IncidentCommit.__table__)
_event_keys = cast(Table, EventKey.__table__)
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


class _greatest(FunctionElement[Any]):
    inherit_cache = True
    name = "greatest"


class _least(FunctionElement[Any]):
    inherit_cache = True
    name = "least"


@compiles(_greatest)
@compiles(_least)
def _compile_extreme(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL's GREATEST/LEAST are SQLite's two-argument MAX/MIN.
    if compiler.dialect.name == "sqlite":
        name = "max" if isinstance(element, _greatest) else "min"
    else:
        name = element.name
    return f"{name}({compiler.process(element.clauses, **kw)})"


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@cache
def _from_recordset(
    table: Table, names: tuple[str, ...], finish: Callable[[Insert], Insert]
) -> Insert:
    """`INSERT ... SELECT ... FROM jsonb_to_recordset(:rows) AS r(...)`, typed as the table."""
    columns = ", ".join(names)
    typed = ", ".join(f"{name} {table.c[name].type.compile(dialect=_PG)}" for name in names)
    # Column names and types from the schema, never from input.
    source = text(
        f"SELECT {columns} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({typed})"  # noqa: S608
    ).columns(*(table.c[name] for name in names))
    return finish(postgresql.insert(table).from_select(list(names), source))


async def _insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    finish: Callable[[Insert], Insert],
) -> Any:
    """Run `finish(INSERT INTO table ...)` over the rows, as one JSON document on PostgreSQL."""
    if _is_postgres(session):
        stmt = _from_recordset(table, tuple(rows[0]), finish)
        return await session.execute(stmt, {"rows": json_dumps(rows)})
    return await session.execute(finish(sqlite.insert(table)), list(rows))


async def existing_projects(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these projects exist, held so (FOR KEY SHARE) until the batch commits.

    A project deleted while the gateway still trusted its key must not make the
    whole batch fail on a foreign key; the lock keeps one from being deleted
    between this check and the inserts.
    """
    # A deleted project waiting for its purge is as gone as one whose row has gone.
    query = select(Project.id).where(Project.id.in_(project_ids), Project.deleted_at.is_(None))
    if _is_postgres(session):
        query = query.with_for_update(read=True, key_share=True)
    return set(await session.scalars(query))


async def look_up(
    session: AsyncSession,
    event_keys: Sequence[tuple[uuid.UUID, uuid.UUID]],
    incident_keys: Sequence[tuple[uuid.UUID, str]],
) -> tuple[dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID], dict[tuple[uuid.UUID, str], uuid.UUID]]:
    """In one round trip: which (project, event id) pairs are stored, with their incident,
    and which (project, fingerprint) incidents exist. No lock is taken."""
    if not _is_postgres(session):
        return await stored_event_ids(session, event_keys), await incident_ids(
            session, incident_keys
        )
    rows = await session.execute(
        text(
            "SELECT 'event', e.project_id, e.event_id::text, e.incident_id FROM unnest("
            "CAST(:event_projects AS uuid[]), CAST(:event_ids AS uuid[]))"
            " AS k(project_id, event_id) JOIN events e"
            " ON e.project_id = k.project_id AND e.event_id = k.event_id"
            " UNION ALL"
            " SELECT 'incident', i.project_id, i.fingerprint, i.id FROM unnest("
            "CAST(:incident_projects AS uuid[]), CAST(:fingerprints AS text[]))"
            " AS k(project_id, fingerprint) JOIN incidents i"
            " ON i.project_id = k.project_id AND i.fingerprint = k.fingerprint"
        ),
        {
            "event_projects": [p for p, _ in event_keys],
            "event_ids": [e for _, e in event_keys],
            "incident_projects": [p for p, _ in incident_keys],
            "fingerprints": [f for _, f in incident_keys],
        },
    )
    stored: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
    incidents: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    for kind, project_id, key, row_id in rows:
        if kind == "event":
            stored[(project_id, uuid.UUID(key))] = row_id
        else:
            incidents[(project_id, key)] = row_id
    return stored, incidents


async def stored_event_ids(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID]:
    """Of these (project id, event id) pairs, those already stored, with their incident."""
    if _is_postgres(session):
        rows = await session.execute(
            text(
                "SELECT e.project_id, e.event_id, e.incident_id FROM unnest("
                "CAST(:projects AS uuid[]), CAST(:events AS uuid[])) AS k(project_id, event_id)"
                " JOIN events e ON e.project_id = k.project_id AND e.event_id = k.event_id"
            ),
            {"projects": [p for p, _ in keys], "events": [e for _, e in keys]},
        )
    else:
        rows = await session.execute(
            select(_events.c.project_id, _events.c.event_id, _events.c.incident_id).where(
                tuple_(_events.c.project_id, _events.c.event_id).in_(keys)
            )
        )
    return {(p, e): i for p, e, i in rows}


async def incident_ids(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
    """The incidents that exist for these (project id, fingerprint) pairs; no lock taken."""
    if _is_postgres(session):
        rows = await session.execute(
            text(
                "SELECT i.project_id, i.fingerprint, i.id FROM unnest(CAST(:projects AS uuid[]),"
                " CAST(:fingerprints AS text[])) AS k(project_id, fingerprint) JOIN incidents i"
                " ON i.project_id = k.project_id AND i.fingerprint = k.fingerprint"
            ),
            {"projects": [p for p, _ in keys], "fingerprints": [f for _, f in keys]},
        )
    else:
        c = _incidents.c
        rows = await session.execute(
            select(c.project_id, c.fingerprint, c.id).where(
                tuple_(c.project_id, c.fingerprint).in_(keys)
            )
        )
    return {(p, f): i for p, f, i in rows}


def _create_incident(stmt: Insert) -> Insert:
    c = _incidents.c
    return stmt.on_conflict_do_nothing(  # type: ignore[attr-defined,no-any-return]
        index_elements=[c.project_id, c.fingerprint]
    ).returning(c.project_id, c.fingerprint, c.id)


async def create_incidents(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
    """Create these incidents; one a concurrent batch created first is left out of the answer."""
    result = await _insert_rows(session, _incidents, rows, _create_incident)
    return {(p, f): i for p, f, i in result}


async def bump_incidents(session: AsyncSession, bumps: Sequence[dict[str, Any]]) -> None:
    """Add a batch's events to their incidents: counts, seen times, latest commit, and the
    latest event's title and culprit.

    The rows must come sorted by incident id: concurrent batches then lock incidents in the
    same order and cannot deadlock. On PostgreSQL, one statement for the whole batch (the
    rows as one JSON document, locked first in that order); on SQLite, whose transactions
    hold the write lock anyway, one UPDATE per incident. A resolved incident that happens
    again is open again and notes the regression; an ignored one stays ignored.
    """
    if _is_postgres(session):
        await session.execute(_bump_from_recordset(), {"rows": json_dumps(list(bumps))})
        return
    old = _incidents.c
    # Typed, so that SQLite gets times in the form it stores them in.
    first_seen = bindparam("first_seen", type_=old.first_seen.type)
    last_seen = bindparam("last_seen", type_=old.last_seen.type)
    last_commit_sha = bindparam("last_commit_sha", type_=old.last_commit_sha.type)
    newer = last_seen >= old.last_seen
    came_back = old.status == "resolved"
    await session.execute(
        update(_incidents)
        .where(old.id == bindparam("incident_id"))
        .values(
            count=old.count + bindparam("n"),
            first_seen=_least(old.first_seen, first_seen),
            last_seen=_greatest(old.last_seen, last_seen),
            last_commit_sha=case((newer, last_commit_sha), else_=old.last_commit_sha),
            last_environment=case(
                (newer, bindparam("last_environment")), else_=old.last_environment
            ),
            status=case((came_back, "open"), else_=old.status),
            resolved_at=case((came_back, None), else_=old.resolved_at),
            regressed_at=case((came_back, last_seen), else_=old.regressed_at),
            regression_commit_sha=case(
                (came_back, last_commit_sha), else_=old.regression_commit_sha
            ),
            title=case((newer, bindparam("title")), else_=old.title),
            culprit_file=case((newer, bindparam("culprit_file")), else_=old.culprit_file),
            culprit_line=case(
                (newer, bindparam("culprit_line", type_=old.culprit_line.type)),
                else_=old.culprit_line,
            ),
            culprit_column=case(
                (newer, bindparam("culprit_column", type_=old.culprit_column.type)),
                else_=old.culprit_column,
            ),
            culprit_function=case(
                (newer, bindparam("culprit_function")), else_=old.culprit_function
            ),
        ),
        list(bumps),
    )


_BUMP_COLUMNS = (
    "incident_id",
    "n",
    "first_seen",
    "last_seen",
    "last_commit_sha",
    "last_environment",
    "title",
    "culprit_file",
    "culprit_line",
    "culprit_column",
    "culprit_function",
)


@cache
def _bump_from_recordset() -> Any:
    """PostgreSQL's one UPDATE for a batch's bumps, the same arithmetic as SQLite's per-row one.

    The incidents are locked first, by id in a materialised CTE (a LockRows node above the
    sort takes them in that order), so that two batches bumping the same incidents wait for
    each other in one order whatever join the planner picks for the UPDATE. The lock is the
    one the UPDATE itself takes (NO KEY UPDATE): FOR UPDATE would also wait for the KEY SHARE
    locks that other batches' inserts of events and commit counts hold on the same incidents
    through their foreign keys, and two such batches would deadlock.
    """
    return text(_bump_sql())


def _bump_sql(first: str = "") -> str:
    """The text of _bump_from_recordset; with `first`, a WITH query named `counted` that the
    incidents' lock waits for (_count_and_bump)."""
    c = _incidents.c
    types = {"incident_id": c.id.type, "n": c.count.type}
    typed = ", ".join(
        f"{name} {(types.get(name) or c[name].type).compile(dialect=_PG)}" for name in _BUMP_COLUMNS
    )
    newer = "r.last_seen >= i.last_seen"
    back = "i.status = 'resolved'"
    wait = " AND (SELECT count(*) FROM counted) >= 0" if first else ""
    # Column names and types from the schema, never from input.
    return (
        f"WITH {first} r AS MATERIALIZED"  # noqa: S608
        f" (SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({typed})),"
        " locked AS MATERIALIZED (SELECT id FROM incidents WHERE id IN (SELECT incident_id FROM r)"
        f"{wait} ORDER BY id FOR NO KEY UPDATE)"
        " UPDATE incidents AS i SET"
        " count = i.count + r.n,"
        " first_seen = least(i.first_seen, r.first_seen),"
        " last_seen = greatest(i.last_seen, r.last_seen),"
        f" last_commit_sha = CASE WHEN {newer} THEN r.last_commit_sha ELSE i.last_commit_sha END,"
        f" last_environment = CASE WHEN {newer} THEN r.last_environment"
        " ELSE i.last_environment END,"
        f" status = CASE WHEN {back} THEN 'open' ELSE i.status END,"
        f" resolved_at = CASE WHEN {back} THEN NULL ELSE i.resolved_at END,"
        f" regressed_at = CASE WHEN {back} THEN r.last_seen ELSE i.regressed_at END,"
        f" regression_commit_sha = CASE WHEN {back} THEN r.last_commit_sha"
        " ELSE i.regression_commit_sha END,"
        f" title = CASE WHEN {newer} THEN r.title ELSE i.title END,"
        f" culprit_file = CASE WHEN {newer} THEN r.culprit_file ELSE i.culprit_file END,"
        f" culprit_line = CASE WHEN {newer} THEN r.culprit_line ELSE i.culprit_line END,"
        f" culprit_column = CASE WHEN {newer} THEN r.culprit_column ELSE i.culprit_column END,"
        f" culprit_function = CASE WHEN {newer} THEN r.culprit_function"
        " ELSE i.culprit_function END"
        " FROM r JOIN locked ON locked.id = r.incident_id WHERE i.id = r.incident_id"
    )


async def count_and_bump(
    session: AsyncSession, commits: Sequence[dict[str, Any]], bumps: Sequence[dict[str, Any]]
) -> None:
    """count_commits, then bump_incidents: on PostgreSQL in one statement, one round trip.

    The counts are still taken first: the incidents' lock waits on a one-time filter that reads
    the whole count, so the hottest rows are locked last, in id order, as in two statements.
    """
    if not _is_postgres(session):
        await count_commits(session, commits)
        await bump_incidents(session, bumps)
        return
    await session.execute(
        _count_and_bump(), {"commits": json_dumps(list(commits)), "rows": json_dumps(list(bumps))}
    )


_COMMIT_COLUMNS = ("incident_id", "commit_sha", "environment", "count", "first_seen", "last_seen")


@cache
def _count_and_bump() -> Any:
    """_bump_from_recordset's UPDATE, after an upsert of the commit counts in a WITH clause.

    A data-modifying WITH runs to its end whether read or not, but in no set order; the lock
    of the incidents reads `counted` in a one-time filter, so the counts come first.
    """
    c = _incident_commits.c
    typed = ", ".join(f"{name} {c[name].type.compile(dialect=_PG)}" for name in _COMMIT_COLUMNS)
    columns = ", ".join(_COMMIT_COLUMNS)
    counted = (
        f"counted AS (INSERT INTO incident_commits ({columns})"  # noqa: S608
        f" SELECT {columns} FROM jsonb_to_recordset(CAST(:commits AS jsonb)) AS c({typed})"
        " ON CONFLICT (incident_id, commit_sha, environment) DO UPDATE SET"
        " count = incident_commits.count + excluded.count,"
        " first_seen = least(incident_commits.first_seen, excluded.first_seen),"
        " last_seen = greatest(incident_commits.last_seen, excluded.last_seen)"
        " RETURNING 1),"
    )
    return text(_bump_sql(counted))


@cache
def _claim_and_insert(names: tuple[str, ...]) -> TextualSelect:
    """One statement on PostgreSQL: claim each event id in `event_keys`, then insert the events
    whose id this statement claimed. A retried send, or a concurrent batch's same id, claims
    nothing, and its event is not inserted."""
    columns = ", ".join(names)
    typed = ", ".join(f"{name} {_events.c[name].type.compile(dialect=_PG)}" for name in names)
    # Column names and types from the schema, never from input.
    return text(
        f"WITH r AS (SELECT {columns} FROM jsonb_to_recordset(CAST(:rows AS jsonb))"  # noqa: S608
        f" AS r({typed})),"
        " claimed AS (INSERT INTO event_keys (project_id, event_id, received_at)"
        " SELECT project_id, event_id, received_at FROM r"
        " ON CONFLICT DO NOTHING RETURNING project_id, event_id)"
        f" INSERT INTO events ({columns}) SELECT {columns} FROM r"
        " JOIN claimed USING (project_id, event_id) RETURNING project_id, event_id"
    ).columns(_events.c.project_id, _events.c.event_id)


async def insert_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Insert what is not yet stored; returns the (project id, event id) pairs inserted.

    The id is claimed in `event_keys` first: on PostgreSQL `events` is partitioned by receipt
    time, and can hold no unique key on (project, event id).
    """
    if _is_postgres(session):
        stmt = _claim_and_insert(tuple(rows[0]))
        result = await session.execute(stmt, {"rows": json_dumps(rows)})
        return {(p, e) for p, e in result}
    keys = _event_keys.c
    claimed = await session.execute(
        sqlite.insert(_event_keys)
        .on_conflict_do_nothing(index_elements=[keys.project_id, keys.event_id])
        .returning(keys.project_id, keys.event_id),
        [
            {
                "project_id": r["project_id"],
                "event_id": r["event_id"],
                "received_at": r["received_at"],
            }
            for r in rows
        ],
    )
    inserted = {(p, e) for p, e in claimed}
    if inserted:
        await session.execute(
            sqlite.insert(_events),
            [r for r in rows if (r["project_id"], r["event_id"]) in inserted],
        )
    return inserted


def _upsert_incident_commit(stmt: Insert) -> Insert:
    old = _incident_commits.c
    new = stmt.excluded  # type: ignore[attr-defined]
    return stmt.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=[old.incident_id, old.commit_sha, old.environment],
        set_={
            "count": old.count + new.count,
            "first_seen": _least(old.first_seen, new.first_seen),
            "last_seen": _greatest(old.last_seen, new.last_seen),
        },
    )


async def count_commits(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Add the batch's events to each (incident, commit, environment) they were seen at.

    Rows must come sorted by their key, for the same reason as upsert_incidents.
    """
    await _insert_rows(session, _incident_commits, rows, _upsert_incident_commit)


async def path_mappings(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    rows = await session.execute(
        select(PathMapping.project_id, PathMapping.stack_root, PathMapping.source_root).where(
            PathMapping.project_id.in_(project_ids)
        )
    )
    found: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for project_id, stack_root, source_root in rows:
        found.setdefault(project_id, []).append((stack_root, source_root))
    return found


async def scrub_settings(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[bool, list[str], list[str]]]:
    """Each project's (keep e-mail addresses, extra field names, extra patterns)."""
    rows = await session.execute(
        select(
            Project.id, Project.scrub_keep_emails, Project.scrub_fields, Project.scrub_patterns
        ).where(Project.id.in_(project_ids))
    )
    return {
        project_id: (bool(keep), list(fields), list(patterns))
        for project_id, keep, fields, patterns in rows
    }


async def release_commits(
    session: AsyncSession, wanted: Sequence[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], str]:
    """The recorded commit of each (project, release) that has one."""
    projects = {project_id for project_id, _ in wanted}
    versions = {version for _, version in wanted}
    # Both lists are short (one batch's releases); the pairs are picked from the few rows.
    rows = await session.execute(
        select(Release.project_id, Release.version, Release.commit_sha).where(
            Release.project_id.in_(projects), Release.version.in_(versions)
        )
    )
    return {(project_id, version): commit_sha for project_id, version, commit_sha in rows}


async def owns_project(session: AsyncSession, owner_id: uuid.UUID, project_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Project.id).where(
            Project.id == project_id, Project.owner_id == owner_id, Project.deleted_at.is_(None)
        )
    )
    return found is not None


async def save_source_map(session: AsyncSession, source_map: SourceMap) -> SourceMap:
    """Store a map, replacing one uploaded for the same bundle of the same build."""
    await session.execute(
        delete(SourceMap).where(
            SourceMap.project_id == source_map.project_id,
            SourceMap.version_kind == source_map.version_kind,
            SourceMap.version == source_map.version,
            SourceMap.bundle == source_map.bundle,
        )
    )
    session.add(source_map)
    await session.flush()
    return source_map


# Everything about a map but its (large) data.
_SOURCE_MAP_INFO = (
    SourceMap.id,
    SourceMap.version_kind,
    SourceMap.version,
    SourceMap.bundle,
    SourceMap.size_bytes,
    SourceMap.uploaded_at,
)


async def list_source_maps(
    session: AsyncSession, project_id: uuid.UUID, version_kind: str | None, version: str | None
) -> Sequence[Any]:
    query = select(*_SOURCE_MAP_INFO).where(SourceMap.project_id == project_id)
    if version_kind is not None:
        query = query.where(SourceMap.version_kind == version_kind, SourceMap.version == version)
    return (await session.execute(query.order_by(SourceMap.uploaded_at.desc()))).all()


async def delete_source_map(session: AsyncSession, project_id: uuid.UUID, map_id: uuid.UUID) -> Any:
    """The deleted map's (kind, version), or None when there was no such map."""
    return (
        await session.execute(
            delete(SourceMap)
            .where(SourceMap.id == map_id, SourceMap.project_id == project_id)
            .returning(SourceMap.version_kind, SourceMap.version)
        )
    ).one_or_none()


async def source_map_bundles(
    session: AsyncSession, project_id: uuid.UUID, version_kind: str, version: str
) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(SourceMap.bundle, SourceMap.id).where(
            SourceMap.project_id == project_id,
            SourceMap.version_kind == version_kind,
            SourceMap.version == version,
        )
    )
    return {bundle: map_id for bundle, map_id in rows}


async def source_map_data(
    session: AsyncSession, map_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, bytes]:
    rows = await session.execute(
        select(SourceMap.id, SourceMap.data).where(SourceMap.id.in_(map_ids))
    )
    return {map_id: data for map_id, data in rows}
