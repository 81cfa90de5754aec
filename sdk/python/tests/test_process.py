"""Whole-process behaviour: fork safety, and bounded memory under a flood of errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from stackline_sdk import Stats

from support import Reply, always, fault_server

HERE = Path(__file__).parent
SRC = HERE.parent / "src"


def run_host(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a host to its end; `timeout` is a hang guard, far beyond what the host takes."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, str(HERE / "hosts" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_while_a_request_is_in_flight() -> None:
    with fault_server(always(Reply(delay=0.3))) as server:
        proc = run_host("fork.py", server.url, timeout=60)
        events = server.events()
    assert proc.returncode == 0, proc.stderr
    reports = {r["role"]: r["stats"] for r in json_lines(proc.stdout)}
    # Each event arrived once: the child did not resend what the parent had queued.
    assert Counter(e["event_id"] for e in events).most_common(1)[0][1] == 1
    assert sorted(e["message"] for e in events) == [
        "child",
        "parent after fork",
        "parent before fork",
        "parent queued at fork",
    ]
    assert reports["child"] == asdict(Stats(sent=1))
    assert reports["parent"] == asdict(Stats(sent=3))


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc for memory")
def test_ten_thousand_errors_a_second_for_ten_seconds_keep_memory_bounded() -> None:
    with fault_server(always(Reply())) as server:
        proc = run_host("flood.py", server.url, "--rate", "10000", "--seconds", "10", timeout=120)
        assert server.received
    assert proc.returncode == 0, proc.stderr
    [report] = json_lines(proc.stdout)
    assert report["raised"] == 100_000
    assert report["max_queued"] == 100  # full, and never more
    rss = report["rss"]
    # After the first second (imports, first batches, allocator warm-up) memory
    # stays flat; an unbounded queue would grow by hundreds of megabytes.
    assert max(rss[1:]) - rss[1] < 4 * 1024 * 1024, rss
    stats = report["stats"]
    assert stats["sent"] + stats["failed"] + stats["dropped"] == 100_000
    assert stats["queued"] == 0
    assert stats["sent"] > 1000
    # The queue was overrun: events were dropped, and counted.
    assert stats["dropped"] > 10_000
    assert stats["dropped_by"]["queue_full"] == stats["dropped"]
