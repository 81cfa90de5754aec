"""IngestService rules: store a batch of prepared events and upsert their incidents.

Takes a session; never commits. A handful of statements per batch whatever its
size: check the projects and the event ids already stored, find or create the
incidents, insert the events, then count them per commit and environment and
bump the incidents. The counts go last because they lock the hottest rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import repository
from services.ingest.events import PreparedEvent
from services.ingest.grouping import GROUPING_VERSION, VERSIONS
from stackline_infra.db.constraints import violation
from stackline_infra.db.schema import Base, Incident, Project
from stackline_infra.db.types import new_id

INCIDENTS_CREATED = Counter(
    "stackline_ingest_incidents_created_total",
    "Incidents inserted (a batch retried after a deadlock counts its new incidents again).",
)


@dataclass(frozen=True, slots=True)
class Stored:
    incident_id: uuid.UUID
    # The event id was stored before; this send changed nothing.
    duplicate: bool


# The outcome for an event whose project was deleted: nothing to store it in.
PROJECT_GONE = None


def _incident_row(first: PreparedEvent, now: datetime) -> dict[str, Any]:
    """A new incident as its first event describes it; its count comes with the bump."""
    culprit = first.culprit or {}
    return {
        "id": new_id(),
        "project_id": first.project_id,
        "fingerprint": first.fingerprint,
        "grouping_version": GROUPING_VERSION,
        "status": "open",
        "title": first.title,
        "exception_type": first.exception_type,
        "message": first.message,
        "culprit_file": culprit.get("file"),
        "culprit_line": culprit.get("line"),
        "culprit_column": culprit.get("column"),
        "culprit_function": culprit.get("function"),
        "first_seen": first.occurred_at,
        "last_seen": first.occurred_at,
        "count": 0,
        "last_commit_sha": first.commit_sha,
        "last_environment": first.environment,
        "resolved_at": None,
        "regressed_at": None,
        "regression_commit_sha": None,
        "created_at": now,
    }


def _event_row(event: PreparedEvent, incident_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "project_id": event.project_id,
        "incident_id": incident_id,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "received_at": now,
        "platform": event.platform,
        "commit_sha": event.commit_sha,
        "environment": event.environment,
        "release": event.release,
        "exception_type": event.exception_type,
        "message": event.message,
        "raw_stack": event.raw_stack,
        "frames": event.frames,
        "causes": event.causes,
        "context": event.context,
    }


def _commit_rows(
    fresh: dict[tuple[uuid.UUID, uuid.UUID], PreparedEvent],
    event_incident: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID],
) -> list[dict[str, Any]]:
    seen: dict[tuple[uuid.UUID, str, str], list[datetime]] = defaultdict(list)
    for key, event in fresh.items():
        seen[(event_incident[key], event.commit_sha or "", event.environment or "")].append(
            event.occurred_at
        )
    return [
        {
            "incident_id": incident_id,
            "commit_sha": commit_sha,
            "environment": environment,
            "count": len(times),
            "first_seen": min(times),
            "last_seen": max(times),
        }
        for (incident_id, commit_sha, environment), times in sorted(seen.items())
    ]


async def store(
    session: AsyncSession,
    events: Sequence[PreparedEvent],
    now: datetime,
    *,
    check_projects: bool = False,
) -> list[Stored | None]:
    """Store each event once; one result per input event, in order.

    Events of a project deleted while the gateway still trusted its key fail
    the batch on a foreign key. That is rare, so the common path pays nothing
    for it: the caller runs the batch again with check_projects, which leaves
    those events out (None in their place).
    """
    if not check_projects:
        return list(await _store_live(session, events, now))
    live_projects = await repository.existing_projects(
        session, list({e.project_id for e in events})
    )
    live = [e for e in events if e.project_id in live_projects]
    stored = iter(await _store_live(session, live, now) if live else [])
    return [next(stored) if e.project_id in live_projects else PROJECT_GONE for e in events]


# Every foreign key that points at a project: breaking one means the project was deleted
# while its events were in flight.
_PROJECT_KEYS = frozenset(
    str(key.name)
    for table in Base.metadata.tables.values()
    for key in table.foreign_key_constraints
    if key.referred_table.name == Project.__tablename__
)


def is_project_gone(exc: IntegrityError) -> bool:
    """Whether a batch failed because one of its projects no longer exists."""
    broken = violation(exc)
    # SQLite names no constraint; every foreign key ingest writes leads to a project.
    return broken.kind == "foreign_key" and (
        broken.constraint is None or broken.constraint in _PROJECT_KEYS
    )


# The foreign keys that point at an incident: breaking one means the retention job removed an
# incident that had no event left while a batch was adding one to it.
_INCIDENT_KEYS = frozenset(
    str(key.name)
    for table in Base.metadata.tables.values()
    for key in table.foreign_key_constraints
    if key.referred_table.name == Incident.__tablename__
)


def is_incident_gone(exc: IntegrityError) -> bool:
    """Whether a batch failed because an incident it found was removed before it committed.

    Run again, the batch finds no such incident and opens a new one. SQLite names no
    constraint, and needs none: its transactions hold the write lock from their first read.
    """
    broken = violation(exc)
    return broken.kind == "foreign_key" and broken.constraint in _INCIDENT_KEYS


async def _incident_ids(
    session: AsyncSession,
    by_incident: dict[tuple[uuid.UUID, str], list[PreparedEvent]],
    known: dict[tuple[uuid.UUID, str], uuid.UUID],
    now: datetime,
) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
    """The incident of each (project, fingerprint), created (with no count yet) where new."""
    wanted = sorted(by_incident)
    ids = {key: known[key] for key in wanted if key in known}
    missing = [key for key in wanted if key not in ids]
    if missing:
        ids.update(
            await repository.create_incidents(
                session, [_incident_row(by_incident[key][0], now) for key in missing]
            )
        )
        # Created by a concurrent batch between our look and our insert.
        raced = [key for key in missing if key not in ids]
        INCIDENTS_CREATED.inc(len(missing) - len(raced))
        if raced:
            ids.update(await repository.incident_ids(session, raced))
    return ids


def _bumps(
    stored: Sequence[tuple[uuid.UUID, PreparedEvent]],
) -> list[dict[str, Any]]:
    """Per incident, what the batch's stored events add: count, seen times, last commit, and
    the latest event's culprit and title.

    The culprit follows the latest event: its permalink is at the latest commit, where an
    earlier event's line may hold other code after a deploy.
    """
    by_incident: dict[uuid.UUID, list[PreparedEvent]] = defaultdict(list)
    for incident_id, event in stored:
        by_incident[incident_id].append(event)
    bumps = []
    for incident_id, events in sorted(by_incident.items()):
        latest = max(events, key=lambda e: e.occurred_at)
        culprit = latest.culprit or {}
        bumps.append(
            {
                "incident_id": incident_id,
                "n": len(events),
                "first_seen": min(e.occurred_at for e in events),
                "last_seen": latest.occurred_at,
                "last_commit_sha": latest.commit_sha,
                "last_environment": latest.environment,
                "title": latest.title,
                "culprit_file": culprit.get("file"),
                "culprit_line": culprit.get("line"),
                "culprit_column": culprit.get("column"),
                "culprit_function": culprit.get("function"),
            }
        )
    return bumps


def _incident_key(
    event: PreparedEvent, known: dict[tuple[uuid.UUID, str], uuid.UUID]
) -> tuple[uuid.UUID, str]:
    """The incident an event belongs to: the first grouping version, oldest first, whose
    fingerprint names a stored incident; else a new one under the current version.

    An incident made under old rules thereby keeps its events when the rules change, and keeps
    its fingerprint and version; only bugs seen for the first time are grouped by the new ones.
    """
    for version in VERSIONS:
        key = (event.project_id, event.fingerprints[version])
        if key in known:
            return key
    return (event.project_id, event.fingerprint)


async def _store_live(
    session: AsyncSession, events: Sequence[PreparedEvent], now: datetime
) -> list[Stored]:
    keys = [(e.project_id, e.event_id) for e in events]
    fingerprints = sorted({(e.project_id, f) for e in events for f in e.fingerprints.values()})
    # One round trip for both: which event ids are stored, which incidents exist.
    already, known_incidents = await repository.look_up(session, list(set(keys)), fingerprints)

    # The first occurrence of each new event id is stored; repeats inside the
    # batch and ids stored before are duplicates.
    fresh: dict[tuple[uuid.UUID, uuid.UUID], PreparedEvent] = {}
    for key, event in zip(keys, events, strict=True):
        if key not in already and key not in fresh:
            fresh[key] = event

    incident_of = {key: _incident_key(event, known_incidents) for key, event in fresh.items()}
    by_incident: dict[tuple[uuid.UUID, str], list[PreparedEvent]] = defaultdict(list)
    for key, event in fresh.items():
        by_incident[incident_of[key]].append(event)
    event_incident: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
    if by_incident:
        incident_ids = await _incident_ids(session, by_incident, known_incidents, now)
        event_incident = {key: incident_ids[incident_of[key]] for key in fresh}
        inserted = await repository.insert_events(
            session, [_event_row(e, event_incident[key], now) for key, e in fresh.items()]
        )
        # Ids a concurrent batch stored between our check and our insert are
        # that batch's: here they are duplicates, and count nothing.
        lost = [key for key in fresh if key not in inserted]
        if lost:
            already.update(await repository.stored_event_ids(session, lost))
            for key in lost:
                del fresh[key]
        # The hot rows last: every event of a bug bumps the same incident, so
        # its lock is taken just before the commit that releases it, and
        # concurrent batches overlap everything before.
        if fresh:
            await repository.count_and_bump(
                session,
                _commit_rows(fresh, event_incident),
                _bumps([(event_incident[key], e) for key, e in fresh.items()]),
            )

    results = []
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for key in keys:
        if key in fresh and key not in seen:
            results.append(Stored(event_incident[key], duplicate=False))
        else:
            results.append(Stored(already.get(key) or event_incident[key], duplicate=True))
        seen.add(key)
    return results
