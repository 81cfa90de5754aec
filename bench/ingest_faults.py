"""Ingest under faults: no acknowledged event lost, none stored twice.

Starts a PostgreSQL cluster of its own (initdb and pg_ctl from /usr/lib/postgresql/*/bin, in a
temporary folder, on a free port: the machine's shared PostgreSQL is never touched), runs
`make run`'s tools/run_local.py against it on free ports, and sends single events with unique
ids on several connections for the whole run. Meanwhile it injects faults at random moments:
SIGKILL of the gateway, SIGKILL of IngestService (the launcher starts each again), and
PostgreSQL stopped with `pg_ctl stop -m immediate` (no shutdown checkpoint: a crash as far as
the database is concerned) then started again. A refused or unanswered event is sent again with
the same id, as the SDKs do.

At the end it reads the database itself: every event id the API acknowledged with a 200 must be
stored, and no event id may be stored twice. While PostgreSQL is down, every answer must be a
503 carrying Retry-After (no hang, no 500); after PostgreSQL is back, the time to the first
acknowledged event is printed per outage.

    .venv/bin/python bench/ingest_faults.py                 # 20 faults, 8 connections
    .venv/bin/python bench/ingest_faults.py --faults 6 --seed 3
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import pwd
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_load import children, make_event  # noqa: E402

# A request that takes longer than this is a hang: the script counts it and moves on.
HANG_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_base() -> tuple[int, int]:
    """A gateway port and a base of four free gRPC ports after it."""
    for base in range(41_000, 49_000, 10):
        ports = [base, *range(base + 1, base + 7)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base, base + 2
    raise RuntimeError("no free ports")


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise SystemExit("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class Cluster:
    """A throwaway PostgreSQL cluster: its own data folder, socket folder and port."""

    def __init__(self, folder: Path) -> None:
        self.bin = _pg_bin()
        self.data = folder / "pgdata"
        self.sockets = folder / "sockets"
        self.sockets.mkdir()
        self.port = _free_port()
        self.log = folder / "postgres.log"
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            os.chown(folder, _uid("postgres"), -1)
            os.chown(self.sockets, _uid("postgres"), -1)
            self.log.touch()
            os.chown(self.log, _uid("postgres"), -1)
        subprocess.run(
            [
                *self._as,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockets}'\nfsync = on\n"
                "synchronous_commit = on\nmax_connections = 100\n"
            )

    def start(self) -> None:
        subprocess.run(
            [
                *self._as,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def crash(self) -> None:
        subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _uid(user: str) -> int:
    return pwd.getpwnam(user).pw_uid


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)
    # While PostgreSQL was down: answers by status, and whether each 503 carried Retry-After.
    while_down: Counter[str] = field(default_factory=Counter)
    hangs: int = 0
    sent: int = 0


class Load:
    def __init__(self, url: str, key: str, connections: int) -> None:
        self.url, self.key, self.connections = url, key, connections
        self.tally = Tally()
        self.database_down = False
        self.stopping = False
        # (sent, answered) monotonic times of every 200, in the order answered.
        self.acks: list[tuple[float, float]] = []
        self._rng = random.Random(5)

    async def sender(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=HANG_SECONDS) as c:
            pending: dict[str, object] | None = None
            while not self.stopping:
                if pending is None:
                    pending = make_event(self._rng)
                event_id = str(pending["event_id"])
                down = self.database_down
                sent = time.monotonic()
                self.tally.sent += 1
                try:
                    response = await c.post("/api/ingest", json=pending, headers=headers)
                except httpx.TimeoutException:
                    self.tally.hangs += 1
                    self.tally.statuses["timeout"] += 1
                    continue
                except httpx.HTTPError as exc:
                    # The gateway was killed: the connection is refused or cut. Sent again.
                    self.tally.statuses[type(exc).__name__] += 1
                    await asyncio.sleep(0.05)
                    continue
                status = response.status_code
                self.tally.statuses[str(status)] += 1
                if down and self.database_down:
                    retry_after = "retry-after" in response.headers
                    self.tally.while_down[f"{status}{' +Retry-After' if retry_after else ''}"] += 1
                if status == 200:
                    assert response.json()["id"] == event_id
                    self.tally.acknowledged.add(event_id)
                    self.acks.append((sent, time.monotonic()))
                    pending = None
                elif status in (429, 503):
                    await asyncio.sleep(
                        0.1
                    )  # a real SDK waits Retry-After; the bench keeps pressing
                else:
                    await asyncio.sleep(0.05)


async def _until_acknowledged_after(load: Load, moment: float, limit: float) -> float | None:
    """Seconds from `moment` to the first 200 of a request sent after it, or None past `limit`.

    Only a request sent after the fault proves the stack serves again: one already in flight
    may have been answered by the process just killed.
    """
    seen = 0
    while True:
        for sent, answered in load.acks[seen:]:
            if sent > moment:
                return answered - moment
        seen = len(load.acks)
        if time.monotonic() - moment > limit:
            return None
        await asyncio.sleep(0.02)


async def run_faults(
    load: Load, launcher: subprocess.Popen[bytes], cluster: Cluster, args: argparse.Namespace
) -> list[tuple[str, float | None]]:
    rng = random.Random(args.seed)
    kinds = ["gateway", "ingest", "postgres"]
    plan = [kinds[i % 3] for i in range(args.faults)]
    rng.shuffle(plan)
    results: list[tuple[str, float | None]] = []
    for kind in plan:
        await asyncio.sleep(rng.uniform(1.0, args.max_gap))
        if kind == "postgres":
            await asyncio.to_thread(cluster.crash)
            load.database_down = True
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            load.database_down = False
            await asyncio.to_thread(cluster.start)
        else:
            os.kill(children(launcher.pid)[kind], signal.SIGKILL)
        back = time.monotonic()
        recovered = await _until_acknowledged_after(load, back, 60.0)
        results.append((kind, recovered))
        print(
            f"  {kind:<8} serving again after "
            + (f"{recovered:.2f} s" if recovered is not None else "NEVER (60 s)"),
            flush=True,
        )
    return results


def _stored(url: str, project_id: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT event_id::text FROM events WHERE project_id = %s", (project_id,)
        ).fetchall()
    return Counter(row[0] for row in rows)


def _incident_total(url: str, project_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(count), 0) FROM incidents WHERE project_id = %s", (project_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faults", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-gap", type=float, default=5.0, help="most seconds between faults")
    args = parser.parse_args()

    gateway_port, grpc_base = _free_base()
    url = f"http://127.0.0.1:{gateway_port}"
    with tempfile.TemporaryDirectory(prefix="stackline-faults-") as folder:
        cluster = Cluster(Path(folder))
        cluster.start()
        launcher = None
        try:
            with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
                conn.execute("CREATE DATABASE stackline")
            database = cluster.url("stackline")
            env = {
                **os.environ,
                "DATABASE_URL": database,
                "STACKLINE_GATEWAY_PORT": str(gateway_port),
                "STACKLINE_DASHBOARD_PORT": str(gateway_port + 1),
                "STACKLINE_GRPC_PORT_BASE": str(grpc_base),
                "STACKLINE_DATA_DIR": folder,
                "STACKLINE_LOG_LEVEL": "WARNING",
                "STACKLINE_INGEST_EVENTS_PER_MINUTE": "0",
                "STACKLINE_INGEST_BURST_PER_SECOND": "0",
                # The faults are deliberate: the launcher must not give up on a service killed
                # several times a minute.
                "STACKLINE_MAX_RESTARTS": "1000",
            }
            launcher = subprocess.Popen(
                [sys.executable, str(ROOT / "tools" / "run_local.py")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(Path(folder) / "stack.log", "wb"),  # noqa: SIM115
            )
            key, project_id = _project(url)
            load = Load(url, key, args.connections)

            async def run() -> list[tuple[str, float | None]]:
                senders = [asyncio.create_task(load.sender()) for _ in range(args.connections)]
                await asyncio.sleep(3)
                results = await run_faults(load, launcher, cluster, args)
                await asyncio.sleep(3)  # the last outage's retries go through
                load.stopping = True
                await asyncio.gather(*senders)
                return results

            print(f"load on {args.connections} connections, {args.faults} faults", flush=True)
            started = time.monotonic()
            results = asyncio.run(run())
            elapsed = time.monotonic() - started
            stored = _stored(database, project_id)
            incident_total = _incident_total(database, project_id)
        finally:
            if launcher is not None:
                launcher.send_signal(signal.SIGINT)
                try:
                    launcher.wait(30)
                except subprocess.TimeoutExpired:
                    launcher.kill()
            cluster.stop()

    return _report(load.tally, results, stored, incident_total, elapsed)


def _report(
    tally: Tally,
    results: list[tuple[str, float | None]],
    stored: Counter[str],
    incident_total: int,
    elapsed: float,
) -> int:
    missing = tally.acknowledged - set(stored)
    twice = [event_id for event_id, n in stored.items() if n > 1]
    recoveries = {
        kind: [r for k, r in results if k == kind] for kind in ("gateway", "ingest", "postgres")
    }
    print(f"run           {elapsed:.0f} s, {tally.sent} requests, statuses {dict(tally.statuses)}")
    for kind, times in recoveries.items():
        shown = ", ".join(f"{t:.2f}" if t is not None else "never" for t in times)
        finite = [t for t in times if t is not None]
        worst = (
            f"max {max(finite):.2f} s, median {statistics.median(finite):.2f} s" if finite else ""
        )
        print(f"{kind:<8} x{len(times)}  serving again after (s): {shown}  {worst}")
    print(f"while PostgreSQL was down: {dict(tally.while_down)}")
    print(f"hung requests (over {HANG_SECONDS:.0f} s): {tally.hangs}")
    print(f"acknowledged  {len(tally.acknowledged)} events; stored {len(stored)} distinct ids")
    print(f"acknowledged but missing: {len(missing)}; stored twice: {len(twice)}")
    print(f"incidents' counts sum to {incident_total} (stored rows {sum(stored.values())})")
    bad_down = [s for s in tally.while_down if s != "503 +Retry-After"]
    failed = (
        missing
        or twice
        or incident_total != sum(stored.values())
        or tally.statuses.get("500")
        or tally.hangs
        or any(r is None for _, r in results)
    )
    if bad_down:
        print(f"note: answers other than 503 + Retry-After while PostgreSQL was down: {bad_down}")
    return 1 if failed else 0


def _project(url: str) -> tuple[str, str]:
    with httpx.Client(base_url=url, timeout=10) as client:
        deadline = time.monotonic() + 120
        while True:
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the stack did not start")
            time.sleep(0.2)
        token = client.post("/api/auth/dev-login", json={"login": "faults"}).json()["access_token"]
        created = client.post(
            "/api/projects",
            json={"name": "Faults", "repo": "octo-org/ingest-faults"},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        body = created.json()
        return body["ingest_key"], body["project"]["id"]


if __name__ == "__main__":
    sys.exit(main())
