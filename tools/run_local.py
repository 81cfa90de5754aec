"""Stackline on one machine: every service as its own process on loopback.

`make run` runs this. It migrates the database (an SQLite file by default,
PostgreSQL when DATABASE_URL says so), starts the four services, the gateway
and the dashboard, waits until the gateway and the dashboard are ready, and
stops everything on Ctrl-C.

A service that dies is reported by name and started again, after 0.5 s, then
1, 2, 4... up to 10 s while it keeps dying, as a Kubernetes Deployment would
restart its pod: one crash is not an outage of the whole stack. A service that
dies STACKLINE_MAX_RESTARTS times within STACKLINE_RESTART_WINDOW_SECONDS is
broken, not unlucky: the launcher says so and stops everything, exit code 1.

Settings (environment):
  DATABASE_URL               default sqlite:///.stackline/stackline.db
  STACKLINE_GATEWAY_PORT     default 8080
  STACKLINE_DASHBOARD_PORT   default 8081
  STACKLINE_GRPC_PORT_BASE   default 50051 (auth, projects, ingest, incidents follow)
  STACKLINE_DATA_DIR         default .stackline (database file, signing key, session key)
  STACKLINE_GITHUB_*         passed through: sign in with GitHub (see docs/dashboard.md)
  STACKLINE_MAX_RESTARTS     default 5
  STACKLINE_RESTART_WINDOW_SECONDS  default 60
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("auth", "projects", "ingest", "incidents")
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
FIRST_RESTART_DELAY_SECONDS = 0.5
MAX_RESTART_DELAY_SECONDS = 10.0


@dataclass
class Child:
    name: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    # What `python -m` runs: services.<name>, or the dashboard's own package.
    module: str
    # When it died lately (monotonic), for the back-off and for giving up.
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int
    window_seconds: float

    def delay(self, recent_deaths: int) -> float:
        return min(
            MAX_RESTART_DELAY_SECONDS, FIRST_RESTART_DELAY_SECONDS * 2.0 ** (recent_deaths - 1)
        )


def _environment() -> tuple[dict[str, str], dict[str, int], Path]:
    data_dir = Path(os.environ.get("STACKLINE_DATA_DIR", ROOT / ".stackline")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    grpc_base = int(os.environ.get("STACKLINE_GRPC_PORT_BASE", "50051"))
    ports = {name: grpc_base + i for i, name in enumerate(SERVICES)}
    ports["gateway"] = int(os.environ.get("STACKLINE_GATEWAY_PORT", "8080"))
    ports["dashboard"] = int(os.environ.get("STACKLINE_DASHBOARD_PORT", "8081"))
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{data_dir / 'stackline.db'}"),
        "STACKLINE_ENVIRONMENT": "development",
        "STACKLINE_LOG_FORMAT": os.environ.get("STACKLINE_LOG_FORMAT", "text"),
        "STACKLINE_DEV_LOGIN_ENABLED": "true",
        "STACKLINE_GRPC_REFLECTION": "true",
        "STACKLINE_JWT_PRIVATE_KEY_FILE": str(data_dir / "jwt-signing-key.pem"),
        "PYTHONUNBUFFERED": "1",
    }
    return env, ports, data_dir


def _session_key(data_dir: Path) -> str:
    """The dashboard's cookie key, kept in the data folder so a restart signs no one out."""
    path = data_dir / "dashboard-session.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_bytes(Fernet.generate_key())
    return path.read_text().strip()


def _die_with_parent() -> None:
    """Runs in each child before exec: on Linux, if this launcher is killed outright
    (SIGKILL, a crashed terminal), the kernel sends the service SIGTERM instead of
    leaving it running with nobody to stop it."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(module: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - the launcher starts no threads
    )


def _start(name: str, env: dict[str, str], module: str = "") -> Child:
    module = module or f"services.{name}"
    return Child(name, env, _spawn(module, env), module)


def _supervise(children: list[Child], policy: RestartPolicy, now: float) -> Child | None:
    """Restart what died, once its back-off has passed; the child that died too often, if any."""
    for child in children:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.process = _spawn(child.module, child.env)
                child.restart_at = None
                print(f"stackline: {child.name} started again", file=sys.stderr, flush=True)
            continue
        code = child.process.poll()
        if code is None:
            continue
        child.deaths = [t for t in child.deaths if now - t < policy.window_seconds] + [now]
        if len(child.deaths) > policy.max_restarts:
            print(
                f"stackline: {child.name} exited with code {code}, {len(child.deaths)} times"
                f" within {policy.window_seconds:.0f} s; giving up, stopping the rest",
                file=sys.stderr,
                flush=True,
            )
            return child
        delay = policy.delay(len(child.deaths))
        child.restart_at = now + delay
        print(
            f"stackline: {child.name} exited with code {code}; starting it again in"
            f" {delay:.1f} s (exit {len(child.deaths)} of {policy.max_restarts + 1} allowed"
            f" within {policy.window_seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return None


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"stackline: {child.name} did not stop in time, killing it", file=sys.stderr)
            child.process.kill()
            child.process.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _banner(ports: dict[str, int], database_url: str, data_dir: Path) -> str:
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    dashboard = f"http://127.0.0.1:{ports['dashboard']}"
    database = database_url.rsplit("@", maxsplit=1)[-1] if "@" in database_url else database_url
    services = "\n".join(f"  {name:<10} gRPC 127.0.0.1:{ports[name]}" for name in SERVICES)
    return f"""
Stackline is running.

  dashboard  {dashboard}   (open it to sign in and create a project)
  gateway    {gateway}   (API docs: {gateway}/docs)
{services}
  database   {database}
  data       {data_dir}

Or from a shell, sign in locally and create a project:
  TOKEN=$(curl -s -X POST {gateway}/api/auth/dev-login -H 'Content-Type: application/json' \\
      -d '{{"login": "octocat"}}' \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X POST {gateway}/api/projects -H "Authorization: Bearer $TOKEN" \\
      -H 'Content-Type: application/json' -d '{{"name": "Shop API", "repo": "octo-org/shop-api"}}'

Press Ctrl-C to stop every service.
"""


def main() -> int:
    env, ports, data_dir = _environment()
    print("stackline: migrating the database", flush=True)
    migrate = subprocess.run(
        [sys.executable, "-m", "stackline_infra.db", "upgrade"], cwd=ROOT, env=env, check=False
    )
    if migrate.returncode != 0:
        print("stackline: migration failed; nothing started", file=sys.stderr)
        return 1

    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children: list[Child] = []
    for name in SERVICES:
        children.append(
            _start(
                name,
                {
                    **env,
                    "STACKLINE_GRPC_PORT": str(ports[name]),
                    "STACKLINE_METRICS_PORT": str(ports[name] + 100),
                },
            )
        )
    children.append(
        _start(
            "gateway",
            {
                **env,
                "STACKLINE_PORT": str(ports["gateway"]),
                **{
                    f"STACKLINE_{name.upper()}_TARGET": f"127.0.0.1:{ports[name]}"
                    for name in SERVICES
                },
            },
        )
    )

    children.append(
        _start(
            "dashboard",
            {
                **env,
                "STACKLINE_HOST": "127.0.0.1",
                "STACKLINE_PORT": str(ports["dashboard"]),
                "STACKLINE_GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
                "STACKLINE_DASHBOARD_URL": f"http://127.0.0.1:{ports['dashboard']}",
                "STACKLINE_SESSION_KEY": _session_key(data_dir),
            },
            module="dashboard",
        )
    )

    policy = RestartPolicy(
        max_restarts=int(os.environ.get("STACKLINE_MAX_RESTARTS", "5")),
        window_seconds=float(os.environ.get("STACKLINE_RESTART_WINDOW_SECONDS", "60")),
    )
    exit_code = 0
    ready_url = f"http://127.0.0.1:{ports['gateway']}/ready"
    dashboard_url = f"http://127.0.0.1:{ports['dashboard']}/health"
    started = time.monotonic()
    announced = False
    while not stopping:
        if _supervise(children, policy, time.monotonic()) is not None:
            exit_code = 1
            break
        if not announced:
            if _ready(ready_url) and _ready(dashboard_url):
                print(_banner(ports, env["DATABASE_URL"], data_dir), flush=True)
                announced = True
            elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                print(
                    f"stackline: not ready after {READY_TIMEOUT_SECONDS} s; see {ready_url}",
                    file=sys.stderr,
                )
                exit_code = 1
                break
        time.sleep(0.2)

    print("stackline: stopping", flush=True)
    _stop(children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
