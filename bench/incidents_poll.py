"""The editor's poll on a big database: `GET /api/incidents?repo=...` answered 200, and 304 for
a matching If-None-Match, through the real gateway on PostgreSQL.

Builds a fresh database (`--database`, dropped first) by the migrations, starts
tools/run_local.py on it (free ports, rate limits off), signs in and makes the polled project
through the API, then fills the rest in SQL with generate_series (minutes through the API):
`--projects` projects of other accounts, `--incidents` incidents spread evenly over all
projects (the polled one included; a fifth resolved, a fifth ignored), ten events per incident
(1,000,000 by default) with their event keys, and one per-commit count per incident. VACUUM
ANALYZE, the plans of the list and the version lookup (EXPLAIN ANALYZE), then `--requests`
sequential requests per kind over one keep-alive connection, after a warm-up: p50/p95/p99.

    .venv/bin/python bench/incidents_poll.py
    .venv/bin/python bench/incidents_poll.py --admin-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from alembic import command

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_load import children  # noqa: E402
from stackline_infra.db.migrate import alembic_config  # noqa: E402

POLLED_REPO = "bench-org/polled"

_FILL = """
INSERT INTO users (id, provider, provider_user_id, login, created_at, updated_at)
    SELECT gen_random_uuid(), 'local', 'poll-bench-' || n, 'poll-bench-' || n, now(), now()
    FROM generate_series(1, %(others)s) AS n;
INSERT INTO projects (id, owner_id, name, repo, retention_days, created_at, updated_at)
    SELECT gen_random_uuid(), id, 'Bench', 'bench-org/' || login, 90, now(), now()
    FROM users WHERE login LIKE 'poll-bench-%%';
INSERT INTO incidents (id, project_id, fingerprint, grouping_version, status, title,
        exception_type, message, culprit_file, culprit_line, culprit_column, culprit_function,
        first_seen, last_seen, count, last_commit_sha, last_environment, created_at)
    SELECT gen_random_uuid(), p.id, md5(p.id::text || n), 1,
        (ARRAY['open', 'open', 'open', 'resolved', 'ignored'])[1 + n %% 5],
        'TypeError in src/m' || n || '.js:' || n, 'TypeError',
        'Cannot read properties of undefined (reading ''x' || n || ''')',
        'src/m' || n || '.js', n, 7, 'handler' || n,
        now() - interval '30 days', now() - random() * interval '30 days', 10,
        repeat('a', 40), 'production', now()
    FROM projects p CROSS JOIN generate_series(1, %(per_project)s) AS n;
INSERT INTO incident_commits (incident_id, commit_sha, environment, count, first_seen, last_seen)
    SELECT id, last_commit_sha, 'production', 10, first_seen, last_seen FROM incidents;
CREATE TEMPORARY TABLE bench_events AS
    SELECT gen_random_uuid() AS id, i.project_id, i.id AS incident_id,
        gen_random_uuid() AS event_id, i.last_seen - k * interval '1 minute' AS occurred_at,
        i.message, i.culprit_file, i.culprit_line
    FROM incidents i CROSS JOIN generate_series(0, %(events_per_incident)s - 1) AS k;
INSERT INTO event_keys (project_id, event_id, received_at)
    SELECT project_id, event_id, now() FROM bench_events;
INSERT INTO events (id, project_id, incident_id, event_id, occurred_at, received_at, platform,
        commit_sha, environment, exception_type, message, raw_stack, frames, context)
    SELECT id, project_id, incident_id, event_id, occurred_at, now(), 'node', repeat('a', 40),
        'production', 'TypeError', message,
        'TypeError: ' || message || E'\\n    at handler (/var/task/' || culprit_file || ':'
            || culprit_line || ':7)',
        jsonb_build_array(jsonb_build_object('file', culprit_file, 'line', culprit_line,
            'column', 7, 'function', 'handler', 'in_app', true,
            'abs_path', '/var/task/' || culprit_file)),
        '{}'
    FROM bench_events;
"""

# The statements the list and the poll run, as IncidentsService sends them (parameters inlined).
_PLANS = {
    "version lookup (every request)": """
        SELECT projects.id, projects.repo, (SELECT coalesce(CAST(sum(incident_versions.version)
                AS BIGINT), 0) FROM incident_versions
            WHERE incident_versions.project_id = projects.id)
        FROM projects
        WHERE projects.owner_id = %(owner)s AND lower(projects.repo) = lower(%(repo)s)
            AND projects.deleted_at IS NULL""",
    "list, every status": """
        SELECT * FROM incidents WHERE project_id = %(project)s
        ORDER BY last_seen DESC, id DESC LIMIT 51""",
    "list, open": """
        SELECT * FROM incidents WHERE project_id = %(project)s AND status = 'open'
        ORDER BY last_seen DESC, id DESC LIMIT 51""",
}


def _free_ports(start: int) -> tuple[int, int]:
    for base in range(start, start + 9_000, 10):
        ports = [base + 500, base + 501, *range(base, base + 4), *range(base + 100, base + 104)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base + 500, base
    raise RuntimeError("no free ports")


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return f"{os.cpu_count()} cores ({cpu}), {memory_kb // 1024 // 1024} GB, {platform.platform()}"


def _percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms, p99 {cuts[98]:.2f} ms"


def _timed(send: Callable[[], httpx.Response], expected: int, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        response = send()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == expected, (response.status_code, response.text)
    return samples


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the stack did not start")
        time.sleep(0.2)


def _fill(url: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as db:
        with db.transaction():
            db.execute(
                _FILL,
                {
                    "others": args.projects - 1,
                    "per_project": args.incidents // args.projects,
                    "events_per_incident": args.events_per_incident,
                },
            )
        db.execute("VACUUM ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s")


def _describe(url: str, owner_id: str, project_id: str) -> None:
    """The database's size and the plans of the statements a poll sends."""
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in ("projects", "incidents", "events", "event_keys")
        }
        print(f"database: {counts}")
        # The stack answering is this run's own, on this database, not another run's.
        assert db.execute(
            "SELECT 1 FROM projects WHERE id = %s AND owner_id = %s", (project_id, owner_id)
        ).fetchall(), "the gateway on these ports serves another database"
        for name, sql in _PLANS.items():
            plan = db.execute(
                "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) " + sql,
                {"owner": owner_id, "repo": POLLED_REPO, "project": project_id},
            ).fetchall()
            print(f"\n{name}:\n" + "\n".join(f"  {row[0]}" for row in plan))


def _built(admin: psycopg.Connection[object], url: str, database: str) -> bool:
    """Whether a previous run left its filled database (the polled project and the others)."""
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchall():
        return False
    with psycopg.connect(url) as db:
        try:
            return bool(
                db.execute(
                    "SELECT count(*) > 1 FROM projects WHERE repo LIKE 'bench-org/%'"
                ).fetchall()[0][0]
            )
        except psycopg.errors.UndefinedTable:
            return False


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_per_request(
    send: Callable[[], httpx.Response], expected: int, count: int, pids: dict[str, int]
) -> tuple[list[float], str]:
    """Latencies, and each process's CPU per request over the same requests (whatever else the
    machine runs, a process's own CPU time is its own)."""
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    samples = _timed(send, expected, count)
    spent = ", ".join(
        f"{name} {(_cpu_seconds(pid) - before[name]) * 1000 / count:.2f} ms"
        for name, pid in pids.items()
    )
    return samples, spent


def _measure(
    client: httpx.Client, auth: dict[str, str], args: argparse.Namespace, pids: dict[str, int]
) -> None:
    per_project = args.incidents // args.projects
    kinds = {
        "every status": ({"repo": POLLED_REPO}, min(50, per_project)),
        "open": ({"repo": POLLED_REPO, "status": "open"}, min(50, per_project * 3 // 5)),
    }
    # What each process spends with no request at all (gRPC's pollers, probes), to read the
    # per-request CPU against.
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(5)
    idle = ", ".join(
        f"{name} {(_cpu_seconds(pid) - before[name]) * 1000 / 5:.1f} ms/s"
        for name, pid in pids.items()
    )
    print(f"\n{_machine()}; CPU while idle: {idle}")
    print(f"{args.requests} sequential requests each after 200 warm-up:")
    for name, (params, listed) in kinds.items():

        def full(params: dict[str, str] = params) -> httpx.Response:
            return client.get("/api/incidents", params=params, headers=auth)

        first = full()
        assert len(first.json()["incidents"]) == listed
        etag = first.headers["etag"]

        def unchanged(params: dict[str, str] = params, etag: str = etag) -> httpx.Response:
            return client.get(
                "/api/incidents", params=params, headers={**auth, "If-None-Match": etag}
            )

        for label, send, status in (("200", full, 200), ("304", unchanged, 304)):
            _timed(send, status, 200)
            samples, spent = _cpu_per_request(send, status, args.requests, pids)
            print(f"  {label}, {name}: {_percentiles(samples)}; CPU per request: {spent}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("STACKLINE_ADMIN_URL", "postgresql://postgres@127.0.0.1/postgres"),
    )
    parser.add_argument("--database", default="stackline_bench_poll")
    parser.add_argument("--projects", type=int, default=1_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events-per-incident", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--port-base",
        type=int,
        default=41_000,
        help="look for free ports from here: two runs at once that pick the same ports between "
        "looking and binding would measure each other's stack",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the database a previous run with --keep (or --reuse) built, if it is "
        "there, instead of building it again (minutes); keeps it afterwards",
    )
    args = parser.parse_args()

    url = args.admin_url.rsplit("/", 1)[0] + f"/{args.database}"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        reuse = args.reuse and _built(admin, url, args.database)
        if not reuse:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{args.database}"')
    command.upgrade(alembic_config(url), "head")

    gateway_port, grpc_base = _free_ports(args.port_base)
    data = tempfile.TemporaryDirectory()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STACKLINE_GATEWAY_PORT": str(gateway_port),
        "STACKLINE_DASHBOARD_PORT": str(gateway_port + 1),
        "STACKLINE_GRPC_PORT_BASE": str(grpc_base),
        "STACKLINE_DATA_DIR": data.name,
        "STACKLINE_LOG_LEVEL": "WARNING",
        "STACKLINE_API_REQUESTS_PER_MINUTE": "0",
    }
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "run_local.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{gateway_port}", timeout=30) as client:
            _wait_ready(client)
            signed_in = client.post("/api/auth/dev-login", json={"login": "poll-bench"}).json()
            auth = {"Authorization": f"Bearer {signed_in['access_token']}"}
            if reuse:
                listed = client.get("/api/projects", headers=auth).json()["projects"]
                project_id = next(p["id"] for p in listed if p["repo"] == POLLED_REPO)
            else:
                created = client.post(
                    "/api/projects", json={"name": "Polled", "repo": POLLED_REPO}, headers=auth
                )
                assert created.status_code == 201, created.text
                project_id = created.json()["project"]["id"]
                _fill(url, args)
            _describe(url, signed_in["user"]["id"], project_id)
            found = children(launcher.pid)
            _measure(client, auth, args, {n: found[n] for n in ("gateway", "incidents")})
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(30)
        data.cleanup()
        if not (args.keep or args.reuse):
            with psycopg.connect(args.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
