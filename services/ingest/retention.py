"""The retention job: what each project no longer keeps is removed, on a schedule or once.

IngestService owns events and incidents, so it runs the job: every
`STACKLINE_RETENTION_INTERVAL_SECONDS` inside the service, or once per call of
`python -m services.ingest.retention` (a Kubernetes CronJob's command, with the in-service
schedule set to 0). A project keeps its events `retention_days` after they were received; an
incident goes when its last event has gone; audit entries are kept a year. Each statement removes
a bounded batch in its own transaction, so ingest waits at most one batch for a lock and a run
cut short (SIGKILL included) is finished by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import retention_repository as repository
from services.ingest.settings import IngestSettings
from stackline_infra.clock import MonotonicClock, WallClock
from stackline_infra.db import partitions
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.db.types import utcnow
from stackline_infra.logs import configure_logging
from stackline_infra.settings import load_settings

log = logging.getLogger(__name__)

AUDIT_RETENTION_DAYS = 365
# Weekly partitions of events made ahead of the current week: the job can miss four weeks of
# runs before an event lands in the default partition.
WEEKS_AHEAD = 4

ROWS_REMOVED = Counter(
    "stackline_ingest_retention_rows_removed_total",
    "Rows the retention job removed, by table.",
    ["table"],
)
RUNS = Counter(
    "stackline_ingest_retention_runs_total",
    "Retention runs, by outcome: success or failure.",
    ["outcome"],
)
RUN_DURATION = Histogram(
    "stackline_ingest_retention_run_duration_seconds",
    "Time one retention run took, from its first statement to its last.",
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
PARTITIONS = Counter(
    "stackline_ingest_retention_partitions_total",
    "Weekly partitions of events the retention job made ahead or dropped whole (PostgreSQL).",
    ["change"],
)
LAST_SUCCESS = Gauge(
    "stackline_ingest_retention_last_success_timestamp_seconds",
    "When the last retention run that finished did so (Unix time).",
)


@dataclass
class RetentionReport:
    """What one run removed, by table."""

    removed: dict[str, int] = field(
        default_factory=lambda: {"events": 0, "incidents": 0, "audit_log": 0}
    )
    # Weeks of events dropped whole (PostgreSQL); their rows are not in `removed`.
    partitions_dropped: int = 0

    def add(self, table: str, rows: int) -> None:
        self.removed[table] += rows
        ROWS_REMOVED.labels(table).inc(rows)


class RetentionJob:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 1000,
        audit_retention_days: int = AUDIT_RETENTION_DAYS,
        clock: WallClock = utcnow,
        monotonic: MonotonicClock = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._batch_size = batch_size
        self._audit_retention = timedelta(days=audit_retention_days)
        # Cutoffs are read from `clock`, so a test moves time instead of waiting for it.
        self._clock = clock
        self._monotonic = monotonic

    async def run(self) -> RetentionReport:
        """One whole pass over every project and the audit log; logs one line and counts it."""
        started = self._monotonic()
        try:
            report = await self._run(self._clock())
        except Exception:
            RUNS.labels("failure").inc()
            log.exception("retention run failed; the next run carries on from where it stopped")
            raise
        elapsed = self._monotonic() - started
        RUNS.labels("success").inc()
        RUN_DURATION.observe(elapsed)
        LAST_SUCCESS.set(time.time())
        removed = report.removed
        log.info(
            "retention run removed %d events, %d incidents, %d audit entries"
            " and %d weekly partitions in %.1f s",
            removed["events"],
            removed["incidents"],
            removed["audit_log"],
            report.partitions_dropped,
            elapsed,
        )
        return report

    async def _partitions(self, now: datetime, report: RetentionReport) -> None:
        """Weeks made ahead, so that ingest always writes into its week's partition; weeks older
        than any project keeps dropped whole, each in its own short transaction."""
        for week in partitions.weeks_between(now, now + WEEKS_AHEAD * partitions.WEEK):
            try:
                async with self._sessions.begin() as session:
                    made = partitions.name_of(week) not in await repository.event_partitions(
                        session
                    )
                    await repository.create_event_partition(session, week)
            except DBAPIError:
                # The default partition holds events of that week (the job did not run for
                # weeks): they stay there, and the batched deletes remove them in time.
                log.warning("cannot make the partition for the week of %s", f"{week:%Y-%m-%d}")
                continue
            if made:
                PARTITIONS.labels("created").inc()
        async with self._sessions() as session:
            longest = await repository.longest_retention_days(session)
            names = await repository.event_partitions(session)
        keep_from = now - timedelta(days=longest)
        for name in names:
            first_day = partitions.week_named(name)
            if first_day is None or first_day + partitions.WEEK > keep_from:
                continue
            try:
                async with self._sessions.begin() as session:
                    await repository.drop_event_partition(session, first_day)
            except DBAPIError:
                log.warning("cannot drop %s now (ingest holds it); the next run will", name)
                continue
            report.partitions_dropped += 1
            PARTITIONS.labels("dropped").inc()

    async def _run(self, now: datetime) -> RetentionReport:
        report = RetentionReport()
        async with self._sessions() as session:
            projects = await repository.project_retentions(session)
            postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            await self._partitions(now, report)
        for project_id, days in projects:
            cutoff = now - timedelta(days=days)
            while True:
                async with self._sessions.begin() as session:
                    removed = await repository.delete_event_keys(
                        session, project_id, cutoff, self._batch_size
                    )
                if removed < self._batch_size:
                    break
            while True:
                async with self._sessions.begin() as session:
                    removed = await repository.delete_events(
                        session, project_id, cutoff, self._batch_size
                    )
                report.add("events", removed)
                if removed:
                    log.debug("retention removed %d events of project %s", removed, project_id)
                if removed < self._batch_size:
                    break
            while True:
                async with self._sessions.begin() as session:
                    removed = await repository.delete_empty_incidents(
                        session, project_id, cutoff, self._batch_size
                    )
                report.add("incidents", removed)
                if removed < self._batch_size:
                    break
        audit_cutoff = now - self._audit_retention
        while True:
            async with self._sessions.begin() as session:
                removed = await repository.delete_audit_entries(
                    session, audit_cutoff, self._batch_size
                )
            report.add("audit_log", removed)
            if removed < self._batch_size:
                break
        return report


async def run_every(job: RetentionJob, interval_seconds: float) -> None:
    """Run the job now and then every interval, until cancelled; a failed run waits for the
    next one (it is logged and counted), so a database outage never stops the schedule."""
    while True:
        # Logged and counted by run(); the schedule goes on.
        with contextlib.suppress(Exception):
            await job.run()
        await asyncio.sleep(interval_seconds)


async def _run_once(settings: IngestSettings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        job = RetentionJob(
            create_sessionmaker(engine),
            batch_size=settings.retention_batch_size,
            audit_retention_days=settings.audit_retention_days,
        )
        await job.run()
    finally:
        await engine.dispose()


def main() -> None:
    """One run, for a Kubernetes CronJob: exits 0 when it finished, 1 when it failed."""
    settings = load_settings(IngestSettings)
    configure_logging("ingest-retention", level=settings.log_level, fmt=settings.log_format)
    try:
        asyncio.run(_run_once(settings))
    except Exception:
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
