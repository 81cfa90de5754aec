"""Load generator for POST /api/ingest against a running Stackline.

Runs as its own process. Sends single-event requests with realistic 3-5 KB
Node events (20 frames, varied messages, tags, breadcrumbs), each with a
unique event id, over keep-alive HTTP/1.1 connections, then checks through the
API that every acknowledged event was committed (the incidents' counts add up).

  closed loop, sustained throughput:  python bench/ingest_load.py --connections 32 --duration 20
  batches as the SDKs send them:      python bench/ingest_load.py --batch 20
  open loop, latency at a fixed rate: python bench/ingest_load.py --rate 500 --duration 20
  the same events as Sentry envelopes: python bench/ingest_load.py --sentry [--gzip]

With --gateway-pid, the gateway's CPU time over the measured window is read from /proc and
printed per event, the figure the Sentry route is held to beside native ingest. With
--launcher (the pid of `make run`'s tools/run_local.py), every process of the stack is found
under it, and the PostgreSQL backends serving --database beside them: each one's CPU per event
over the measured window and its peak resident memory are printed.

Latency in fixed-rate mode runs from the moment a request was due, so a
stalled server is not hidden by the generator waiting for it.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import re
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import orjson
import uvloop

FUNCTIONS = ["getUser", "loadCart", "applyDiscount", "renderInvoice", "chargeCard", "syncInventory"]
FILES = ["src/api/users.ts", "src/cart/cart.ts", "src/billing/invoice.ts", "src/payments/stripe.ts"]


def _bug_stacks(count: int) -> list[list[str]]:
    """The frames of `count` distinct bugs: an error's stack is the same every time it happens."""
    rng = random.Random(11)
    express = "/var/task/node_modules/express/lib/router/layer.js"
    bugs = []
    for _ in range(count):
        function, file = rng.choice(FUNCTIONS), rng.choice(FILES)
        frames = [
            f"    at {function} (/var/task/{file}:{rng.randint(10, 400)}:{rng.randint(1, 60)})"
        ]
        for depth in range(19):
            if depth % 3 == 0:
                frames.append(f"    at Layer.handle [as handle_request] ({express}:95:{depth})")
            else:
                where = f"/var/task/{rng.choice(FILES)}:{rng.randint(1, 900)}:{rng.randint(1, 80)}"
                frames.append(f"    at async {rng.choice(FUNCTIONS)} ({where})")
        bugs.append(frames)
    return bugs


# A service in trouble: a few dozen bugs, each happening again and again with
# different ids in its message.
BUGS = _bug_stacks(40)


def make_event(rng: random.Random) -> dict[str, object]:
    frames = rng.choice(BUGS)
    message = (
        "Cannot read properties of undefined (reading 'id')"
        f" for user {rng.randint(1, 10**9)} in order {uuid.uuid4()}"
    )
    return {
        "event_id": str(uuid.uuid4()),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "platform": "node",
        "exception": {
            "type": "TypeError",
            "message": message,
            "stack": f"TypeError: {message}\n" + "\n".join(frames),
        },
        "commit_sha": "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "environment": "production",
        "deploy_root": "/var/task",
        "release": "shop-api@2026.11.25",
        "runtime": {"name": "node", "version": "20.11.1"},
        "sdk": {"name": "stackline-js", "version": "0.1.0"},
        "request": {
            "method": "GET",
            "url": f"https://shop.example.com/api/users/{rng.randint(1, 10**6)}",
        },
        "tags": {
            "region": "iad1",
            "route": "/api/users/[id]",
            "plan": rng.choice(["free", "pro", "team"]),
        },
        "breadcrumbs": [
            {
                "timestamp": "2026-11-25T10:00:00.000Z",
                "category": "http",
                "level": "info",
                "message": f"GET https://api.example.com/v1/users/{rng.randint(1, 10**6)} -> 200",
            }
            for _ in range(rng.randint(4, 8))
        ],
    }


_FRAME = re.compile(r"    at (?:(.+) \()?(.+):(\d+):(\d+)\)?$")


def as_sentry_event(event: dict[str, object]) -> dict[str, object]:
    """The same event as @sentry/node sends it: structured frames, oldest first."""
    exception = event["exception"]
    assert isinstance(exception, dict)
    frames = []
    for line in reversed(exception["stack"].split("\n")[1:]):
        found = _FRAME.match(line)
        assert found is not None, line
        function, path, lineno, colno = found.groups()
        frames.append(
            {
                "filename": path,
                "abs_path": path,
                "function": function or "?",
                "lineno": int(lineno),
                "colno": int(colno),
                "in_app": "node_modules" not in path,
            }
        )
    request = event["request"]
    assert isinstance(request, dict)
    crumbs = event["breadcrumbs"]
    assert isinstance(crumbs, list)
    return {
        "event_id": uuid.UUID(str(event["event_id"])).hex,
        "timestamp": time.time(),
        "platform": "node",
        "level": "error",
        "release": "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "environment": event["environment"],
        "sdk": {"name": "sentry.javascript.node", "version": "11.12.0"},
        "contexts": {"runtime": {"name": "node", "version": "v20.11.1"}},
        "request": request,
        "tags": {**dict(event["tags"]), "deploy_root": "/var/task"},  # type: ignore[call-overload]
        "breadcrumbs": {
            "values": [
                {
                    "timestamp": time.time(),
                    "category": c["category"],
                    "level": c["level"],
                    "message": c["message"],
                }
                for c in crumbs
            ]
        },
        "exception": {
            "values": [
                {
                    "type": exception["type"],
                    "value": exception["message"],
                    "mechanism": {"type": "onuncaughtexception", "handled": False},
                    "stacktrace": {"frames": frames},
                }
            ]
        },
    }


def as_envelope(event: dict[str, object]) -> bytes:
    payload = orjson.dumps(as_sentry_event(event))
    header = {"event_id": uuid.UUID(str(event["event_id"])).hex, "sent_at": "2026-12-04T10:00:00Z"}
    item = {"type": "event", "content_type": "application/json", "length": len(payload)}
    return orjson.dumps(header) + b"\n" + orjson.dumps(item) + b"\n" + payload + b"\n"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The five processes the memory target covers: the gateway and the four services (not the
# dashboard, not PostgreSQL, which are printed on their own).
STACK = ("gateway", "auth", "projects", "ingest", "incidents")


def children(parent: int) -> dict[str, int]:
    """The processes `tools/run_local.py` started, by name (services.ingest -> ingest)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue  # ended while being read
        if ppid == parent and b"-m" in argv:
            module = argv[argv.index(b"-m") + 1].decode()
            found[module.rpartition(".")[2]] = int(entry)
    return found


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL's backends connected to one database (their title names it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                title = cmdline.read()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            pids.append(int(entry))
    return pids


def memory_bytes(pid: int) -> tuple[int, int]:
    """Resident (RSS) and proportional (PSS) size of a process.

    RSS counts a shared library's pages in full in every process that maps it; PSS divides
    them among those processes, so PSS adds up across processes and RSS overcounts.
    """
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    return rss, pss


class ProcessWatch:
    """CPU seconds of each process over a window, and the peak RSS seen while it ran."""

    def __init__(self, processes: dict[str, list[int]]) -> None:
        self.processes = processes
        self.cpu = {name: 0.0 for name in processes}
        self.peak_rss = {name: 0 for name in processes}
        self.peak_total_rss = 0
        self.peak_total_pss = 0

    def _cpu(self, name: str) -> float:
        total = 0.0
        for pid in self.processes[name]:
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue  # a backend that ended: its share is lost, the window's figure is a floor
        return total

    def _sample_rss(self) -> None:
        total_rss = total_pss = 0
        for name, pids in self.processes.items():
            rss = pss = 0
            for pid in pids:
                try:
                    one_rss, one_pss = memory_bytes(pid)
                except OSError:
                    continue
                rss, pss = rss + one_rss, pss + one_pss
            self.peak_rss[name] = max(self.peak_rss[name], rss)
            if name in STACK:
                total_rss, total_pss = total_rss + rss, total_pss + pss
        self.peak_total_rss = max(self.peak_total_rss, total_rss)
        self.peak_total_pss = max(self.peak_total_pss, total_pss)

    def start(self) -> None:
        self.cpu = {name: -self._cpu(name) for name in self.processes}
        self._sample_rss()

    def stop(self) -> None:
        for name in self.processes:
            self.cpu[name] += self._cpu(name)
        self._sample_rss()

    def report(self, events: int) -> None:
        for name, seconds in self.cpu.items():
            print(
                f"cpu {name:<10}{seconds:7.2f} s, {seconds / events * 1000:.3f} ms per event,"
                f" peak RSS {self.peak_rss[name] / 2**20:.0f} MiB"
            )
        total = sum(self.cpu.values())
        print(f"cpu total     {total:.2f} s, {total / events * 1000:.3f} ms per event")
        print(
            f"peak memory of {', '.join(n for n in self.processes if n in STACK)} together:"
            f" RSS {self.peak_total_rss / 2**20:.0f} MiB, PSS {self.peak_total_pss / 2**20:.0f} MiB"
        )

    async def sample_memory(self) -> None:
        while True:
            self._sample_rss()
            await asyncio.sleep(0.5)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: int = 0


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, payload: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(payload)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


def build_request(host: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST /api/ingest HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def build_sentry_request(host: str, key: str, project: str, body: bytes, gzipped: bool) -> bytes:
    """As sentry-sdk sends it: X-Sentry-Auth, an envelope, gzip when asked."""
    if gzipped:
        body = gzip.compress(body, 6)
    head = (
        f"POST /api/{project}/envelope/ HTTP/1.1\r\nHost: {host}\r\n"
        f"X-Sentry-Auth: Sentry sentry_key={key}, sentry_version=7, sentry_client=bench/1.0\r\n"
        "Content-Type: application/x-sentry-envelope\r\n"
        + ("Content-Encoding: gzip\r\n" if gzipped else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def closed_loop(
    conns: list[Connection], requests: list[bytes], seconds: float, results: Results
) -> float:
    stop = time.perf_counter() + seconds
    next_index = 0

    async def worker(conn: Connection) -> None:
        nonlocal next_index
        while time.perf_counter() < stop and next_index < len(requests):
            payload = requests[next_index]
            next_index += 1
            started = time.perf_counter()
            status = await conn.request(payload)
            results.latencies.append(time.perf_counter() - started)
            results.statuses[status] += 1
            results.acknowledged += status == 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    return time.perf_counter() - started


async def open_loop(
    conns: list[Connection], requests: list[bytes], rate: float, seconds: float, results: Results
) -> float:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in conns:
        idle.put_nowait(conn)
    total = int(rate * seconds)
    begin = time.perf_counter()

    async def one(index: int, due: float) -> None:
        conn = await idle.get()
        try:
            status = await conn.request(requests[index])
        finally:
            idle.put_nowait(conn)
        results.latencies.append(time.perf_counter() - due)
        results.statuses[status] += 1
        results.acknowledged += status == 200

    tasks = []
    for index in range(min(total, len(requests))):
        due = begin + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - begin


def committed_count(client: httpx.Client, token: str, repo: str) -> int:
    total, cursor = 0, None
    while True:
        params = {"repo": repo, "limit": "100", **({"cursor": cursor} if cursor else {})}
        page = client.get(
            "/api/incidents", params=params, headers={"Authorization": f"Bearer {token}"}
        ).json()
        total += sum(int(i["count"]) for i in page["incidents"])
        cursor = page["next_cursor"]
        if not cursor:
            return total


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rate", type=float, help="fixed request rate (open loop); omit for as fast as it goes"
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--batch", type=int, default=1, help='events per request, as {"events": [...]} when over 1'
    )
    parser.add_argument("--sentry", action="store_true", help="send Sentry envelopes instead")
    parser.add_argument("--gzip", action="store_true", help="gzip the envelopes (--sentry)")
    parser.add_argument("--gateway-pid", type=int, help="report the gateway's CPU per event")
    parser.add_argument(
        "--launcher",
        type=int,
        help="pid of tools/run_local.py: report CPU per event and peak RSS of every process",
    )
    parser.add_argument(
        "--database", default="", help="with --launcher: also the PostgreSQL backends of this db"
    )
    return parser.parse_args()


def _requests(args: argparse.Namespace, host: str, key: str, project: str) -> list[bytes]:
    """Every request of the run, built beforehand."""
    rng = random.Random(7)
    budget = int((args.rate or 6000 / args.batch) * (args.duration + args.warmup) * 1.2)
    print(f"preparing {budget} requests of {args.batch} event(s) ...", flush=True)

    def request() -> bytes:
        if args.sentry:
            envelope = as_envelope(make_event(rng))
            return build_sentry_request(host, key, project, envelope, args.gzip)
        if args.batch == 1:
            return build_request(host, key, orjson.dumps(make_event(rng)))
        events = [make_event(rng) for _ in range(args.batch)]
        return build_request(host, key, orjson.dumps({"events": events}))

    requests = [request() for _ in range(budget)]
    sizes = [len(r) for r in requests[:1000]]
    print(f"request size {min(sizes)}-{max(sizes)} bytes, mean {statistics.mean(sizes):.0f}")
    return requests


def _project(client: httpx.Client) -> tuple[str, str, str, str]:
    """A fresh account's token, its new project's repo, ingest key and DSN project id."""
    login = f"bench-{uuid.uuid4().hex[:8]}"
    token = (
        client.post("/api/auth/dev-login", json={"login": login})
        .raise_for_status()
        .json()["access_token"]
    )
    repo = f"bench/{login}"
    created = client.post(
        "/api/projects",
        json={"name": "bench", "repo": repo},
        headers={"Authorization": f"Bearer {token}"},
    )
    key = created.raise_for_status().json()["ingest_key"]
    return token, repo, key, created.json()["dsn"].rpartition("/")[2]


def _watch(args: argparse.Namespace) -> ProcessWatch | None:
    if not args.launcher:
        return None
    processes = {name: [pid] for name, pid in sorted(children(args.launcher).items())}
    if args.database:
        processes["postgres"] = postgres_backends(args.database)
    return ProcessWatch(processes)


def main() -> None:
    args = _arguments()

    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with httpx.Client(base_url=args.url, timeout=30) as client:
        token, repo, key, project = _project(client)

        requests = _requests(args, host, key, project)

        watch = _watch(args)

        async def run() -> tuple[Results, Results, float, float]:
            conns = [Connection(host, port) for _ in range(args.connections)]
            warm = Results()
            # At a fixed rate, warming up as fast as it goes would spend the requests prepared.
            warm_up = requests[: int(args.rate * args.warmup)] if args.rate else requests
            await closed_loop(conns, warm_up, args.warmup, warm)
            rest = requests[sum(warm.statuses.values()) :]
            measured = Results()
            cpu = -cpu_seconds(args.gateway_pid) if args.gateway_pid else 0.0
            if watch is not None:
                # The backends of the database as they are once the pools have warmed up.
                if args.database:
                    watch.processes["postgres"] = postgres_backends(args.database)
                watch.start()
                sampler = asyncio.create_task(watch.sample_memory())
            if args.rate:
                elapsed = await open_loop(conns, rest, args.rate, args.duration, measured)
            else:
                elapsed = await closed_loop(conns, rest, args.duration, measured)
            if args.gateway_pid:
                cpu += cpu_seconds(args.gateway_pid)
            if watch is not None:
                watch.stop()
                sampler.cancel()
            return warm, measured, elapsed, cpu

        warm, results, elapsed, cpu = uvloop.run(run())
        committed = committed_count(client, token, repo)

    acknowledged = (warm.acknowledged + results.acknowledged) * args.batch
    measured_count = len(results.latencies)
    lat = sorted(results.latencies)
    mode = f"fixed rate {args.rate:g}/s" if args.rate else "closed loop"
    p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
    print(
        f"mode          {mode}, {args.connections} connections, {args.batch} event(s) per request"
    )
    rate = measured_count * args.batch / elapsed
    print(f"measured      {measured_count} requests in {elapsed:.1f} s -> {rate:,.0f} events/s")
    print(f"latency       p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1] * 1000:.1f} ms")
    print(f"statuses      {dict(results.statuses + warm.statuses)}")
    if args.gateway_pid:
        per_event = cpu / (measured_count * args.batch) * 1000
        print(f"gateway CPU   {cpu:.2f} s, {per_event:.3f} ms per event")
    if watch is not None:
        watch.report(measured_count * args.batch)
    print(
        f"acknowledged  {acknowledged} events (warm-up included); committed per the API {committed}"
    )
    if committed != acknowledged:
        raise SystemExit("MISMATCH: acknowledged events missing from the store")


if __name__ == "__main__":
    main()
