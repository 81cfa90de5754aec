"""Small helpers for driving the public API in tests: sign in, make a project, send an event."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Account:
    token: str
    user_id: str
    login: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class ProjectWithKey:
    id: str
    repo: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def unique_login(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def sign_in(client: httpx.AsyncClient, login: str | None = None) -> Account:
    login = login or unique_login()
    response = await client.post("/api/auth/dev-login", json={"login": login})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(body["access_token"], body["user"]["id"], login)


async def create_project(
    client: httpx.AsyncClient, account: Account, repo: str | None = None
) -> ProjectWithKey:
    repo = repo or f"{account.login}/{unique_login('repo')}"
    response = await client.post(
        "/api/projects", json={"name": "Test project", "repo": repo}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return ProjectWithKey(body["project"]["id"], repo, body["ingest_key"])


def node_event(
    *,
    function: str = "getUser",
    file: str = "src/api/users.js",
    line: int = 42,
    error_type: str = "TypeError",
    message: str = "Cannot read properties of undefined (reading 'id')",
    **fields: Any,
) -> dict[str, Any]:
    """An event as the Node SDK sends it, for code deployed at /var/task."""
    stack = (
        f"{error_type}: {message}\n"
        f"    at {function} (/var/task/{file}:{line}:17)\n"
        "    at Layer.handle (/var/task/node_modules/express/lib/router/layer.js:95:5)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"
    )
    return {
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-11-25T10:00:00.123Z",
        "platform": "node",
        "exception": {"type": error_type, "message": message, "stack": stack},
        "commit_sha": COMMIT,
        "environment": "production",
        "deploy_root": "/var/task",
        "runtime": {"name": "node", "version": "20.11.1"},
        "sdk": {"name": "stackline-js", "version": "0.1.0"},
        **fields,
    }
