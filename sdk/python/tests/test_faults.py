"""Fault injection over real sockets: a host program must finish normally whatever the ingest
server does, never send from its own thread, and the counters must say what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from stackline_sdk import Stats

from support import (
    Close,
    FaultServer,
    Hang,
    Raw,
    Reply,
    always,
    closed_port_url,
    fault_server,
)

HERE = Path(__file__).parent
HOST = HERE / "hosts" / "capture_and_exit.py"
SRC = HERE.parent / "src"
# A hang guard: the host's work takes milliseconds, and the SDK may hold its exit for its
# shutdown_timeout (1 s in the host); a host still running after this never stops by itself.
HOST_HANG_GUARD_SECONDS = 60


@dataclass
class HostRun:
    returncode: int
    report: dict[str, Any]
    stderr: str

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self.report["stats"])


def run_host(endpoint: str, *args: str) -> HostRun:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("STACKLINE_INGEST_KEY", None)
    proc = subprocess.run(
        [sys.executable, str(HOST), endpoint, *args],
        capture_output=True,
        text=True,
        timeout=HOST_HANG_GUARD_SECONDS,
        env=env,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report; stderr:\n{proc.stderr}"
    return HostRun(proc.returncode, json.loads(lines[-1]), proc.stderr)


def assert_finished_normally(run: HostRun) -> None:
    assert run.returncode == 0, run.stderr
    # Capturing never waited on the network, whatever the server did: the app's thread never
    # sent a request (the worker's did, or nobody when the server was never reached).
    assert run.report["sent_from_the_app_thread"] is False, run.report
    assert set(run.report["sent_from"]) <= {"stackline-worker"}, run.report
    assert "Traceback" not in run.stderr


def test_connection_refused() -> None:
    run = run_host(closed_port_url())
    assert_finished_normally(run)
    assert run.stats == asdict(Stats(dropped=3, dropped_by={"shutdown": 3}))


def test_server_that_never_answers() -> None:
    with fault_server(always(Hang())) as server:
        run = run_host(server.url)
        assert len(server.received) == 1
    assert_finished_normally(run)
    assert run.stats["dropped"] == 3
    assert run.stats["dropped_by"]["shutdown"] == 3


def test_429_with_retry_after() -> None:
    with fault_server(always(Reply(429, {"Retry-After": "30"}))) as server:
        run = run_host(server.url, "--pause")
        # After the 429 nothing more was sent: the next two were dropped at once.
        assert len(server.received) == 1
    assert_finished_normally(run)
    assert run.stats == asdict(Stats(dropped=3, dropped_by={"rate_limited": 3}))


def test_500s_are_retried_three_times_then_counted_failed() -> None:
    with fault_server(always(Reply(500, body=b"oops"))) as server:
        run = run_host(server.url, "--fast-retries")
        attempts = Counter(event["event_id"] for event in server.events())
    assert sorted(attempts.values()) == [4, 4, 4]  # each event: one try and three retries
    assert_finished_normally(run)
    assert run.stats == asdict(Stats(failed=3))


@pytest.mark.parametrize(
    "action",
    [
        Raw(b"SMTP READY\r\n\r\n"),  # not HTTP at all
        Raw(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":'),  # cut in the body
        Raw(b"HTTP/1.1 2"),  # cut in the status line
        Close(),  # closed before any answer
    ],
    ids=["garbage", "closed-mid-body", "closed-mid-status-line", "closed-before-answer"],
)
def test_broken_answers_count_as_network_errors(action: Raw | Close) -> None:
    with fault_server(always(action)) as server:
        run = run_host(server.url)
        assert len(server.received) >= 1
    assert_finished_normally(run)
    # Kept and retried as the table says for network errors, until the exit
    # deadline: then dropped, and counted so.
    assert run.stats == asdict(Stats(dropped=3, dropped_by={"shutdown": 3}))


def test_200_with_a_garbage_body_is_delivered() -> None:
    with fault_server(always(Reply(200, body=b"\x00\xffnot json"))) as server:
        run = run_host(server.url)
        assert len(server.events()) == 3
    assert_finished_normally(run)
    assert run.stats == asdict(Stats(sent=3))


def test_server_recovering_gets_everything() -> None:
    server: FaultServer
    with fault_server(
        lambda request: Reply(503, {"Retry-After": "0"}) if len(server.received) == 1 else Reply()
    ) as server:
        run = run_host(server.url, "--fast-retries")
        # Everything after the one 503 was accepted: each event exactly once.
        accepted = [e for request in server.received[1:] for e in request.events]
    assert sorted(e["exception"]["message"] for e in accepted) == [
        "order 0 failed",
        "order 1 failed",
        "order 2 failed",
    ]
    assert_finished_normally(run)
    assert run.stats["sent"] == 3
