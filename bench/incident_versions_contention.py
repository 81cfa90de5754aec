"""What the incident-list version costs writers: committed incident updates per second on
PostgreSQL with migration 0007's triggers on and off, alternating.

The worst case for one version row per project: every transaction updates incidents of the
same project (each its own incident, so nothing else serialises them), so every commit raises
the same row. `--projects-per-transaction` > 1 spreads each transaction over several projects
(as an ingest batch from many projects does), each in a random order.

Builds a fresh database (`--database`, dropped first and after) by the migrations; no services.

    .venv/bin/python bench/incident_versions_contention.py --connections 16 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

import psycopg
from alembic import command

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stackline_infra.db.migrate import alembic_config  # noqa: E402

_FILL = """
INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
    VALUES (gen_random_uuid(), 'local', 'contention', 'contention', now(), now());
INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
    SELECT gen_random_uuid(), (SELECT id FROM users), 'Bench', 'bench-org/p' || n, 90, now(),
        now()
    FROM generate_series(1, %(projects)s) AS n;
INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
        exception_type, message, first_seen, last_seen, count, created_at)
    SELECT gen_random_uuid(), p.id, md5(p.id::text || n), 1, 'open', 't', 'TypeError', 'm',
        now(), now(), 0, now()
    FROM projects p CROSS JOIN generate_series(1, %(incidents)s) AS n;
"""


async def _writer(
    url: str, incidents: list[list[str]], per_transaction: int, stop: float, done: list[int]
) -> None:
    async with await psycopg.AsyncConnection.connect(url) as connection:
        while time.monotonic() < stop:
            # One incident of each of `per_transaction` projects, updated in incident id order as
            # ingest does (so that incident locks cannot deadlock), which is a random project
            # order.
            chosen = sorted(
                random.choice(incidents[project])
                for project in random.sample(range(len(incidents)), per_transaction)
            )
            async with connection.transaction():
                for incident_id in chosen:
                    await connection.execute(
                        "UPDATE incidents SET count = count + 1, last_seen = now() WHERE id = %s",
                        (incident_id,),
                    )
            done[0] += 1


async def _round(url: str, args: argparse.Namespace, incidents: list[list[str]]) -> float:
    done = [0]
    start = time.monotonic()
    stop = start + args.seconds
    await asyncio.gather(
        *(
            _writer(url, incidents, args.projects_per_transaction, stop, done)
            for _ in range(args.connections)
        )
    )
    return done[0] / (time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("STACKLINE_ADMIN_URL", "postgresql://postgres@127.0.0.1/postgres"),
    )
    parser.add_argument("--database", default="stackline_bench_contention")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--projects-per-transaction", type=int, default=1)
    parser.add_argument("--incidents-per-project", type=int, default=1_000)
    args = parser.parse_args()

    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    url = args.admin_url.rsplit("/", 1)[0] + f"/{args.database}"
    try:
        command.upgrade(alembic_config(url), "head")
        projects = max(args.projects_per_transaction, 1)
        with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as db:
            with db.transaction():
                db.execute(_FILL, {"projects": projects, "incidents": args.incidents_per_project})
            db.execute("VACUUM ANALYZE")
            incidents: dict[str, list[str]] = {}
            for incident_id, project_id in db.execute("SELECT id, project_id FROM incidents"):
                incidents.setdefault(str(project_id), []).append(str(incident_id))
            print(
                f"{os.cpu_count()} cores, {args.connections} connections, {args.seconds:.0f} s"
                f" per round, {args.projects_per_transaction} project(s) per transaction, one"
                " incident update each"
            )
            for n in range(args.rounds):
                for mode in ("ENABLE", "DISABLE"):
                    db.execute(f"ALTER TABLE incidents {mode} TRIGGER USER")
                    rate = asyncio.run(_round(url, args, list(incidents.values())))
                    state = "on " if mode == "ENABLE" else "off"
                    print(f"  round {n + 1}, triggers {state}: {rate:,.0f} transactions/s")
    finally:
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
