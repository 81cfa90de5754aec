"""IngestService's memory under large source-map uploads: four at once by a user who does not
own the project, then four at once by one owner, then one each by four owners at once; then one
each by four owners of maps over the parse budget (text that is not ASCII, and 3.9 million
values: within each limit, over the budget together), and one map of 1 MB whose sourceRoot,
put before each of its 2,000 sources, would make 2 GB of names.

Starts tools/run_local.py on free ports (SQLite in a temporary folder), and reads the ingest
process's resident memory and its peak (VmRSS, VmHWM in /proc) after each round.

    .venv/bin/python -m bench.upload_memory --mib 48
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.ingest_load import children
from bench.restart_outage import ROOT, _free_base
from services.ingest.sourcemaps import parse_cost

COMMIT = "b0" * 20


def _memory(pid: int) -> str:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return f"RSS {fields['VmRSS'].strip()}, peak {fields['VmHWM'].strip()}"


def _source_map(mib: int) -> bytes:
    """A map whose bulk is its sources' text, as a real bundle's map's is."""
    line = b"export function handler(request) { return request.body; }\\n"
    lines = mib * 1024 * 1024 // len(line)
    return (
        b'{"version": 3, "sources": ["src/app.js"], "names": [], "mappings": "'
        + b"AACA;" * min(lines, 100_000)
        + b'", "sourcesContent": ["'
        + line * lines
        + b'"]}'
    )


def _over_budget_map(mib: int) -> bytes:
    """A map of mib MiB (at least 40) whose parse_cost() is over the default budget."""
    commas = "é," * 3_900_000
    rest = (mib * 1024 * 1024 - len(commas.encode())) // 2 - 100
    return (
        '{"version": 3, "sources": ["src/app.js"], "names": [], "mappings": "AAAA", '
        '"sourcesContent": ["' + commas + "é" * rest + '"]}'
    ).encode()


async def _round(url: str, uploads: list[tuple[str, str]], body: bytes) -> list[int]:
    """(path, token) per upload, all at once; their statuses."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:

        async def one(i: int, path: str, token: str) -> int:
            response = await client.post(
                path,
                params={"bundle": f"app-{i}.js", "commit_sha": COMMIT},
                content=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            return response.status_code

        return list(
            await asyncio.gather(*(one(i, path, token) for i, (path, token) in enumerate(uploads)))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mib", type=int, default=48)
    args = parser.parse_args()
    gateway_port, grpc_base = _free_base()
    url = f"http://127.0.0.1:{gateway_port}"
    body = _source_map(args.mib)
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{data}/stackline.db"),
            "STACKLINE_GATEWAY_PORT": str(gateway_port),
            "STACKLINE_GRPC_PORT_BASE": str(grpc_base),
            "STACKLINE_DATA_DIR": data,
            "STACKLINE_LOG_LEVEL": "WARNING",
        }
        launcher = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "run_local.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=url, timeout=10) as client:
                deadline = time.monotonic() + 180
                while True:
                    try:
                        if client.get("/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("the stack did not start")
                    time.sleep(0.2)
                tokens = [
                    client.post("/api/auth/dev-login", json={"login": login}).json()["access_token"]
                    for login in ("stranger", "owner-1", "owner-2", "owner-3", "owner-4")
                ]
                paths = [
                    "/api/projects/{}/sourcemaps".format(
                        client.post(
                            "/api/projects",
                            json={"name": "Maps", "repo": f"octo-org/maps-{i}"},
                            headers={"Authorization": f"Bearer {token}"},
                        ).json()["project"]["id"]
                    )
                    for i, token in enumerate(tokens[1:])
                ]
            ingest = children(launcher.pid)["ingest"]
            print(f"{args.mib} MiB maps; ingest at start: {_memory(ingest)}")
            statuses = asyncio.run(_round(url, [(paths[0], tokens[0])] * 4, body))
            print(f"4 at once by another user: {statuses}; ingest: {_memory(ingest)}")
            statuses = asyncio.run(_round(url, [(paths[0], tokens[1])] * 4, body))
            print(f"4 at once by one owner: {statuses}; ingest: {_memory(ingest)}")
            statuses = asyncio.run(_round(url, list(zip(paths, tokens[1:], strict=True)), body))
            print(f"1 each by 4 owners at once: {statuses}; ingest: {_memory(ingest)}")
            over = _over_budget_map(args.mib)
            print(f"over budget: {len(over):,} bytes, parse_cost {parse_cost(over):,}")
            statuses = asyncio.run(_round(url, list(zip(paths, tokens[1:], strict=True)), over))
            print(f"1 each by 4 owners, over budget: {statuses}; ingest: {_memory(ingest)}")
            # 1 MB, but its sourceRoot before each of 2,000 sources would make 2 GB of names.
            rooted = (
                b'{"version": 3, "names": [], "mappings": "AAAA", "sourceRoot": "'
                + b"r" * 1_000_000
                + b'", "sources": ['
                + b", ".join([b'"a.js"'] * 2_000)
                + b"]}"
            )
            statuses = asyncio.run(_round(url, [(paths[0], tokens[1])], rooted))
            print(f"a 1 MB map with a long sourceRoot: {statuses}; ingest: {_memory(ingest)}")
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
