"""The JS SDK in a real Next.js app: a route handler throws, `onRequestError` reports it.

The app in nextjs_app/ is what the SDK's README tells a Next.js user to write: an
`instrumentation.ts` with `init()` and `onRequestError = captureRequestError`, and an App
Router route handler. It is built with `next build` (Turbopack, server source maps on) and
served by `next start`, as in production; the source maps go to the stack by the SDK's own
`stackline sourcemaps upload`, so the incident names the route's TypeScript file, line and
function. `next build` takes seconds here, so the production path is tested, not `next dev`.
Next.js and React come from the npm registry once per lock file (tests/support/npm.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.local_stack import ROOT, LocalStack
from tests.support.npm import NODE, installed

pytestmark = pytest.mark.e2e

APP = Path(__file__).parent / "nextjs_app"
JS_SDK = ROOT / "sdk" / "js"
ROUTE = "app/api/orders/[id]/route.ts"
REPO = "octo-org/storefront"
COMMIT = "7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
MARKER = "the line Stackline must show"
HANG_GUARD = 60


def _built_js_sdk() -> Path:
    """sdk/js/dist, built first when missing or older than the sources."""
    bundle = JS_SDK / "dist" / "esm" / "node.js"
    sources = [*(JS_SDK / "src").rglob("*.ts"), JS_SDK / "package.json", JS_SDK / "scripts"]
    if not bundle.exists() or bundle.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        subprocess.run(
            ["make", "-C", str(JS_SDK), "build"], check=True, capture_output=True, timeout=300
        )
    return JS_SDK / "dist"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Stack:
    def __init__(self, url: str, user: dict[str, str], key: str) -> None:
        self.url, self.user, self.key = url, user, key

    def incidents(self, marker: str) -> list[dict[str, Any]]:
        """The incidents whose message holds `marker`, each with its latest event."""
        with httpx.Client(base_url=self.url, headers=self.user, timeout=10) as client:
            listed = client.get("/api/incidents", params={"repo": REPO, "limit": 100})
            assert listed.status_code == 200, listed.text
            found = []
            for incident in listed.json()["incidents"]:
                if marker in incident["message"]:
                    detail = client.get(f"/api/incidents/{incident['id']}")
                    assert detail.status_code == 200, detail.text
                    found.append(detail.json())
            return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("stack")
    local = LocalStack(f"sqlite:///{data / 'stackline.db'}", data)
    try:
        local.wait_until_running()
        with httpx.Client(base_url=local.url, timeout=10) as client:
            signed_in = client.post("/api/auth/dev-login", json={"login": "octocat"})
            assert signed_in.status_code == 200, signed_in.text
            user = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            created = client.post(
                "/api/projects", json={"name": "Storefront", "repo": REPO}, headers=user
            )
            assert created.status_code == 201, created.text
        yield Stack(local.url, user, created.json()["ingest_key"])
    finally:
        local.close()


def _next_app(folder: Path) -> Path:
    """The app's checkout with its node_modules: Next.js from the npm cache, hard-linked (a
    real tree, not a symlink, which Turbopack refuses to leave the project for), and the SDK
    installed as a package would be."""
    shutil.copytree(APP, folder)
    modules = installed(APP, "nextjs")
    copied = subprocess.run(
        ["cp", "-al", str(modules), str(folder / "node_modules")], check=False, timeout=120
    )
    if copied.returncode != 0:  # another file system: a plain copy
        shutil.rmtree(folder / "node_modules", ignore_errors=True)
        shutil.copytree(modules, folder / "node_modules", symlinks=True)
    package = folder / "node_modules" / "@stackline" / "sdk"
    shutil.copytree(_built_js_sdk(), package / "dist")
    shutil.copy(JS_SDK / "package.json", package)
    return folder


def _node_env(**env: str) -> dict[str, str]:
    # Only what the app needs: no STACKLINE_* or host variable of this machine leaks in.
    return {"PATH": os.environ["PATH"], "NEXT_TELEMETRY_DISABLED": "1", **env}


def _marked_line(which: str) -> int:
    lines = (APP / ROUTE).read_text().splitlines()
    [number] = [n for n, text in enumerate(lines, start=1) if f"{which}: {MARKER}" in text]
    return number


@pytest.fixture(scope="module")
def next_server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`next build`, the server source maps uploaded, then `next start`; yields its URL."""
    app = _next_app(tmp_path_factory.mktemp("next") / "storefront")
    next_bin = str(app / "node_modules" / "next" / "dist" / "bin" / "next")
    assert NODE is not None
    built = subprocess.run(
        [NODE, next_bin, "build"],
        cwd=app,
        env=_node_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    token = stack.user["Authorization"].removeprefix("Bearer ")
    uploaded = subprocess.run(
        [
            NODE,
            str(_built_js_sdk() / "cli.cjs"),
            "sourcemaps",
            "upload",
            str(app / ".next" / "server"),
            "--commit",
            COMMIT,
            "--repo",
            REPO,
            "--endpoint",
            stack.url,
        ],
        cwd=app,
        env=_node_env(STACKLINE_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert "source map(s) uploaded" in uploaded.stdout, uploaded.stdout

    port = _free_port()
    server = subprocess.Popen(
        [NODE, next_bin, "start", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=app,
        env=_node_env(APP_INGEST_KEY=stack.key, APP_ENDPOINT=stack.url, APP_COMMIT_SHA=COMMIT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert server.stdout is not None
        # Ready, and the app's register() has run init(): Next.js loads instrumentation.ts
        # after it says it is ready, and requests that come before share the process scope.
        deadline = time.monotonic() + HANG_GUARD
        for line in server.stdout:
            output.append(line)
            if "instrumentation registered" in line:
                break
            assert time.monotonic() < deadline, "".join(output)
        else:
            raise AssertionError("next start exited early:\n" + "".join(output))
        # Keep draining the server's log (each error is printed), so the pipe never fills.
        rest = server.stdout
        threading.Thread(target=lambda: output.extend(rest), daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def _incident(stack: Stack, marker: str) -> dict[str, Any]:
    """The one incident whose message holds `marker`. The SDK sends after the response has
    gone: the stack is polled against a deadline."""
    deadline = time.monotonic() + HANG_GUARD
    while not (found := stack.incidents(marker)):
        assert time.monotonic() < deadline, f"no incident for {marker}"
        time.sleep(0.2)
    [incident] = found
    return incident


def test_route_handler_errors_are_incidents_at_their_lines_with_their_own_request_data(
    stack: Stack, next_server: str
) -> None:
    """Two requests served at once, each tagging its order and leaving a breadcrumb before
    either fails: each incident names the route's TypeScript file, line and function, and
    carries its own request's tag, breadcrumb and URL, never the other's."""
    run = uuid.uuid4().hex[:8]
    card, stock = f"card-{run}", f"stock-{run}"

    def order(mine: str, theirs: str) -> int:
        with httpx.Client(timeout=HANG_GUARD) as client:
            answer = client.get(f"{next_server}/api/orders/{mine}", params={"with": theirs})
            return answer.status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(order, [card, stock], [stock, card]))
    assert statuses == [500, 500]

    for mine, theirs, which, function in (
        (card, stock, "card", "chargeCard"),
        (stock, card, "stock", "reserveStock"),
    ):
        incident = _incident(stack, mine)
        line = _marked_line(which)
        assert incident["culprit"]["file"] == ROUTE
        assert incident["culprit"]["line"] == line
        assert incident["culprit"]["function"] == function
        assert incident["commit_sha"] == COMMIT
        # The permalink's path is a URL's: `[id]` travels as `%5Bid%5D`.
        assert incident["github_url"] == (
            f"https://github.com/{REPO}/blob/{COMMIT}/{quote(ROUTE)}#L{line}"
        )
        context = incident["latest_event"]["context"]
        assert context["tags"]["order_id"] == mine, incident
        assert context["tags"]["route"] == "/api/orders/[id]"
        assert context["request"]["url"] == f"/api/orders/{mine}?with={theirs}"
        orders = [c["message"] for c in context["breadcrumbs"] if c["category"] == "order"]
        assert orders == [f"loading order {mine}"]
        assert theirs not in str(context["tags"]) + str(context["breadcrumbs"])
