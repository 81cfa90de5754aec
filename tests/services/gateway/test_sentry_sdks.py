"""Real Sentry SDKs pointed at Stackline by their DSN alone: each error becomes an incident on the
right line at the deployed commit, repeats group, a rate-limited SDK backs off, and what is not
an error is dropped without an error.

The gateway is served over real HTTP on a free port (the SDKs are other processes), in front
of the in-process services; the programs in sentry_programs/ run as a user's would, each copy
in a folder that stands for the repository's checkout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.app import create_app
from services.gateway.routers.sentry import ENVELOPE_PATH
from tests.conftest import Stack, gateway_settings
from tests.e2e.test_sdks import _built_js_sdk as built_js_sdk
from tests.services.ingest.stacks.runs import CHROMIUM, CHROMIUM_ARGS
from tests.support.api import COMMIT
from tests.support.esbuild import installed_esbuild
from tests.support.npm import installed

PROGRAMS = Path(__file__).parent / "sentry_programs"
JS_PROGRAMS = PROGRAMS / "js"
MARKER = "the line Stackline must show"


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """The app on a real loopback port. The socket listens before the server starts, so a
    client that connects early waits in the backlog instead of being refused."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Project:
    url: str
    user: dict[str, str]
    id: str
    repo: str
    dsn: str

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.url, headers=self.user, timeout=30) as client:
            answered = await client.request(method, path, **kwargs)
        assert answered.status_code < 300, answered.text
        return answered.json()

    async def incidents(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await self.api("GET", "/api/incidents", params={"repo": self.repo})
        )["incidents"]
        return found

    async def latest_event(self, incident: dict[str, Any]) -> dict[str, Any]:
        detail: dict[str, Any] = await self.api("GET", f"/api/incidents/{incident['id']}")
        return detail["latest_event"]  # type: ignore[no-any-return]


async def new_project(url: str, name: str) -> Project:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        signed_in = await client.post("/api/auth/dev-login", json={"login": f"sentry-{name}"})
        assert signed_in.status_code == 200, signed_in.text
        user = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        repo = f"octo-org/{name}-{os.urandom(3).hex()}"
        created = await client.post(
            "/api/projects", json={"name": name, "repo": repo}, headers=user
        )
        assert created.status_code == 201, created.text
        project_id = created.json()["project"]["id"]
        # The DSN as the project list shows it at any time, not as creation showed it once:
        # what a user copies from the API or the dashboard must be what the SDKs accept.
        listed = await client.get("/api/projects", headers=user)
        assert listed.status_code == 200, listed.text
    (dsn,) = [p["dsn"] for p in listed.json()["projects"] if p["id"] == project_id]
    assert dsn == created.json()["dsn"]
    return Project(url, user, project_id, repo, dsn)


@pytest.fixture(scope="module")
async def gateway_url(stack: Stack) -> AsyncIterator[str]:
    app = create_app(gateway_settings(stack.targets, failed_credentials_per_minute=0))
    async with served(app) as url:
        yield url


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The app's checkout: its working directory, and the repository's root."""
    shutil.copytree(PROGRAMS / "shop", tmp_path / "shop")
    return tmp_path


def installed_js_packages() -> Path:
    """node_modules with Sentry's JavaScript SDKs and Express, installed once per lock file."""
    return installed(JS_PROGRAMS, "sentry")


def node_app(folder: Path) -> Path:
    """A Node app's checkout with Sentry's SDKs installed beside it."""
    shutil.copytree(JS_PROGRAMS / "src", folder / "src")
    shutil.copy(JS_PROGRAMS / "package.json", folder)
    (folder / "node_modules").symlink_to(installed_js_packages())
    return folder


@pytest.fixture(name="node_app")
def node_app_fixture(tmp_path: Path) -> Path:
    return node_app(tmp_path)


async def run(app: Path, env: dict[str, str], *command: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=app,
        # Only what the program needs: none of this machine's SENTRY_* or STACKLINE_*.
        env={"PATH": os.environ["PATH"], **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def map_checkout(project: Project, app: Path) -> None:
    """Absolute paths under the checkout are the repository's: told once, by a path mapping,
    as for any stack that prints absolute paths."""
    await project.api(
        "PUT",
        f"/api/projects/{project.id}/path-mappings",
        json={"mappings": [{"stack_root": f"{app}/", "source_root": ""}]},
    )


async def run_python(
    app: Path, dsn: str, *args: str, release: str = COMMIT
) -> tuple[int, str, str]:
    return await run(app, {"SENTRY_DSN": dsn, "SENTRY_RELEASE": release}, sys.executable, *args)


def marked_line(program: Path) -> int:
    [number] = [
        n for n, text in enumerate(program.read_text().splitlines(), start=1) if MARKER in text
    ]
    return number


def envelope_requests(status: int) -> float:
    value = REGISTRY.get_sample_value(
        "stackline_gateway_http_requests_total",
        {"method": "POST", "route": ENVELOPE_PATH, "status": str(status)},
    )
    return value or 0.0


def dropped(kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "stackline_gateway_sentry_items_total", {"type": kind, "outcome": "dropped"}
    )
    return value or 0.0


async def test_python_script_crash_lands_on_its_line(gateway_url: str, shop: Path) -> None:
    project = await new_project(gateway_url, "script")
    # A script's frames name only its file ("checkout.py"), so its checkout is mapped.
    await map_checkout(project, shop)
    for _ in range(2):
        code, _, err = await run_python(shop, project.dsn, "shop/checkout.py")
        assert code == 1, err
        assert "KeyError: 'sku-42'" in err

    [incident] = await project.incidents()
    line = marked_line(shop / "shop" / "checkout.py")
    assert incident["count"] == 2
    assert incident["culprit"] == {
        "file": "shop/checkout.py",
        "line": line,
        "column": None,
        "function": "price_of",
    }
    assert incident["commit_sha"] == COMMIT
    assert incident["github_url"] == (
        f"https://github.com/{project.repo}/blob/{COMMIT}/shop/checkout.py#L{line}"
    )
    assert incident["exception_type"] == "KeyError"
    event = await project.latest_event(incident)
    assert event["platform"] == "python"
    assert event["environment"] == "production"
    assert event["release"] == COMMIT
    assert [f["function"] for f in event["frames"] if f["in_app"]][:2] == ["price_of", "main"]


async def test_fastapi_app_errors_group_and_transactions_are_dropped(
    gateway_url: str, shop: Path
) -> None:
    project = await new_project(gateway_url, "web")
    transactions, refused = dropped("transaction"), envelope_requests(400)
    sessions = dropped("sessions")
    code, _, err = await run_python(shop, project.dsn, "-m", "shop.serve")
    assert code == 0, err

    # The app's module is a package path (shop/web.py), so its checkout is found without a
    # mapping: the two requests' errors are one incident at the raising line.
    [incident] = await project.incidents()
    line = marked_line(shop / "shop" / "web.py")
    assert incident["count"] == 2
    assert incident["culprit"]["file"] == "shop/web.py"
    assert incident["culprit"]["line"] == line
    assert incident["culprit"]["function"] == "total_of"
    assert incident["github_url"].endswith(f"/blob/{COMMIT}/shop/web.py#L{line}")
    event = await project.latest_event(incident)
    assert event["context"]["request"]["method"] == "GET"
    assert event["context"]["request"]["url"].endswith("/orders/2204")
    # Each request's transaction, and the requests' sessions, were sent, acknowledged and
    # dropped; nothing was refused.
    assert dropped("transaction") - transactions >= 2
    assert dropped("sessions") - sessions >= 1
    assert envelope_requests(400) == refused
    assert "Unexpected status code" not in err


def limited_gateway(stack: Stack) -> FastAPI:
    """A gateway that lets each key store two events a minute."""
    return create_app(
        gateway_settings(
            stack.targets,
            failed_credentials_per_minute=0,
            ingest_events_per_minute=2,
            ingest_burst_per_second=0,
        )
    )


class EnvelopeAnswers:
    """The app, noting the status of every envelope it answers, in order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.statuses: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["path"].endswith("/envelope/"):
                self.statuses.append(message["status"])
            await send(message)

        await self.app(scope, receive, noting)


@pytest.mark.parametrize("sdk", ["python", "node"])
async def test_a_rate_limited_sdk_stops_sending(sdk: str, stack: Stack, tmp_path: Path) -> None:
    gateway = EnvelopeAnswers(limited_gateway(stack))
    async with served(gateway) as url:
        project = await new_project(url, f"flood-{sdk}")
        env = {"SENTRY_DSN": project.dsn, "SENTRY_RELEASE": COMMIT}
        if sdk == "python":
            shutil.copytree(PROGRAMS / "shop", tmp_path / "shop")
            code, out, err = await run(tmp_path, env, sys.executable, "shop/flood.py", "6")
        else:
            app = node_app(tmp_path)
            code, out, err = await run(
                app, env, "node", "--import", "./src/instrument.mjs", "src/flood.mjs", "6"
            )
        assert code == 0, out + err
        # Six errors: two stored, the third answered 429 with X-Sentry-Rate-Limits, and after
        # it the SDK sent nothing more (not the other three errors, not a session, not a
        # client report).
        statuses = gateway.statuses
        assert statuses.count(429) == 1, statuses
        assert statuses[-1] == 429, statuses
        [incident] = await project.incidents()
        assert incident["count"] == 2


async def test_express_app_errors_land_on_their_line(gateway_url: str, node_app: Path) -> None:
    project = await new_project(gateway_url, "express")
    await map_checkout(project, node_app)
    spans = dropped("span")
    refused = envelope_requests(400)
    env = {"SENTRY_DSN": project.dsn, "SENTRY_RELEASE": COMMIT}
    code, out, err = await run(
        node_app, env, "node", "--import", "./src/instrument.mjs", "src/server.mjs"
    )
    assert code == 0, out + err

    [incident] = await project.incidents()
    line = marked_line(node_app / "src" / "server.mjs")
    assert incident["count"] == 2
    assert incident["exception_type"] == "TypeError"
    assert incident["culprit"]["file"] == "src/server.mjs"
    assert incident["culprit"]["line"] == line
    assert incident["culprit"]["function"] == "totalOf"
    assert incident["github_url"] == (
        f"https://github.com/{project.repo}/blob/{COMMIT}/src/server.mjs#L{line}"
    )
    event = await project.latest_event(incident)
    assert event["platform"] == "node"
    assert event["context"]["request"]["url"].endswith("/carts/c405")
    # The requests' traces were sent too, acknowledged and dropped; nothing was refused.
    assert dropped("span") - spans >= 1
    assert envelope_requests(400) == refused


async def test_node_unhandled_rejection_lands_on_its_line(gateway_url: str, node_app: Path) -> None:
    project = await new_project(gateway_url, "rejection")
    await map_checkout(project, node_app)
    env = {"SENTRY_DSN": project.dsn, "SENTRY_RELEASE": f"shop@{COMMIT}"}
    code, out, err = await run(
        node_app, env, "node", "--import", "./src/instrument.mjs", "src/rejection.mjs"
    )
    assert code == 0, out + err

    [incident] = await project.incidents()
    line = marked_line(node_app / "src" / "rejection.mjs")
    assert incident["exception_type"] == "RangeError"
    assert incident["culprit"]["file"] == "src/rejection.mjs"
    assert incident["culprit"]["line"] == line
    assert incident["culprit"]["function"] == "loadInventory"
    # The release names the commit after its `@`.
    assert incident["commit_sha"] == COMMIT


async def test_browser_bundle_errors_land_on_their_original_line(
    gateway_url: str, node_app: Path
) -> None:
    """A minified bundle in headless Chromium, its maps uploaded with `stackline sourcemaps
    upload`: the minified frames Sentry's browser SDK sends are mapped back to the source."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    async_api = pytest.importorskip("playwright.async_api")
    project = await new_project(gateway_url, "browser")
    code, out, err = await run(
        node_app,
        {},
        str(installed_esbuild()),
        "src/browser/app.js",
        "--bundle",
        "--minify",
        "--sourcemap",
        "--format=iife",
        "--log-level=warning",
        "--outfile=assets/app.min.js",
    )
    assert code == 0, out + err
    token = project.user["Authorization"].removeprefix("Bearer ")
    code, out, err = await run(
        node_app,
        {"STACKLINE_TOKEN": token},
        "node",
        str(built_js_sdk() / "cli.cjs"),
        "sourcemaps",
        "upload",
        "assets",
        "--url-prefix",
        "assets/",
        "--commit",
        COMMIT,
        "--repo",
        project.repo,
        "--endpoint",
        gateway_url,
    )
    assert "1 source map(s) uploaded" in out, out + err
    (node_app / "index.html").write_text(
        "<!doctype html><html><body>"
        f"<script>window.SHOP = {{dsn: {project.dsn!r}, release: {COMMIT!r}}};</script>"
        '<script src="/assets/app.min.js"></script></body></html>'
    )

    site = Starlette()
    site.mount("/", StaticFiles(directory=node_app, html=True))
    async with served(site) as site_url, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # Twice: each load is a new SDK, so the repeat is not deduplicated in the page.
            for _ in range(2):
                page = await browser.new_page()
                await page.goto(f"{site_url}/index.html")
                await page.wait_for_function("document.title === 'sent'", timeout=30_000)
                await page.close()
        finally:
            await browser.close()

    [incident] = await project.incidents()
    line = marked_line(node_app / "src" / "browser" / "app.js")
    assert incident["count"] == 2
    assert incident["exception_type"] == "TypeError"
    assert incident["culprit"]["file"] == "src/browser/app.js"
    assert incident["culprit"]["line"] == line
    assert incident["culprit"]["function"] == "formatPrice"
    assert incident["github_url"] == (
        f"https://github.com/{project.repo}/blob/{COMMIT}/src/browser/app.js#L{line}"
    )
    event = await project.latest_event(incident)
    assert event["platform"] == "browser"
    assert event["processing_errors"] == []
    assert event["frames"][0]["minified"]["abs_path"].endswith("/assets/app.min.js")
