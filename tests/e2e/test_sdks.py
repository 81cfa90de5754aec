"""The SDKs against the real platform: real programs fail, and the incident names their line.

One `make run` stack (every service its own process, on SQLite) serves the
module. The programs in sdk_programs/ run as a user's would: the Node ones
import the built JS SDK as the package `@stackline/sdk` from their own
node_modules and pass their options to init(); the Python ones import the SDK
from sdk/python/src and leave init() to read STACKLINE_* from the environment.
Each is copied into a folder of its own that stands for the repository's
checkout and is its working directory, so deploy_root makes its paths
repo-relative.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.esbuild import PROGRAMS as BUNDLED_PROGRAM
from tests.support.esbuild import installed_esbuild
from tests.support.local_stack import ROOT, LocalStack

pytestmark = pytest.mark.e2e

PROGRAMS = Path(__file__).parent / "sdk_programs"
JS_SDK = ROOT / "sdk" / "js"
PYTHON_SDK = ROOT / "sdk" / "python" / "src"
REPO = "octo-org/shop"
COMMIT = "4f2a9c1e8b7d6a5f40312c1b0a9f8e7d6c5b4a39"
MARKER = "the line Stackline must show"


@dataclass(frozen=True)
class Platform:
    url: str
    user: dict[str, str]
    project_id: str
    key: str

    def incident(self, message: str) -> dict[str, Any]:
        """The one incident whose message holds `message`, with its latest event."""
        with httpx.Client(base_url=self.url, headers=self.user, timeout=10) as client:
            listed = client.get("/api/incidents", params={"repo": REPO, "limit": 100})
            assert listed.status_code == 200, listed.text
            [found] = [i for i in listed.json()["incidents"] if message in i["message"]]
            detail = client.get(f"/api/incidents/{found['id']}")
            assert detail.status_code == 200, detail.text
            incident: dict[str, Any] = detail.json()
            return incident

    def incidents_at(self, file: str) -> list[dict[str, Any]]:
        """The incidents whose culprit is in `file`."""
        with httpx.Client(base_url=self.url, headers=self.user, timeout=10) as client:
            listed = client.get("/api/incidents", params={"repo": REPO, "limit": 100})
            assert listed.status_code == 200, listed.text
            return [
                i
                for i in listed.json()["incidents"]
                if i["culprit"] is not None and i["culprit"]["file"] == file
            ]

    def revoked_key(self) -> str:
        with httpx.Client(base_url=self.url, headers=self.user, timeout=10) as client:
            created = client.post(f"/api/projects/{self.project_id}/keys")
            assert created.status_code == 201, created.text
            body = created.json()
            revoked = client.delete(f"/api/projects/{self.project_id}/keys/{body['key']['id']}")
            assert revoked.status_code == 200, revoked.text
            key: str = body["ingest_key"]
            return key


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data = tmp_path_factory.mktemp("stack")
    stack = LocalStack(f"sqlite:///{data / 'stackline.db'}", data)
    try:
        stack.wait_until_running()
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            signed_in = client.post("/api/auth/dev-login", json={"login": "octocat"})
            assert signed_in.status_code == 200, signed_in.text
            user = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            created = client.post(
                "/api/projects", json={"name": "Shop", "repo": REPO}, headers=user
            )
            assert created.status_code == 201, created.text
        yield Platform(
            stack.url, user, created.json()["project"]["id"], created.json()["ingest_key"]
        )
    finally:
        stack.close()


def _built_js_sdk() -> Path:
    """sdk/js/dist, built first when missing or older than the sources (pytest may run
    before `make -C sdk/js test` has built it)."""
    bundle = JS_SDK / "dist" / "esm" / "node.js"
    sources = [*(JS_SDK / "src").rglob("*.ts"), JS_SDK / "package.json", JS_SDK / "scripts"]
    newest = max(path.stat().st_mtime for path in sources)
    if not bundle.exists() or bundle.stat().st_mtime < newest:
        subprocess.run(
            ["make", "-C", str(JS_SDK), "build"], check=True, capture_output=True, timeout=300
        )
    return JS_SDK / "dist"


@pytest.fixture(scope="module")
def node_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Node app with the SDK installed as a package would be. A copy, so that a rebuild
    of sdk/js running meanwhile cannot pull the files from under the programs."""
    app = tmp_path_factory.mktemp("node-app")
    package = app / "node_modules" / "@stackline" / "sdk"
    shutil.copytree(_built_js_sdk(), package / "dist")
    shutil.copy(JS_SDK / "package.json", package)
    (app / "src").mkdir()
    # What makes it a project: the SDK finds the repository root by it, from any directory.
    (app / "package.json").write_text('{"name": "shop", "private": true}\n')
    for program in PROGRAMS.glob("*.mjs"):
        shutil.copy(program, app / "src")
    return app


@pytest.fixture(scope="module")
def python_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("python-app")
    (app / "shop").mkdir()
    (app / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1"\n')
    for program in PROGRAMS.glob("*.py"):
        shutil.copy(program, app / "shop")
    return app


@dataclass(frozen=True)
class Programs:
    """The programs of sdk_programs/, each run in its app against the platform."""

    platform: Platform
    node_app: Path
    python_app: Path

    def path(self, sdk: str, name: str) -> Path:
        if sdk == "node":
            return self.node_app / "src" / f"{name}.mjs"
        return self.python_app / "shop" / f"{name}.py"

    def run(
        self, sdk: str, name: str, key: str | None = None, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a program by absolute path, from its app's folder unless `cwd` says otherwise."""
        key = key or self.platform.key
        if sdk == "node":
            # The Node programs pass these to init() themselves.
            env |= {
                "APP_INGEST_KEY": key,
                "APP_ENDPOINT": self.platform.url,
                "APP_COMMIT_SHA": COMMIT,
            }
            return _run(["node", str(self.path(sdk, name))], cwd or self.node_app, env)
        # The Python programs call init() bare: it reads the SDKs' shared variables.
        env |= {
            "PYTHONPATH": str(PYTHON_SDK),
            "STACKLINE_INGEST_KEY": key,
            "STACKLINE_ENDPOINT": self.platform.url,
            "STACKLINE_COMMIT_SHA": COMMIT,
        }
        return _run([sys.executable, str(self.path(sdk, name))], cwd or self.python_app, env)


@pytest.fixture(scope="module")
def programs(platform: Platform, node_app: Path, python_app: Path) -> Programs:
    return Programs(platform, node_app, python_app)


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only what the program needs: no STACKLINE_* or host variable of this machine leaks in.
    return subprocess.run(
        command,
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def marked_line(program: Path) -> tuple[int, str]:
    """The number and text of the line the program marks as the one that fails."""
    [found] = [
        (number, text)
        for number, text in enumerate(program.read_text().splitlines(), start=1)
        if MARKER in text
    ]
    return found


def stats_of(output: str) -> dict[str, Any]:
    """The SDK's counters, printed last, with the JS SDK's droppedBy named as in Python:
    the two must then be equal, key for key."""
    stats: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    if "droppedBy" in stats:
        stats["dropped_by"] = stats.pop("droppedBy")
    return stats


def counters(**counts: Any) -> dict[str, Any]:
    dropped_by = dict.fromkeys(
        (
            "queue_full",
            "rate_limited",
            "disabled",
            "before_send",
            "too_large",
            "shutdown",
            "sample_rate",
            "ignored",
        ),
        0,
    )
    dropped_by |= counts.pop("dropped_by", {})
    base = {"sent": 0, "failed": 0, "dropped": 0, "queued": 0, "disabled": False}
    stats = base | counts | {"dropped_by": dropped_by}
    stats["captured"] = stats["sent"] + stats["failed"] + stats["dropped"] + stats["queued"]
    return stats


def assert_points_at(incident: dict[str, Any], file: str, line: int, function: str) -> None:
    assert incident["culprit"]["file"] == file
    assert incident["culprit"]["line"] == line
    assert incident["culprit"]["function"] == function
    assert incident["github_url"] == f"https://github.com/{REPO}/blob/{COMMIT}/{file}#L{line}"
    assert incident["commit_sha"] == COMMIT


def test_an_uncaught_node_error_is_an_incident_at_its_line(programs: Programs) -> None:
    order = str(uuid.uuid4())
    result = programs.run("node", "checkout", APP_ORDER=order)

    # Node's own ending, untouched: its report of the error on stderr, exit code 1.
    assert result.returncode == 1, result.stderr
    assert f"TypeError: card declined for order {order}" in result.stderr
    assert stats_of(result.stdout) == counters(sent=1)
    line, text = marked_line(programs.path("node", "checkout"))
    incident = programs.platform.incident(order)
    assert incident["exception_type"] == "TypeError"
    assert_points_at(incident, "src/checkout.mjs", line, "chargeCard")
    # V8 points at the `new` of the error thrown.
    assert incident["culprit"]["column"] == text.index("new TypeError") + 1
    context = incident["latest_event"]["context"]
    assert context["sdk"]["name"] == "stackline-js"
    assert context["tags"] == {
        "server_name": socket.gethostname(),  # the SDK's default, the host's name
        "mechanism": "uncaughtException",
        "handled": "no",
    }


def test_an_uncaught_python_exception_is_an_incident_at_its_line(programs: Programs) -> None:
    order = str(uuid.uuid4())
    result = programs.run("python", "checkout", APP_ORDER=order)

    # Python's own ending, untouched: the traceback on stderr, exit code 1.
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert f"ValueError: card declined for order {order}" in result.stderr
    assert stats_of(result.stdout) == counters(sent=1)
    line, _ = marked_line(programs.path("python", "checkout"))
    incident = programs.platform.incident(order)
    assert incident["exception_type"] == "ValueError"
    assert_points_at(incident, "shop/checkout.py", line, "charge_card")
    assert incident["latest_event"]["context"]["sdk"]["name"] == "stackline-python"


@pytest.mark.parametrize(
    ("sdk", "file", "function"),
    [("node", "src/checkout.mjs", "chargeCard"), ("python", "shop/checkout.py", "charge_card")],
)
def test_one_program_run_from_three_directories_is_one_incident_with_right_paths(
    programs: Programs, sdk: str, file: str, function: str, tmp_path: Path
) -> None:
    """From its project, from its own folder, and from / as cron runs it: the repository root
    comes from the program, so the paths, and with them the incident, are the same."""
    program = programs.path(sdk, "checkout")
    # The uncaught-error test may have reported this failure already: same line, same incident.
    before = sum(i["count"] for i in programs.platform.incidents_at(file))
    for cwd in (program.parents[1], program.parent, tmp_path, Path("/")):
        result = programs.run(sdk, "checkout", cwd=cwd, APP_ORDER=str(uuid.uuid4()))
        assert result.returncode == 1, result.stderr
        assert stats_of(result.stdout) == counters(sent=1)
    [incident] = programs.platform.incidents_at(file)
    assert incident["count"] == before + 4
    line, _ = marked_line(program)
    assert_points_at(incident, file, line, function)


def test_a_python_request_that_fails_through_the_wsgi_middleware(programs: Programs) -> None:
    order = str(uuid.uuid4())
    result = programs.run("python", "web", APP_ORDER=order)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0]) == {"status": 500}
    assert stats_of(result.stdout) == counters(sent=1)
    line, _ = marked_line(programs.path("python", "web"))
    incident = programs.platform.incident(order)
    assert incident["exception_type"] == "KeyError"
    assert_points_at(incident, "shop/web.py", line, "checkout")
    request = incident["latest_event"]["context"]["request"]
    assert request["method"] == "POST"
    assert re.fullmatch(
        r"http://127\.0\.0\.1:\d+/checkout\?token=\[Filtered\]&page=2", request["url"]
    )


@pytest.mark.parametrize(
    ("sdk", "warning"),
    [
        ("node", "[stackline] the ingest key was refused (HTTP 403)"),
        ("python", "stackline_sdk: the server refused the ingest key (403)"),
    ],
)
def test_a_revoked_key_warns_once_and_disables_and_the_program_runs_on(
    programs: Programs, sdk: str, warning: str
) -> None:
    result = programs.run(sdk, "refused_key", key=programs.platform.revoked_key())

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "refused" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith(warning)
    # The same counters from both SDKs: the refused event failed, the one after was dropped.
    assert stats_of(result.stdout) == counters(
        failed=1, dropped=1, dropped_by={"disabled": 1}, disabled=True
    )


@pytest.mark.parametrize("sdk", ["node", "python"])
def test_the_largest_events_an_sdk_builds_are_accepted_by_the_gateway(
    programs: Programs, sdk: str
) -> None:
    # What the SDKs' own tests check against sdk/schema/ingest-event.schema.json
    # (sdk/python/tests/ingest_contract.py, bodyProblems in sdk/js/test/helpers.mjs),
    # checked by the gateway itself: a 400 or 413 would count as failed.
    result = programs.run(sdk, "maximal")

    assert result.returncode == 0, result.stderr
    assert stats_of(result.stdout) == counters(sent=2)


def test_source_maps_uploaded_by_the_cli_map_the_minified_frames(
    platform: Platform, tmp_path: Path
) -> None:
    """`stackline sourcemaps upload` from a real build, then a real minified stack mapped back."""
    app = tmp_path / "shop"
    shutil.copytree(BUNDLED_PROGRAM / "src", app / "src")
    bundle = app / ".next" / "server" / "chunks" / "123.js"
    subprocess.run(
        [
            str(installed_esbuild()),
            "src/main.js",
            "--bundle",
            "--sourcemap",
            "--minify-identifiers",
            "--minify-syntax",
            "--platform=node",
            "--format=cjs",
            "--log-level=warning",
            f"--outfile={bundle}",
        ],
        cwd=app,
        check=True,
        timeout=60,
    )
    stack = json.loads(_run(["node", str(bundle)], app, {}).stdout)["average"]
    commit = "9" * 40
    token = platform.user["Authorization"].removeprefix("Bearer ")
    uploaded = _run(
        [
            "node",
            str(_built_js_sdk() / "cli.cjs"),
            "sourcemaps",
            "upload",
            str(app / ".next"),
            "--commit",
            commit,
            "--repo",
            REPO,
            "--endpoint",
            platform.url,
        ],
        app,
        {"STACKLINE_TOKEN": token},
    )
    assert "1 source map(s) uploaded" in uploaded.stdout, uploaded.stderr

    message = f"mapped-{uuid.uuid4()}"
    _, _, frames = stack.partition("\n")
    event = {
        "platform": "node",
        "exception": {
            "type": "TypeError",
            "message": message,
            "stack": f"TypeError: {message}\n{frames}",
        },
        "commit_sha": commit,
        "deploy_root": str(app),
    }
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        sent = client.post(
            "/api/ingest", json=event, headers={"Authorization": f"Bearer {platform.key}"}
        )
        assert sent.status_code == 200, sent.text
    latest = platform.incident(message)["latest_event"]
    assert latest["processing_errors"] == []
    first = latest["frames"][0]
    assert first["minified"]["abs_path"].endswith(".next/server/chunks/123.js")
    assert first["file"].startswith("src/lib/")
    assert first["github_url"].endswith(f"/{first['file']}#L{first['line']}")
