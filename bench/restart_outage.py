"""How long `make run` answers ingest with errors after a service is killed outright.

Starts tools/run_local.py on free ports (SQLite in a temporary folder, or DATABASE_URL), signs
in, makes a project, then kills a service with SIGKILL several times, each after the stack has
recovered from the last, and sends one event every 50 ms meanwhile: the outage is the time from
the kill to the first event acknowledged again.

    .venv/bin/python bench/restart_outage.py --service ingest --kills 5
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_load import children  # noqa: E402

EVENT = {"platform": "node", "exception": {"type": "Error", "message": "restart bench"}}


def _free_base() -> tuple[int, int]:
    for base in range(31_000, 40_000, 10):
        ports = [base + 500, *range(base, base + 4), *range(base + 100, base + 104)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base + 500, base
    raise RuntimeError("no free ports")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--service", default="ingest")
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    gateway_port, grpc_base = _free_base()
    url = f"http://127.0.0.1:{gateway_port}"
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
            with httpx.Client(base_url=url, timeout=5) as client:
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
                login = client.post("/api/auth/dev-login", json={"login": "bench"})
                token = login.json()["access_token"]
                created = client.post(
                    "/api/projects",
                    json={"name": "Bench", "repo": "octo-org/restart-bench"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                key = {"Authorization": f"Bearer {created.json()['ingest_key']}"}
                outages, failures = [], []
                for _ in range(args.kills):
                    pid = children(launcher.pid)[args.service]
                    os.kill(pid, signal.SIGKILL)
                    killed = time.monotonic()
                    failed = 0
                    while True:
                        try:
                            status = client.post("/api/ingest", json=EVENT, headers=key)
                            if status.status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        failed += 1
                        time.sleep(0.05)
                    outages.append(time.monotonic() - killed)
                    failures.append(failed)
                    time.sleep(2)  # let the new process settle before the next kill
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(30)
    print(f"service {args.service}, {args.kills} kills")
    print("outage per kill (s):", ", ".join(f"{o:.2f}" for o in outages))
    print(f"median {statistics.median(outages):.2f} s, max {max(outages):.2f} s")
    print("refused events per kill:", ", ".join(str(f) for f in failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
