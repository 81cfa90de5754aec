"""The editor extension against the real platform.

A `make run` stack holds a real incident: a Node program in a real git repository fails
through the JS SDK at the deployed commit; then work is committed that moves the failing
line down. The extension's logic (API client, sessions, line mapping, blame) is tested with
`node --test` against that stack, and the extension itself in a real VS Code extension host
(code-server), driven in Debian's Chromium: ide-extension/test-host/suite.ts runs inside the
editor and asks this harness, through files, for what only the page shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.support import code_server
from tests.support.fault_proxy import FaultProxy
from tests.support.local_stack import ROOT, LocalStack
from tools.github_standin import GitHubStandin, OAuthApp
from tools.github_standin import User as GitHubUser

pytestmark = pytest.mark.e2e

REPO = "octo-org/shop-api"
PROGRAM = Path(__file__).parent / "ide_programs" / "profile.mjs"
MARKER = "the line Stackline must show"
OUTPUT = ROOT / "ide-extension" / "test-output"
ADA = ("Ada Lovelace", "ada@example.com", "1764000000 +0000")
GRACE = ("Grace Hopper", "grace@example.com", "1764259200 +0000")
SUSPECT_SUBJECT = "Show the display name on the profile page"
GITHUB_APP = ("Iv1.stackline-editor-tests", "editor-tests-secret")


@dataclass(frozen=True)
class Stack:
    url: str
    port: int
    token: str
    key: str


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubStandin]:
    """GitHub, where the editor's default sign-in (the device flow) is approved."""
    with GitHubStandin(
        users=[GitHubUser("octocat", name="Mona Lisa Octocat")],
        apps=[OAuthApp(GITHUB_APP[0], GITHUB_APP[1], "http://127.0.0.1/unused", device_flow=True)],
        device_interval=1,
    ) as standin:
        yield standin


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, github: GitHubStandin) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("ide-stack")
    local = LocalStack(
        f"sqlite:///{data / 'stackline.db'}",
        data,
        env={
            "STACKLINE_GITHUB_WEB_URL": github.web_url,
            "STACKLINE_GITHUB_API_URL": github.api_url,
            "STACKLINE_GITHUB_CLIENT_ID": GITHUB_APP[0],
            "STACKLINE_GITHUB_CLIENT_SECRET": GITHUB_APP[1],
            "STACKLINE_GITHUB_CALLBACK_URL": "http://127.0.0.1/unused",
        },
    )
    try:
        local.wait_until_running()
        with httpx.Client(base_url=local.url, timeout=10) as client:
            signed_in = client.post("/api/auth/dev-login", json={"login": "octocat"})
            assert signed_in.status_code == 200, signed_in.text
            token = signed_in.json()["access_token"]
            created = client.post(
                "/api/projects",
                json={"name": "Shop API", "repo": REPO},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
        yield Stack(local.url, local.gateway_port, token, created.json()["ingest_key"])
    finally:
        local.close()


@pytest.fixture(scope="module")
def built_extension() -> None:
    code_server.build_extension()


def test_extension_logic_against_the_stack(stack: Stack, built_extension: None) -> None:
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "out/test/stack/"],
        cwd=ROOT / "ide-extension",
        env={**os.environ, "STACKLINE_TEST_URL": stack.url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_packaged_extension_installs_in_the_editor(tmp_path: Path) -> None:
    extension = ROOT / "ide-extension"
    subprocess.run(
        ["make", "-C", str(extension), "package"], check=True, capture_output=True, timeout=600
    )
    version = json.loads((extension / "package.json").read_text())["version"]
    vsix = extension / "build" / f"stackline-{version}.vsix"
    installed = code_server.install_vsix(code_server.install(), vsix, tmp_path)
    assert f"stackline.stackline@{version}" in installed.split()


def _git(repo: Path, *args: str, author: tuple[str, str, str] = ADA) -> str:
    name, email, date = author
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": date,
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _js_sdk_dist() -> Path:
    dist = ROOT / "sdk" / "js" / "dist"
    if not (dist / "esm" / "node.js").exists():
        subprocess.run(
            ["make", "-C", str(ROOT / "sdk" / "js"), "build"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return dist


@dataclass(frozen=True)
class Workspace:
    root: Path
    deployed: str
    deployed_line: int
    moved_line: int


def _workspace(stack: Stack, root: Path) -> Workspace:
    """A working copy whose deployed commit fails in production, with the failing line
    moved down by the commit after it."""
    root.mkdir()
    _git(root, "init", "--quiet", "--initial-branch=main")
    _git(root, "remote", "add", "origin", f"git@github.com:{REPO}.git")
    package = root / "node_modules" / "@stackline" / "sdk"
    shutil.copytree(_js_sdk_dist(), package / "dist")
    shutil.copy(ROOT / "sdk" / "js" / "package.json", package)
    (root / ".gitignore").write_text("node_modules/\n.vscode/\n")
    program = PROGRAM.read_text()
    (root / "src").mkdir()
    (root / "src" / "profile.mjs").write_text(program)
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "-m", SUSPECT_SUBJECT, author=ADA)
    deployed = _git(root, "rev-parse", "HEAD")
    deployed_line = next(
        n for n, text in enumerate(program.splitlines(), start=1) if MARKER in text
    )

    ran = subprocess.run(
        ["node", "src/profile.mjs"],
        cwd=root,
        env={
            "PATH": os.environ["PATH"],
            "APP_INGEST_KEY": stack.key,
            "APP_ENDPOINT": stack.url,
            "APP_COMMIT_SHA": deployed,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1 and "TypeError" in ran.stderr, ran.stdout + ran.stderr
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        listed = client.get(
            "/api/incidents",
            params={"repo": REPO},
            headers={"Authorization": f"Bearer {stack.token}"},
        ).json()["incidents"]
    assert [i["culprit"]["line"] for i in listed] == [deployed_line], listed

    header = [
        "// Profile page.",
        "//",
        "// Users come from the accounts service, keyed by id; a missing",
        "// user is a bug in the caller, not here.",
        "",
        "const FALLBACK = 'someone';",
    ]
    (root / "src" / "profile.mjs").write_text("\n".join(header) + "\n" + program)
    _git(root, "commit", "--quiet", "-am", "Explain where users come from", author=GRACE)
    return Workspace(root, deployed, deployed_line, deployed_line + len(header))


def _approve_device(page: Page) -> str:
    """Does what a user does with the device code: reads it and the address from the
    editor's notification, and approves it on GitHub in the browser."""
    toast = page.locator(".notifications-toasts .notification-list-item").filter(
        has_text="enter the code"
    )
    toast.first.wait_for(timeout=30_000)
    text = toast.first.inner_text()
    code = re.search(r"\b[A-Z]{4}-[A-Z]{4}\b", text)
    url = re.search(r"http://\S+/login/device", text)
    assert code and url, text
    assert "Open GitHub" in toast.first.locator(".monaco-button").all_inner_texts()
    github = page.context.new_page()
    github.goto(url.group(0))
    github.get_by_label("Enter the code displayed on your device").fill(code.group(0))
    github.get_by_role("button", name="Authorize as octocat").click()
    github.get_by_text("you're all set").wait_for(timeout=10_000)
    github.close()
    return code.group(0)


def _answer(control: Path, page: Page, proxy: FaultProxy) -> None:
    """Answers the questions the tests inside the editor wrote into the control folder."""
    for question in sorted(control.glob("*.ask.json")):
        asked = json.loads(question.read_text())
        kind, arg = asked["kind"], asked["arg"]
        answer: object = None
        if kind == "screenshot":
            OUTPUT.mkdir(exist_ok=True)
            page.screenshot(path=str(OUTPUT / f"{arg}.png"))
        elif kind == "toasts":
            answer = (
                page.locator(".notifications-toasts .notification-list-item")
                .filter(has_text=str(arg))
                .count()
            )
        elif kind == "toastButtons":
            toast = page.locator(".notifications-toasts .notification-list-item").filter(
                has_text=str(arg)
            )
            answer = toast.first.locator(".monaco-button").all_inner_texts()
        elif kind == "statusbar":
            items = page.locator(".statusbar-item").filter(has_text="Stackline")
            answer = " ".join(items.all_inner_texts())
        elif kind == "tree":
            answer = page.locator(".part.sidebar .monaco-list-row").all_inner_texts()
        elif kind == "approveDevice":
            try:
                answer = _approve_device(page)
            except Exception:
                page.screenshot(path=str(OUTPUT / "failure-device.png"))
                raise
        elif kind == "proxy":
            proxy.set_mode(str(arg))
        else:
            raise AssertionError(f"unknown question {kind}")
        target = question.with_name(question.name.replace(".ask.json", ".answer.json"))
        target.write_text(json.dumps(answer))
        question.unlink()


def test_extension_in_a_real_editor(stack: Stack, built_extension: None, tmp_path: Path) -> None:
    if not Path(code_server.CHROMIUM).exists():
        pytest.skip("Debian's chromium drives the editor: apt install chromium")
    # Installing code-server must work: a failure fails the test, it never skips.
    entry = code_server.install()
    shutil.rmtree(OUTPUT, ignore_errors=True)
    workspace = _workspace(stack, tmp_path / "shop-api")
    control = tmp_path / "control"
    control.mkdir()
    plan = {
        "apiUrl": stack.url,
        "repo": REPO,
        "file": "src/profile.mjs",
        "deployedLine": workspace.deployed_line,
        "movedLine": workspace.moved_line,
        "deployedCommit": workspace.deployed,
        "suspectAuthor": ADA[0],
        "suspectSubject": SUSPECT_SUBJECT,
        "ingestKey": stack.key,
        "control": str(control),
    }
    (control / "plan.json").write_text(json.dumps(plan))
    proxy = FaultProxy(stack.port).start()
    settings = {
        "stackline.serverUrl": proxy.url,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "git.openRepositoryInParentFolders": "always",
        "telemetry.telemetryLevel": "off",
    }
    suite = ROOT / "ide-extension" / "out" / "test-host" / "suite.js"
    host_log = control / "host.log"
    try:
        with (
            code_server.running(
                entry,
                workspace.root,
                tmp_path / "code-server",
                settings,
                {"STACKLINE_E2E_PLAN": str(control / "plan.json")},
            ) as base,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=code_server.CHROMIUM, args=code_server.CHROMIUM_ARGS
            )
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = context.new_page()
            exits: list[int] = []
            page.expose_function("codeAutomationExit", lambda code, *_: exits.append(int(code)))
            page.goto(code_server.test_url(base, workspace.root, suite))
            # A hang guard: the suite's own steps each give up well before this.
            deadline = time.monotonic() + 600
            while not exits:
                assert time.monotonic() < deadline, "the tests in the editor never finished"
                page.wait_for_timeout(100)
                _answer(control, page, proxy)
            browser.close()
    finally:
        proxy.close()
    log = host_log.read_text() if host_log.exists() else "(no log)"
    assert exits == [0], log
    for shot in ("marked-line", "hover", "tree", "details"):
        assert (OUTPUT / f"{shot}.png").stat().st_size > 10_000, shot
