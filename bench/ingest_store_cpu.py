"""CPU per event of IngestService's batch path, in one process, against PostgreSQL.

Run from the repository root, against a database `make run` has migrated:

    .venv/bin/python -m bench.ingest_store_cpu --database-url postgresql://postgres@127.0.0.1/stackline_bench

What `IngestEvents` does with a batch, without the gRPC hop: parse, place, group, scrub, then
the transaction that stores the batch (`services/ingest/batches.py`). The events are
bench/ingest_load.py's (Node, 20 frames from 40 bugs, fresh ids: 3.0-3.6 KB), for a project
made here. Two figures per batch size: this process's CPU per event, and the CPU per event of
the PostgreSQL backend serving it (read from /proc; this process holds one connection). Each is
the best of a few rounds: other work on a shared machine only ever slows a round down, so the
best round is the least disturbed, and the figure moves far less with the machine's load than
events/s through the whole stack do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from datetime import UTC, datetime

from google.protobuf import json_format
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stackline.ingest.v1 import ingest_pb2

from bench.ingest_load import cpu_seconds, make_event
from bench.parser_bench import cpu_model
from services.ingest.batches import BatchIngestor
from stackline_infra.db.engine import create_engine, create_sessionmaker
from stackline_infra.db.schema import Project, User


def _events(project_id: str, count: int, rng: random.Random) -> list[ingest_pb2.Event]:
    return [
        json_format.ParseDict({**make_event(rng), "project_id": project_id}, ingest_pb2.Event())
        for _ in range(count)
    ]


async def _project(sessions: async_sessionmaker[AsyncSession]) -> str:
    """A fresh project, and its owner, to store the events under."""
    login = f"cpu-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        user = User(provider="local", provider_user_id=login, login=login, name=login)
        session.add(user)
        await session.flush()
        project = Project(owner_id=user.id, name="cpu", repo=f"bench/{login}", retention_days=90)
        session.add(project)
        await session.flush()
        return str(project.id)


def _fresh_copy(event: ingest_pb2.Event) -> ingest_pb2.Event:
    copy = ingest_pb2.Event()
    copy.CopyFrom(event)
    copy.event_id = str(uuid.uuid4())
    return copy


async def _run(args: argparse.Namespace) -> None:
    # One connection: the backend serving it is the one whose CPU is read.
    engine = create_engine(args.database_url, pool_size=1, pre_ping=False)
    sessions = create_sessionmaker(engine)
    project_id = await _project(sessions)
    ingestor = BatchIngestor(sessions)
    async with engine.connect() as conn:
        backend = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    rng = random.Random(7)
    print(f"{cpu_model()}, {os.cpu_count()} cores; best of {args.rounds} rounds")
    print("| events per batch | IngestService CPU per event | PostgreSQL backend CPU per event |")
    print("|---:|---:|---:|")
    for size in args.batch:
        batches = [_events(project_id, size, rng) for _ in range(args.events // size)]
        # The first batch of a size warms the caches (frames, mappings, the statements).
        await ingestor.ingest(_events(project_id, size, rng), datetime.now(UTC))
        best_own = best_db = float("inf")
        for _ in range(args.rounds):
            # Fresh event ids every round, or the rounds after the first store nothing.
            round_batches = [[_fresh_copy(event) for event in batch] for batch in batches]
            own, db = time.process_time(), cpu_seconds(backend)
            for batch in round_batches:
                await ingestor.ingest(batch, datetime.now(UTC))
            count = sum(len(b) for b in round_batches)
            best_own = min(best_own, (time.process_time() - own) / count)
            best_db = min(best_db, (cpu_seconds(backend) - db) / count)
        print(f"| {size} | {best_own * 1e6:.0f} µs | {best_db * 1e6:.0f} µs |")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=2000, help="events per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 100])
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
