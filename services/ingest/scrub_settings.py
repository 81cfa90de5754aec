"""Each project's scrubbing settings, read from the database at most every few seconds.

A change made through the API (PATCH /api/projects/{id}) reaches new events within
TTL_SECONDS; events already stored keep what they were scrubbed of.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from services.ingest.periodic import PeriodicRead
from services.ingest.scrubbing import DEFAULT_RULES, ScrubRules
from stackline_contract.scrubbing import compile_patterns
from stackline_infra.clock import MonotonicClock

TTL_SECONDS = 10.0


async def _rules(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ScrubRules]:
    found = await repository.scrub_settings(session, project_ids)
    return {
        project_id: ScrubRules(
            keep_emails=keep_emails,
            secret_fields=frozenset(fields),
            patterns=compile_patterns(patterns),
        )
        for project_id, (keep_emails, fields, patterns) in found.items()
    }


def scrub_rules_cache(
    sessions: async_sessionmaker[AsyncSession], *, clock: MonotonicClock = time.monotonic
) -> PeriodicRead[uuid.UUID, ScrubRules]:
    """Each project's rules; the defaults for a project that is not there."""
    return PeriodicRead(sessions, _rules, DEFAULT_RULES, period=TTL_SECONDS, clock=clock)
