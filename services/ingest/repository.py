"""All SQL of IngestService: a batch of events stored in a few statements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import FunctionElement, Table, bindparam, case, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from stackline_infra.db.schema import Event, Incident

# Core tables, not the ORM classes: this is the hot path, and bulk statements
# gain nothing from the unit of work.
_events = cast(Table, Event.__table__)
_incidents = cast(Table, Incident.__table__)


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


async def stored_event_ids(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID]:
    """Of these (project id, event id) pairs, those already stored, with their incident."""
    rows = await session.execute(
        select(_events.c.project_id, _events.c.event_id, _events.c.incident_id).where(
            tuple_(_events.c.project_id, _events.c.event_id).in_(keys)
        )
    )
    return {(p, e): i for p, e, i in rows}


def _insert_for(session: AsyncSession) -> Any:
    return sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert


async def upsert_incidents(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
    """Create or bump one incident per (project, fingerprint); returns their ids.

    Rows must come sorted by (project_id, fingerprint): concurrent batches then
    lock incidents in the same order and cannot deadlock. A resolved incident
    that happens again is open again; an ignored one stays ignored.
    """
    old = _incidents.c
    stmt = _insert_for(session)(_incidents).values(list(rows))
    new = stmt.excluded
    newer = new.last_seen >= old.last_seen
    stmt = stmt.on_conflict_do_update(
        index_elements=[old.project_id, old.fingerprint],
        set_={
            "count": old.count + new.count,
            "first_seen": _least(old.first_seen, new.first_seen),
            "last_seen": _greatest(old.last_seen, new.last_seen),
            "last_commit_sha": case((newer, new.last_commit_sha), else_=old.last_commit_sha),
            "last_environment": case((newer, new.last_environment), else_=old.last_environment),
            "status": case((old.status == "resolved", "open"), else_=old.status),
            "resolved_at": case((old.status == "resolved", None), else_=old.resolved_at),
        },
    ).returning(old.project_id, old.fingerprint, old.id)
    result = await session.execute(stmt)
    return {(p, f): i for p, f, i in result}


async def insert_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Insert what is not yet stored; returns the (project id, event id) pairs inserted."""
    stmt = (
        _insert_for(session)(_events)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=[_events.c.project_id, _events.c.event_id])
        .returning(_events.c.project_id, _events.c.event_id)
    )
    result = await session.execute(stmt)
    return {(p, e) for p, e in result}


async def uncount(session: AsyncSession, corrections: dict[uuid.UUID, int]) -> None:
    """Take back counts for events a concurrent batch stored first."""
    await session.execute(
        update(_incidents)
        .where(_incidents.c.id == bindparam("incident_id"))
        .values(count=_incidents.c.count - bindparam("n")),
        [{"incident_id": i, "n": n} for i, n in sorted(corrections.items())],
    )
