"""Real web apps under real servers: concurrent requests keep their own tags and breadcrumbs.

Flask under werkzeug's threaded server and under gunicorn (gthread), FastAPI
under uvicorn, each a process of its own reporting to a real socket. Every
request logs, logs again from a thread it starts, and waits until all the
others are inside their handlers before failing, so that their work
interleaves. Each error must carry only its own request's data, none of the
access-log lines written between requests, and no e-mail address from a query.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import (
    HANG_GUARD_SECONDS,
    KEY,
    FaultServer,
    Reply,
    always,
    closed_port_url,
    fault_server,
)

HOSTS = Path(__file__).parent / "hosts"
SRC = Path(__file__).parent.parent / "src"
USERS = [f"user{i}" for i in range(8)]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=HANG_GUARD_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def _served(command: list[str], base: str, ingest: FaultServer) -> Iterator[None]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "STACKLINE_INGEST_KEY": KEY,
        "STACKLINE_ENDPOINT": ingest.url,
        "SHOP_CONCURRENCY": str(len(USERS)),
    }
    proc = subprocess.Popen(
        command, cwd=HOSTS, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while True:  # up when it answers; the server prints no line all three share
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if _get(f"{base}/ok") == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server never came up"
                time.sleep(0.05)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _servers(port: int) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "flask-werkzeug-threaded": [py, "shop_flask.py", str(port)],
        "flask-gunicorn-gthread": [
            py, "-m", "gunicorn", "-k", "gthread", "--threads", str(len(USERS) + 4),
            "-b", f"127.0.0.1:{port}", "--access-logfile", "-", "shop_flask:app",
        ],
        "fastapi-uvicorn": [
            py, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "shop_fastapi:app",
        ],
    }  # fmt: skip


@pytest.mark.parametrize("server", list(_servers(0)))
def test_concurrent_requests_keep_their_own_breadcrumbs_and_tags(server: str) -> None:
    base = closed_port_url()
    command = _servers(int(base.rsplit(":", 1)[1]))[server]
    with fault_server(always(Reply())) as ingest, _served(command, base, ingest):
        # Requests that succeed first: their access-log lines, e-mails in the query, are
        # written between requests, where they belong to no request.
        for i in range(5):
            assert _get(f"{base}/ok?email=early{i}@example.com") == 200
        with ThreadPoolExecutor(len(USERS)) as pool:
            statuses = list(
                pool.map(lambda u: _get(f"{base}/charge/{u}?email={u}@example.com"), USERS)
            )
        assert statuses == [500] * len(USERS)
        # wait_until holds the server's lock: count without events(), which takes it too.
        assert ingest.wait_until(lambda: sum(len(r.events) for r in ingest.received) >= len(USERS))
        events = ingest.events()
        bodies = b"".join(r.body for r in ingest.received)

    assert len(events) == len(USERS)
    assert b"example.com" not in bodies, "an e-mail address from a query string was sent"
    seen = set()
    for event in events:
        user = re.fullmatch(r"charge failed for (user\d)", event["exception"]["message"])
        assert user, event["exception"]
        who = user[1]
        seen.add(who)
        assert event["tags"]["user_id"] == who
        assert event["request"]["url"].endswith(f"/charge/{who}?email=[Filtered]")
        crumbs = [c["message"] for c in event["breadcrumbs"]]
        assert f"charging {who}" in crumbs, crumbs
        assert f"receipt thread for {who}" in crumbs, "the thread the request started"
        others = {m for c in crumbs for m in re.findall(r"user\d|early\d", c)} - {who}
        assert not others, f"{who}'s event carries data of {others}: {json.dumps(crumbs)}"
        assert not [c for c in crumbs if "/ok" in c], "an access-log line between requests"
    assert seen == set(USERS)
