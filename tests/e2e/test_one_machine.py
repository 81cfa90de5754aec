"""`make run` for real: every service its own process, on PostgreSQL and on SQLite.

Walks setup → ingest (errors thrown by real Node and Python programs) → list by
repo → get → resolve, then Ctrl-C, which must stop every process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import _fresh_database
from tests.support.local_stack import LocalStack, child_pids

pytestmark = pytest.mark.e2e

NODE_PROGRAM = """\
function loadUser(users, id) {
  return users[id].name; // line 2 throws
}
try {
  loadUser({}, "u-1");
} catch (error) {
  const {name, message, stack} = error;
  process.stdout.write(JSON.stringify({type: name, message, stack}));
}
"""

PYTHON_PROGRAM = """\
import json, traceback

def parse_price(text):
    return float(text)  # line 4 raises

try:
    parse_price("12,50")
except ValueError as error:
    stack = traceback.format_exc()
    print(json.dumps({"type": "ValueError", "message": str(error), "stack": stack}))
"""


@pytest.fixture
def postgres_stack(postgres_admin_url: str, tmp_path: Path) -> Iterator[LocalStack]:
    for url in _fresh_database(postgres_admin_url, "e2e"):
        stack = LocalStack(url, tmp_path)
        yield stack
        stack.close()


@pytest.fixture
def sqlite_stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(f"sqlite:///{tmp_path / 'stackline.db'}", tmp_path)
    yield stack
    stack.close()


def _real_error(command: list[str], program: str, tmp_path: Path, name: str) -> dict[str, str]:
    source = tmp_path / "app" / name
    source.parent.mkdir(exist_ok=True)
    source.write_text(program)
    result = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, check=True, timeout=30
    )

    error: dict[str, str] = json.loads(result.stdout)
    return error


def _walk_through(stack: LocalStack, tmp_path: Path) -> None:
    node_error = _real_error(["node"], NODE_PROGRAM, tmp_path, "users.js")
    python_error = _real_error([sys.executable], PYTHON_PROGRAM, tmp_path, "prices.py")
    commit = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    deploy_root = str(tmp_path / "app")

    with httpx.Client(base_url=stack.url, timeout=10) as client:
        token = client.post("/api/auth/dev-login", json={"login": "octocat"}).json()["access_token"]
        user = {"Authorization": f"Bearer {token}"}
        created = client.post(
            "/api/projects", json={"name": "Shop", "repo": "octo-org/shop"}, headers=user
        )
        assert created.status_code == 201, created.text
        key = {"Authorization": f"Bearer {created.json()['ingest_key']}"}

        for platform, error in (("node", node_error), ("python", python_error)):
            event = {
                "event_id": str(uuid.uuid4()),
                "platform": platform,
                "exception": error,
                "commit_sha": commit,
                "environment": "production",
                "deploy_root": deploy_root,
            }
            sent = client.post("/api/ingest", json=event, headers=key)
            assert sent.status_code == 200, sent.text

        listed = client.get(
            "/api/incidents", params={"repo": "octo-org/shop", "status": "open"}, headers=user
        )
        assert listed.status_code == 200, listed.text
        by_type = {i["exception_type"]: i for i in listed.json()["incidents"]}
        assert set(by_type) == {"TypeError", "ValueError"}
        # V8 points at the property it could not read: `name`, 1-based.
        column = NODE_PROGRAM.splitlines()[1].index(".name") + 2
        assert by_type["TypeError"]["culprit"] == {
            "file": "users.js",
            "line": 2,
            "column": column,
            "function": "loadUser",
        }
        assert by_type["ValueError"]["culprit"] == {
            "file": "prices.py",
            "line": 4,
            "column": None,
            "function": "parse_price",
        }
        assert (
            by_type["ValueError"]["github_url"]
            == f"https://github.com/octo-org/shop/blob/{commit}/prices.py#L4"
        )

        detail = client.get(f"/api/incidents/{by_type['TypeError']['id']}", headers=user).json()
        assert detail["latest_event"]["raw_stack"] == node_error["stack"]
        assert detail["latest_event"]["frames"][0]["file"] == "users.js"

        resolved = client.patch(
            f"/api/incidents/{detail['id']}", json={"status": "resolved"}, headers=user
        )
        assert resolved.json()["status"] == "resolved"
        still_open = client.get(
            "/api/incidents", params={"repo": "octo-org/shop", "status": "open"}, headers=user
        )
        assert [i["exception_type"] for i in still_open.json()["incidents"]] == ["ValueError"]
        assert client.get("/ready").status_code == 200

        # Deleted: gone from the API and its key refused at once, its rows purged behind the
        # call by the services on their own schedule.
        project_id = created.json()["project"]["id"]
        assert _rows_of(stack.database_url, project_id) == 5  # the row, two events, two incidents
        assert client.delete(f"/api/projects/{project_id}", headers=user).status_code == 204
        assert client.post("/api/ingest", json=event, headers=key).status_code == 401
        assert client.get(f"/api/incidents/{detail['id']}", headers=user).status_code == 404
        _wait_until_purged(stack.database_url, project_id)
    sign_in_page = httpx.get(f"{stack.dashboard_url}/login", timeout=10)
    assert sign_in_page.status_code == 200 and "Sign in locally" in sign_in_page.text


def _rows_of(database_url: str, project_id: str) -> int:
    """The project's own row, events and incidents, as the database holds them."""
    postgres = database_url.startswith("postgresql")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM projects WHERE id = :id)"
                        " + (SELECT count(*) FROM events WHERE project_id = :id)"
                        " + (SELECT count(*) FROM incidents WHERE project_id = :id)"
                    ),
                    # SQLite keeps ids as 32 hex digits.
                    {"id": uuid.UUID(project_id) if postgres else uuid.UUID(project_id).hex},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _wait_until_purged(database_url: str, project_id: str) -> None:
    deadline = time.monotonic() + 60
    while (left := _rows_of(database_url, project_id)) > 0:
        assert time.monotonic() < deadline, f"{left} rows of the deleted project are left"
        time.sleep(0.2)


def _stop_with_ctrl_c(stack: LocalStack) -> str:
    children = child_pids(stack.process.pid)
    assert len(children) == 6  # four services, the gateway, the dashboard
    stack.process.send_signal(signal.SIGINT)
    output = stack.finish()
    assert stack.process.returncode == 0, output
    assert f"dashboard  {stack.dashboard_url}" in output
    for pid in children:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        ), output
    return output


def test_postgres(postgres_stack: LocalStack, tmp_path: Path) -> None:
    postgres_stack.wait_until_running()
    _walk_through(postgres_stack, tmp_path)
    _stop_with_ctrl_c(postgres_stack)


def test_sqlite(sqlite_stack: LocalStack, tmp_path: Path) -> None:
    sqlite_stack.wait_until_running()
    _walk_through(sqlite_stack, tmp_path)
    _stop_with_ctrl_c(sqlite_stack)


def _service_pid(stack: LocalStack, name: str) -> int | None:
    for pid in child_pids(stack.process.pid):
        try:
            if f"services.{name}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


def _restarted(stack: LocalStack, name: str, old_pid: int) -> int:
    deadline = time.monotonic() + 60
    while True:
        pid = _service_pid(stack, name)
        if pid is not None and pid != old_pid:
            return pid
        assert stack.process.poll() is None, stack.finish()
        assert time.monotonic() < deadline, f"{name} was not started again"
        time.sleep(0.1)


def test_a_service_that_dies_is_started_again(sqlite_stack: LocalStack) -> None:
    sqlite_stack.wait_until_running()
    with httpx.Client(base_url=sqlite_stack.url, timeout=10) as client:
        token = client.post("/api/auth/dev-login", json={"login": "octocat"}).json()["access_token"]
        created = client.post(
            "/api/projects",
            json={"name": "Shop", "repo": "octo-org/shop"},
            headers={"Authorization": f"Bearer {token}"},
        )
        key = {"Authorization": f"Bearer {created.json()['ingest_key']}"}
        event = {"platform": "node", "exception": {"type": "Error", "message": "m"}}
        assert client.post("/api/ingest", json=event, headers=key).status_code == 200

        for name in ("ingest", "auth"):
            old = _service_pid(sqlite_stack, name)
            assert old is not None
            os.kill(old, signal.SIGKILL)
            _restarted(sqlite_stack, name, old)
        # The stack carries on: ready again, events stored, sign-in answered.
        deadline = time.monotonic() + 60
        while not (
            client.get("/ready").status_code == 200
            and client.post("/api/ingest", json=event, headers=key).status_code == 200
            and client.post("/api/auth/dev-login", json={"login": "hubot"}).status_code == 200
        ):
            assert time.monotonic() < deadline, "the stack never came back"
            time.sleep(0.2)
    output = _stop_with_ctrl_c(sqlite_stack)
    assert "ingest exited with code -9; starting it again in 0.5 s" in output
    assert "auth exited with code -9; starting it again in 0.5 s" in output


def test_a_service_that_keeps_dying_stops_the_stack_loudly(tmp_path: Path) -> None:
    stack = LocalStack(
        f"sqlite:///{tmp_path / 'stackline.db'}",
        tmp_path,
        env={"STACKLINE_MAX_RESTARTS": "2", "STACKLINE_RESTART_WINDOW_SECONDS": "600"},
    )
    try:
        stack.wait_until_running()
        children = child_pids(stack.process.pid)
        pid = _service_pid(stack, "ingest")
        assert pid is not None
        for _ in range(2):
            os.kill(pid, signal.SIGKILL)
            pid = _restarted(stack, "ingest", pid)
        os.kill(pid, signal.SIGKILL)
        output = stack.finish()
        assert stack.process.returncode == 1
        assert "ingest exited with code -9, 3 times within 600 s; giving up" in output
        for child in [*children, pid]:
            assert (
                not Path(f"/proc/{child}").exists()
                or "zombie" in Path(f"/proc/{child}/status").read_text()
            )
    finally:
        stack.close()


def test_services_stop_when_the_launcher_is_killed_outright(sqlite_stack: LocalStack) -> None:
    sqlite_stack.wait_until_running()
    children = child_pids(sqlite_stack.process.pid)
    sqlite_stack.process.kill()
    sqlite_stack.process.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in children):
        assert time.monotonic() < deadline, "services outlived their launcher"
        time.sleep(0.2)
