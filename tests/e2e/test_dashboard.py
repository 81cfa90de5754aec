"""The dashboard in real headless Chromium against the stack `make run` starts, GitHub played by
tools/github_standin.py: from signing in to deleting the account, with axe-core on every page
and screenshots of every page, light, dark and 375 px wide, in .stackline/test-output/dashboard/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.axe import installed_axe
from tests.support.clocks import HANG_GUARD_SECONDS
from tests.support.local_stack import LocalStack
from tools.github_standin import GitHubStandin, User

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / ".stackline" / "test-output" / "dashboard"
PYTHON_SDK = ROOT / "sdk" / "python" / "src"
CHECKOUT = Path(__file__).parent / "sdk_programs" / "checkout.py"
CLIENT_ID = "Iv1.dashboard-e2e"
CLIENT_SECRET = "dashboard-e2e-secret"
COMMIT = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
REPO = "octo-org/shop-api"
# Chromium's own flags for a machine with no sandbox, GPU or network of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# axe-core's rules for WCAG 2.1 A and AA and its best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def github() -> Iterator[GitHubStandin]:
    with GitHubStandin(users=[User("octocat", name="Mona Lisa Octocat")]) as standin:
        yield standin


@pytest.fixture
def stack(github: GitHubStandin, tmp_path: Path) -> Iterator[LocalStack]:
    def env(stack: LocalStack) -> dict[str, str]:
        callback = f"{stack.dashboard_url}/auth/github/callback"
        github.register_app(CLIENT_ID, CLIENT_SECRET, callback)
        return {
            "STACKLINE_GITHUB_WEB_URL": github.web_url,
            "STACKLINE_GITHUB_API_URL": github.api_url,
            "STACKLINE_GITHUB_CLIENT_ID": CLIENT_ID,
            "STACKLINE_GITHUB_CLIENT_SECRET": CLIENT_SECRET,
            "STACKLINE_GITHUB_CALLBACK_URL": callback,
            # A revoked key is refused at once rather than after the gateway's cache period.
            "STACKLINE_INGEST_KEY_CACHE_SECONDS": "0",
        }

    local = LocalStack(f"sqlite:///{tmp_path / 'stackline.db'}", tmp_path, env)
    yield local
    local.close()


class Look:
    """Checks and photographs each page: axe-core, light and dark, and at 375 px wide."""

    def __init__(self, page: Any, axe: str) -> None:
        self.page = page
        self.axe = axe
        self.seen: list[str] = []
        self.findings: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            self._axe(f"{name}-{scheme}")
            page.screenshot(path=SCREENSHOTS / f"{name}-{scheme}.png", full_page=True)
        page.emulate_media(color_scheme="light")
        size = page.viewport_size
        page.set_viewport_size({"width": 375, "height": 812})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways at 375 px by {overflow} px"
        page.screenshot(path=SCREENSHOTS / f"{name}-375.png", full_page=True)
        page.set_viewport_size(size)
        self.seen.append(name)

    def _axe(self, name: str) -> None:
        # Evaluated through the DevTools protocol, which the page's CSP does not govern.
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(self.axe)
        result = self.page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        violations = result["violations"]
        self.findings[name] = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in violations
        ]
        serious = [v for v in self.findings[name] if v["impact"] in ("serious", "critical")]
        assert not serious, f"{name}: {json.dumps(serious, indent=1)}"


def _send_error_with_the_python_sdk(key: str, gateway: str, app: Path) -> None:
    (app / "shop").mkdir(parents=True)
    shutil.copy(CHECKOUT, app / "shop" / "checkout.py")
    result = subprocess.run(
        [sys.executable, "shop/checkout.py"],
        cwd=app,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(PYTHON_SDK),
            "STACKLINE_INGEST_KEY": key,
            "STACKLINE_ENDPOINT": gateway,
            "STACKLINE_COMMIT_SHA": COMMIT,
            "APP_ORDER": "A-1001",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr  # the program dies of its exception
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["sent"] == 1, (stats, result.stderr)


@contextlib.contextmanager
def _dashboard_without_api(tmp_path: Path) -> Iterator[str]:
    """`python -m dashboard` alone, pointed at a port where nothing listens."""
    nothing, port = _free_port(), _free_port()
    log = (tmp_path / "lonely-dashboard.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard"],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "STACKLINE_ENVIRONMENT": "development",
            "STACKLINE_DEV_LOGIN_ENABLED": "true",
            "STACKLINE_PORT": str(port),
            "STACKLINE_GATEWAY_URL": f"http://127.0.0.1:{nothing}",
            "STACKLINE_GATEWAY_TIMEOUT_SECONDS": "1",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while not _answers(f"{url}/health"):
            assert process.poll() is None, (tmp_path / "lonely-dashboard.log").read_text()
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _ingest_status(gateway: str, key: str) -> int:
    event = {
        "event_id": str(uuid.uuid4()),
        "platform": "python",
        "exception": {"type": "ValueError", "message": "x", "stack": "ValueError: x"},
    }
    answer = httpx.post(
        f"{gateway}/api/ingest",
        json=event,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return answer.status_code


def test_from_sign_in_to_deleting_the_account(
    stack: LocalStack, github: GitHubStandin, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (tools/apt-packages.txt)")
    axe = installed_axe()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    stack.wait_until_running()
    dashboard, gateway = stack.dashboard_url, stack.url
    csp_violations: list[str] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        look = Look(page, axe)
        expect = sync_api.expect

        # Signed out: any page asks to sign in first.
        page.goto(f"{dashboard}/projects")
        assert page.url.startswith(f"{dashboard}/login")
        look("sign-in")

        # Sign in through GitHub's browser flow.
        page.get_by_role("link", name="Sign in with GitHub").click()
        assert page.url.startswith(f"{github.web_url}/login/oauth/authorize?")
        page.get_by_role("button", name="Authorize as octocat").click()
        page.wait_for_url(f"{dashboard}/projects")
        expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
        look("projects-empty")

        # Create a project; a bad repository name first.
        page.get_by_role("link", name="Create your first project").click()
        look("project-new")
        page.get_by_label("Name").fill("Shop API")
        page.get_by_label("GitHub repository").fill("not a repo")
        page.get_by_label("GitHub repository").evaluate("input => input.removeAttribute('pattern')")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_role("alert")).to_contain_text("owner/repo")
        look("project-new-error")
        page.get_by_label("GitHub repository").fill(REPO)
        page.get_by_role("button", name="Create project").click()
        page.wait_for_url(re.compile(r".*/projects/[0-9a-f-]{36}/key$"))
        key = page.get_by_label(f"Ingest key for {REPO}").input_value()
        assert key.startswith("slk_")
        dsn = page.get_by_label("This key's Sentry DSN").input_value()
        # Its user name is the key's public part, never the key.
        assert dsn.startswith("http://slp_") and key not in dsn and "@127.0.0.1:" in dsn
        expect(page.get_by_text("It is shown this once")).to_be_visible()
        key_url = page.url
        project_url = key_url.removesuffix("/key")
        look("key")

        # Reload, back and forward: the key is gone.
        page.reload()
        expect(page.get_by_role("heading", name="This key is no longer shown")).to_be_visible()
        assert key not in page.content()
        look("key-gone")
        # The setup page with this server's endpoint; then back to the key's page, which
        # is asked for again (no-store) and no longer has it.
        page.goto(f"{project_url}/setup")
        expect(page.get_by_role("heading", name="Python", exact=True)).to_be_visible()
        assert f"STACKLINE_ENDPOINT={gateway}" in page.content()
        look("setup")
        # The README's picture: the first screen of the setup page.
        page.screenshot(path=SCREENSHOTS / "readme-setup.png")
        page.go_back()
        assert page.url == key_url
        expect(page.get_by_role("heading", name="This key is no longer shown")).to_be_visible()
        assert key not in page.content()

        # An error from a real program on the Python SDK, with that key.
        _send_error_with_the_python_sdk(key, gateway, tmp_path / "app")
        page.goto(f"{project_url}/incidents")
        incident = page.get_by_role("listitem").filter(has_text="card declined")
        line = next(
            number
            for number, text in enumerate(CHECKOUT.read_text().splitlines(), start=1)
            if "the line Stackline must show" in text
        )
        expect(incident).to_contain_text(f"shop/checkout.py:{line}")
        open_in_editor = incident.get_by_role("link", name="Open in VS Code")
        assert open_in_editor.get_attribute("href").startswith(
            "vscode://stackline.stackline/open?repo=octo-org%2Fshop-api&incident="
        )
        github_link = incident.get_by_role("link", name="View on GitHub").get_attribute("href")
        # GitHub's address is the stand-in's here, as the incidents service is told.
        assert github_link.endswith(f"/{REPO}/blob/{COMMIT}/shop/checkout.py#L{line}")
        look("incidents")
        incident.get_by_role("button", name=re.compile("^Resolve")).click()
        expect(page.get_by_role("status")).to_contain_text("is resolved")
        expect(page.get_by_role("heading", name="No open incidents")).to_be_visible()
        page.get_by_role("link", name="Resolved").click()
        expect(page.get_by_role("listitem").filter(has_text="card declined")).to_contain_text(
            "resolved"
        )
        look("incidents-resolved")

        page.goto(f"{dashboard}/projects")
        expect(page.get_by_role("cell", name=REPO)).to_be_visible()
        look("projects")

        # Rotate the key with no grace: the old one is refused, the new one taken.
        page.goto(f"{project_url}/keys")
        look("keys")
        page.get_by_label("Old key stops").select_option("0")
        page.get_by_role("button", name="Rotate").click()
        new_key = page.get_by_label(f"Ingest key for {REPO}").input_value()
        assert new_key.startswith("slk_") and new_key != key
        assert _ingest_status(gateway, key) in (401, 403)
        assert _ingest_status(gateway, new_key) == 200
        new_dsn = page.get_by_label("This key's Sentry DSN").input_value()
        assert new_dsn != dsn
        page.goto(f"{project_url}/keys")
        expect(page.get_by_role("cell", name=re.compile("^revoked"))).to_be_visible()
        # The working key's DSN is listed beside it, at any time; the revoked one's is not.
        expect(page.get_by_label(re.compile("^Sentry DSN of slk_"))).to_have_value(new_dsn)

        # Settings, with the project's DSN; the audit log; then delete the project by typing its
        # repository.
        page.goto(f"{project_url}/settings")
        expect(page.get_by_label("DSN of Shop API")).to_have_value(new_dsn)
        look("settings")
        # A form whose CSRF token is not the session's changes nothing.
        page.locator("form[action$='/settings'] input[name=csrf]").evaluate(
            "input => { input.value = 'forged'; }"
        )
        page.get_by_label("Name").fill("Forged name")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
        look("form-expired")
        page.goto(f"{project_url}/settings")
        expect(page.get_by_label("Name")).to_have_value("Shop API")
        page.goto(f"{project_url}/audit")
        expect(page.get_by_role("cell", name="ingest_key.rotate")).to_be_visible()
        look("audit")
        page.goto(f"{project_url}/settings")
        page.get_by_label(f"Type {REPO} to confirm").fill(REPO)
        page.get_by_role("button", name="Delete project").click()
        page.wait_for_url(f"{dashboard}/projects")
        expect(page.get_by_role("status")).to_contain_text("are deleted")
        page.goto(project_url + "/settings")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        look("not-found")

        # The account: export, then delete it by typing the login.
        page.goto(f"{dashboard}/account")
        look("account")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the export").click()
        exported = json.loads(Path(download.value.path()).read_text())
        assert exported["user"][0]["login"] == "octocat"
        assert exported["projects"] == []
        page.get_by_label("Type your login, octocat, to confirm").fill("octocat")
        page.get_by_role("button", name="Delete account").click()
        page.wait_for_url(f"{dashboard}/login")
        expect(page.get_by_role("status")).to_contain_text("Your account and everything")
        look("signed-out")

        # A dashboard whose API does not answer.
        with _dashboard_without_api(tmp_path) as lonely:
            page.goto(f"{lonely}/login")
            page.get_by_label("Name").fill("octocat")
            page.get_by_role("button", name="Sign in locally").click()
            expect(
                page.get_by_role("heading", name="Stackline's API is not answering")
            ).to_be_visible()
            look("api-not-answering")
        browser.close()

    assert not csp_violations, csp_violations
    (SCREENSHOTS / "axe.json").write_text(json.dumps(look.findings, indent=1))
    for name in look.seen:
        for suffix in ("light", "dark", "375"):
            assert (SCREENSHOTS / f"{name}-{suffix}.png").stat().st_size > 0
