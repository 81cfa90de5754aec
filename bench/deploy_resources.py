"""What one replica of each deployable uses under load: the figures behind the requests and
limits in deploy/k8s.

Starts the one-machine stack on PostgreSQL (tools/run_local.py, free ports), runs
bench/ingest_load.py against it, and samples every process's resident memory and CPU from
/proc while it runs: idle, then under single-event load, then under batches. Then the
dashboard's load: --browsers copies of bench/dashboard_pages.py at once, each a user of its
own reading every page --rounds times, and the CPU per page served.

  python bench/deploy_resources.py [--duration 20] [--browsers 4] [--rounds 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import postgres  # noqa: E402
from tests.support.local_stack import LocalStack, child_pids  # noqa: E402

SERVICES = ("gateway", "auth", "projects", "ingest", "incidents", "dashboard")
# What dashboard_pages.py asks for per round: eight pages (its sign-in, project and warm-up
# requests are left out of the count, so the CPU per page is a little high).
PAGES_PER_ROUND = 8
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Sample:
    peak_rss: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0


def _service_of(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for name in SERVICES:
        if f"services.{name}".encode() in cmdline:
            return name
    # python -m dashboard: the package is the whole argument.
    if b"dashboard" in cmdline:
        return "dashboard"
    return None


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def _measure(
    pids: dict[str, int], work: list[subprocess.Popen[str]] | None, seconds: float
) -> Sample:
    sample = Sample()
    start = {name: _cpu(pid) for name, pid in pids.items()}
    began = time.monotonic()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for name, pid in pids.items():
                sample.peak_rss[name] = max(sample.peak_rss.get(name, 0), _rss(pid))
            stop.wait(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    if work is None:
        time.sleep(seconds)
    else:
        for process in work:
            process.wait(timeout=seconds + 120)
    stop.set()
    watcher.join()
    sample.wall = time.monotonic() - began
    sample.cpu_seconds = {name: _cpu(pid) - start[name] for name, pid in pids.items()}
    return sample


def _print(title: str, sample: Sample) -> None:
    print(f"\n{title} ({sample.wall:.0f} s)")
    print(f"  {'deployable':<10} {'peak RSS MiB':>12} {'CPU seconds':>12}")
    for name in SERVICES:
        print(
            f"  {name:<10} {sample.peak_rss[name] / 2**20:>12.0f} {sample.cpu_seconds[name]:>12.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--browsers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    admin = postgres.admin_url()
    name = f"stackline_resources_{os.getpid()}"
    database = postgres.create_database(admin, name)
    stack = None
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            # dashboard_pages.py reads pages faster than the per-user API limit allows.
            stack = LocalStack(
                database, Path(data_dir), env={"STACKLINE_API_REQUESTS_PER_MINUTE": "0"}
            )
            stack.wait_until_running()
            # The dashboard logs each gateway call: an unread pipe would fill and stall it.
            stack.keep_reading()
            pids: dict[str, int] = {}
            for pid in child_pids(stack.process.pid):
                service = _service_of(pid)
                if service is not None:
                    pids[service] = pid
            assert set(pids) == set(SERVICES), pids
            _print("idle", _measure(pids, None, 5))
            for label, extra in (
                ("single events, 32 connections", []),
                ("batches of 20", ["--batch", "20"]),
            ):
                load = subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "ingest_load.py"),
                        "--url",
                        stack.url,
                        "--duration",
                        str(args.duration),
                        *extra,
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                sample = _measure(pids, [load], args.duration + 60)
                out, _ = load.communicate()
                _print(label, sample)
                print(
                    "  load: "
                    + " | ".join(line.strip() for line in out.splitlines() if "events/s" in line)[
                        :300
                    ]
                )
            browsers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "dashboard_pages.py"),
                        "--dashboard",
                        stack.dashboard_url,
                        "--gateway",
                        stack.url,
                        "--rounds",
                        str(args.rounds),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.browsers)
            ]
            sample = _measure(pids, browsers, 600)
            outputs = [browser.communicate()[0] for browser in browsers]
            assert all(b.returncode == 0 for b in browsers), outputs
            pages = args.browsers * args.rounds * PAGES_PER_ROUND
            _print(f"dashboard pages, {args.browsers} browsers at once", sample)
            print(
                f"  {pages} pages, {pages / sample.wall:.0f} pages/s; dashboard CPU "
                f"{sample.cpu_seconds['dashboard'] * 1000 / pages:.2f} ms/page, gateway "
                f"{sample.cpu_seconds['gateway'] * 1000 / pages:.2f} ms/page"
            )
    finally:
        if stack is not None:
            stack.close()
        postgres.drop_database(admin, name)


if __name__ == "__main__":
    main()
