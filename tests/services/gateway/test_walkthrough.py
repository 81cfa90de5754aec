"""The README's walk-through, through the gateway: sign in, project, ingest, list, get, resolve."""

from __future__ import annotations

import httpx

from tests.support.api import COMMIT, create_project, node_event, sign_in


async def test_setup_ingest_list_get_resolve(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)

    event = node_event()
    sent = await gateway.post("/api/ingest", json=event, headers=project.headers)
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"id": event["event_id"]}

    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo, "status": "open"}, headers=account.headers
    )
    assert listed.status_code == 200, listed.text
    [incident] = listed.json()["incidents"]
    assert incident["title"] == "TypeError in src/api/users.js:42"
    assert incident["culprit"] == {
        "file": "src/api/users.js",
        "line": 42,
        "column": 17,
        "function": "getUser",
    }
    assert incident["count"] == 1
    assert incident["commit_sha"] == COMMIT
    assert (
        incident["github_url"]
        == f"https://github.com/{project.repo}/blob/{COMMIT}/src/api/users.js#L42"
    )

    detail = await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)
    assert detail.status_code == 200
    latest = detail.json()["latest_event"]
    assert latest["event_id"] == event["event_id"]
    assert latest["raw_stack"] == event["exception"]["stack"]
    assert latest["frames"][0] == {
        "file": "src/api/users.js",
        "line": 42,
        "column": 17,
        "function": "getUser",
        "in_app": True,
        "abs_path": "/var/task/src/api/users.js",
        "github_url": incident["github_url"],
        "minified": None,
        "eval_origin": None,
    }
    assert latest["frames"][1]["file"] is None and latest["frames"][1]["in_app"] is False
    assert latest["frames"][1]["github_url"] is None
    assert detail.json()["environments"] == ["production"]
    assert detail.json()["regression"] is None
    [seen] = detail.json()["commits"]
    assert (seen["commit_sha"], seen["environment"], seen["count"]) == (COMMIT, "production", 1)

    resolved = await gateway.patch(
        f"/api/incidents/{incident['id']}", json={"status": "resolved"}, headers=account.headers
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    still_open = await gateway.get(
        "/api/incidents", params={"repo": project.repo, "status": "open"}, headers=account.headers
    )
    assert still_open.json()["incidents"] == []
