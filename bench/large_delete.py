"""Delete a project of a million events while ingest runs: how long the call takes to answer,
and how long until the project's data is gone.

Run from the repository root against a running stack on PostgreSQL (purges on their default
5 s schedule), with the ingest limits off so that the load generator measures throughput:

  DATABASE_URL=postgresql://postgres@127.0.0.1/stackline_bench \\
    STACKLINE_INGEST_EVENTS_PER_MINUTE=0 STACKLINE_INGEST_BURST_PER_SECOND=0 make run
  DATABASE_URL=postgresql://postgres@127.0.0.1/stackline_bench \\
    .venv/bin/python -m bench.large_delete --events 1000000 --ingest-seconds 60

Signs in (local sign-in), creates the project through the API, then writes its events straight
into the database (3 KB each, 40 incidents, received over the last minutes, with their claimed
ids) by `generate_series` in chunks of 50,000, not through the API. With --ingest-seconds it
starts `bench/ingest_load.py` (32 connections, another project) and deletes once the load has
run a few seconds; then it times DELETE /api/projects/{id} and polls the database every 0.2 s
until the project's row (the last thing the purges remove) has gone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
_STACK = "TypeError: x\n" + "    at getUser (/var/task/src/api/users.ts:42:17)\n" * 60

_INCIDENTS = """
    INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
            exception_type, message, first_seen, last_seen, count, created_at)
        SELECT gen_random_uuid(), %(project)s, 'bench-' || n, 2, 'open', 'TypeError', 'TypeError',
            'x', now(), now(), 0, now()
        FROM generate_series(1, 40) AS n
"""

_EVENTS = """
    WITH new AS (
        INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at,
                platform, exception_type, message, raw_stack, frames, context)
            SELECT gen_random_uuid(), %(project)s, incident_ids[1 + n %% 40], gen_random_uuid(),
                now(), now() - n * interval '1 ms', 'node', 'TypeError', 'x', %(stack)s,
                '[]', '{}'
            FROM generate_series(%(start)s, %(end)s) AS n,
                (SELECT array_agg(id) AS incident_ids FROM incidents
                 WHERE project_id = %(project)s) AS i
            RETURNING project_id, event_id, received_at)
    INSERT INTO event_keys (project_id, event_id, received_at)
        SELECT project_id, event_id, received_at FROM new
"""

_LEFT = """
    SELECT (SELECT count(*) FROM projects WHERE id = %(project)s),
           (SELECT count(*) FROM events WHERE project_id = %(project)s)
"""


def _project(api: httpx.Client) -> tuple[str, str]:
    login = f"delete-{uuid.uuid4().hex[:8]}"
    signed = api.post("/api/auth/dev-login", json={"login": login})
    signed.raise_for_status()
    token = signed.json()["access_token"]
    created = api.post(
        "/api/projects",
        json={"name": "large delete", "repo": f"bench/{login}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    created.raise_for_status()
    return token, created.json()["project"]["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--ingest-seconds", type=float, default=0.0)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)

    with (
        httpx.Client(base_url=args.url, timeout=30) as api,
        psycopg.connect(url, autocommit=True) as db,
    ):
        token, project = _project(api)
        started = time.monotonic()
        db.execute(_INCIDENTS, {"project": project})
        for start in range(0, args.events, 50_000):
            end = min(start + 50_000, args.events) - 1
            db.execute(_EVENTS, {"project": project, "stack": _STACK, "start": start, "end": end})
        db.execute("ANALYZE events")
        db.execute("ANALYZE event_keys")
        print(f"filled        {args.events} events in {time.monotonic() - started:.0f} s")

        load = None
        if args.ingest_seconds:
            load = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "ingest_load.py"),
                    "--url",
                    args.url,
                    "--connections",
                    "32",
                    "--duration",
                    str(args.ingest_seconds),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert load.stdout is not None
            # Delete once the load is past its warm-up and measuring.
            for line in load.stdout:
                print("  load:", line.rstrip())
                if line.startswith("request size"):
                    break
            time.sleep(5)

        called = time.monotonic()
        answer = api.delete(
            f"/api/projects/{project}", headers={"Authorization": f"Bearer {token}"}
        )
        answered = time.monotonic() - called
        print(f"DELETE        {answer.status_code} in {answered * 1000:.0f} ms")
        gone = api.get(f"/api/projects/{project}", headers={"Authorization": f"Bearer {token}"})
        print(f"GET after     {gone.status_code}")

        last_report = called
        while True:
            row, events = db.execute(_LEFT, {"project": project}).fetchone() or (0, 0)
            now = time.monotonic()
            if row == 0:
                break
            if now - last_report >= 10:
                print(f"  {now - called:5.0f} s: {events} events left")
                last_report = now
            time.sleep(0.2)
        print(f"data gone     {time.monotonic() - called:.1f} s after the call")

        if load is not None:
            assert load.stdout is not None
            for line in load.stdout:
                print("  load:", line.rstrip())
            load.wait()


if __name__ == "__main__":
    main()
