"""Fill a database with events past their retention, for measuring ingest while the job runs.

Run from the repository root, against the database a running stack uses:
  DATABASE_URL=postgresql://postgres@127.0.0.1/stackline_bench \
    .venv/bin/python -m bench.retention_fill --events 1000000

Makes one user and one project that keeps 30 days, then inserts the events (3 KB each, 40
incidents) as received 40 days ago, in chunks of 50,000 by `generate_series`, with their
claimed ids. The retention job (`python -m services.ingest.retention`) then has all of them to
remove: with `--partition` their week has a partition of its own, which the job drops whole;
without, they are in the default partition and go by batched deletes. PostgreSQL only.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from stackline_infra.db import partitions

_STACK = "TypeError: x\n" + "    at getUser (/var/task/src/api/users.ts:42:17)\n" * 60

_SETUP = """
    INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
        VALUES (%(user)s, 'local', %(login)s, %(login)s, now(), now());
    INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
        VALUES (%(project)s, %(user)s, 'retention bench', %(repo)s, 30, now(), now());
    INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
            exception_type, message, first_seen, last_seen, count, created_at)
        SELECT gen_random_uuid(), %(project)s, 'bench-' || n, 2, 'open', 'TypeError', 'TypeError',
            'x', now() - interval '40 days', now() - interval '40 days', 0, now()
        FROM generate_series(1, 40) AS n
"""

_EVENTS = """
    WITH new AS (
        INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at,
                platform, exception_type, message, raw_stack, frames, context)
            SELECT gen_random_uuid(), %(project)s, incident_ids[1 + n %% 40], gen_random_uuid(),
                %(at)s, %(at)s + n * interval '1 ms', 'node', 'TypeError', 'x', %(stack)s,
                '[]', '{}'
            FROM generate_series(%(start)s, %(end)s) AS n,
                (SELECT array_agg(id) AS incident_ids FROM incidents
                 WHERE project_id = %(project)s) AS i
            RETURNING project_id, event_id, received_at)
    INSERT INTO event_keys (project_id, event_id, received_at)
        SELECT project_id, event_id, received_at FROM new
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--partition", action="store_true", help="give the events' week a partition first"
    )
    args = parser.parse_args()
    # Monday of the week 40 days ago, so that the events stay inside one week.
    at = partitions.week_of(datetime.now(UTC) - timedelta(days=40))
    url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    ids = {"user": uuid.uuid4(), "project": uuid.uuid4()}
    login = f"retention-{ids['user'].hex[:8]}"
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in filter(str.strip, _SETUP.split(";")):
            connection.execute(statement, {**ids, "login": login, "repo": f"bench/{login}"})
        if args.partition:
            connection.execute(partitions.create_sql(at).encode())
        started = time.monotonic()
        for start in range(0, args.events, 50_000):
            end = min(start + 50_000, args.events) - 1
            connection.execute(
                _EVENTS, {**ids, "stack": _STACK, "start": start, "end": end, "at": at}
            )
        connection.execute("ANALYZE events")
    print(
        f"{args.events} events past retention in project {ids['project']}"
        f" ({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
