"""IngestService rules: store a batch of prepared events and upsert their incidents.

Takes a session; never commits. Four statements per batch whatever its size:
find the event ids already stored, upsert the incidents with the new events'
counts, insert the events, count them per commit and environment.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import repository
from services.ingest.events import PreparedEvent
from services.ingest.grouping import GROUPING_VERSION
from stackline_infra.db.types import new_id


@dataclass(frozen=True, slots=True)
class Stored:
    incident_id: uuid.UUID
    # The event id was stored before; this send changed nothing.
    duplicate: bool


# The outcome for an event whose project was deleted: nothing to store it in.
PROJECT_GONE = None


def _incident_row(
    first: PreparedEvent, events: Sequence[PreparedEvent], now: datetime
) -> dict[str, Any]:
    latest = max(events, key=lambda e: e.occurred_at)
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
        "first_seen": min(e.occurred_at for e in events),
        "last_seen": latest.occurred_at,
        "count": len(events),
        "last_commit_sha": latest.commit_sha,
        "last_environment": latest.environment,
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
    session: AsyncSession, events: Sequence[PreparedEvent], now: datetime
) -> list[Stored | None]:
    """Store each event once; one result per input event, in order.

    None for an event whose project no longer exists.
    """
    live_projects = await repository.existing_projects(
        session, list({e.project_id for e in events})
    )
    live = [e for e in events if e.project_id in live_projects]
    stored = iter(await _store_live(session, live, now) if live else [])
    return [next(stored) if e.project_id in live_projects else PROJECT_GONE for e in events]


async def _store_live(
    session: AsyncSession, events: Sequence[PreparedEvent], now: datetime
) -> list[Stored]:
    keys = [(e.project_id, e.event_id) for e in events]
    already = await repository.stored_event_ids(session, list(set(keys)))

    # The first occurrence of each new event id is stored; repeats inside the
    # batch and ids stored before are duplicates.
    fresh: dict[tuple[uuid.UUID, uuid.UUID], PreparedEvent] = {}
    for key, event in zip(keys, events, strict=True):
        if key not in already and key not in fresh:
            fresh[key] = event

    by_incident: dict[tuple[uuid.UUID, str], list[PreparedEvent]] = defaultdict(list)
    for event in fresh.values():
        by_incident[(event.project_id, event.fingerprint)].append(event)
    incident_ids: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    if by_incident:
        incident_ids = await repository.upsert_incidents(
            session,
            [_incident_row(group[0], group, now) for _, group in sorted(by_incident.items())],
        )
        event_incident = {
            key: incident_ids[(e.project_id, e.fingerprint)] for key, e in fresh.items()
        }
        inserted = await repository.insert_events(
            session, [_event_row(e, event_incident[key], now) for key, e in fresh.items()]
        )
        lost = [key for key in fresh if key not in inserted]
        if lost:
            # A concurrent batch stored these ids between our check and our
            # insert: they are duplicates, and the counts we added for them go.
            await repository.uncount(session, Counter(event_incident[key] for key in lost))
            already.update(await repository.stored_event_ids(session, lost))
            for key in lost:
                del fresh[key]
        if fresh:
            await repository.count_commits(session, _commit_rows(fresh, event_incident))
    else:
        event_incident = {}

    results = []
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for key in keys:
        if key in fresh and key not in seen:
            results.append(Stored(event_incident[key], duplicate=False))
        else:
            results.append(Stored(already.get(key) or event_incident[key], duplicate=True))
        seen.add(key)
    return results
