"""Real stacks sent through the public API: the incident shows the thrown error's culprit, its
latest event the causes with their frames and permalinks, and where generated code was made."""

from __future__ import annotations

from typing import Any

import httpx

from tests.services.ingest.stacks.runs import BrowserRun, NodeRun
from tests.support.api import COMMIT, Account, ProjectWithKey, create_project, sign_in


async def _send(gateway: httpx.AsyncClient, project: ProjectWithKey, **fields: Any) -> None:
    event = {"platform": "node", "commit_sha": COMMIT, "environment": "production", **fields}
    sent = await gateway.post("/api/ingest", json=event, headers=project.headers)
    assert sent.status_code == 200, sent.text


async def _incidents(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> list[dict[str, Any]]:
    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    incidents: list[dict[str, Any]] = listed.json()["incidents"]
    return incidents


async def _detail(gateway: httpx.AsyncClient, account: Account, incident_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = (
        await gateway.get(f"/api/incidents/{incident_id}", headers=account.headers)
    ).json()
    return detail


def _link(repo: str, file: str, line: int | None) -> str:
    return f"https://github.com/{repo}/blob/{COMMIT}/{file}#L{line}"


async def test_an_error_printed_with_its_causes(
    gateway: httpx.AsyncClient, node_run: NodeRun
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    text = node_run.inspected["causeChain"]
    await _send(
        gateway,
        project,
        exception={"type": "Error", "message": "the server did not start", "stack": text},
        deploy_root=str(node_run.root),
    )
    [incident] = await _incidents(gateway, account, project)
    outer = node_run.marks.at("chain-outer", "startServer")
    assert incident["culprit"] == {
        "file": "nested.cjs",
        "line": outer.line,
        "column": outer.column,
        "function": "startServer",
    }
    event = (await _detail(gateway, account, incident["id"]))["latest_event"]
    assert event["frames"][0]["github_url"] == _link(project.repo, "nested.cjs", outer.line)
    assert [(c["type"], c["message"], c["relation"], c["parent"]) for c in event["causes"]] == [
        ("Error", "cannot load the configuration", "cause", None),
        ("SyntaxError", "unexpected token in settings.json", "cause", 0),
    ]
    innermost = event["causes"][1]["frames"][0]
    inner = node_run.marks.at("chain-inner", "readConfig")
    assert (innermost["file"], innermost["line"], innermost["function"]) == (
        "nested.cjs",
        inner.line,
        "readConfig",
    )
    assert innermost["github_url"] == _link(project.repo, "nested.cjs", inner.line)
    assert innermost["eval_origin"] is None


async def test_a_frame_of_generated_code_shows_where_the_code_was_made(
    gateway: httpx.AsyncClient, node_run: NodeRun
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    await _send(
        gateway,
        project,
        exception={
            "type": "TypeError",
            "message": "x",
            "stack": node_run.nested_stacks["template"],
        },
        deploy_root=str(node_run.root),
    )
    [incident] = await _incidents(gateway, account, project)
    render = node_run.marks.at("render", "renderPage")
    assert (incident["culprit"]["line"], incident["culprit"]["function"]) == (
        render.line,
        "renderPage",
    )
    generated = (await _detail(gateway, account, incident["id"]))["latest_event"]["frames"][0]
    made = node_run.marks.at("compile", "")
    assert (generated["file"], generated["in_app"], generated["github_url"]) == (None, False, None)
    assert generated["eval_origin"] == {
        "file": "nested.cjs",
        "line": made.line,
        "column": made.column,
        "abs_path": made.abs_path,
        "github_url": _link(project.repo, "nested.cjs", made.line),
    }


async def test_a_cause_sent_beside_the_stack(
    gateway: httpx.AsyncClient, browser_run: BrowserRun
) -> None:
    """What a browser SDK sends: error.stack, which prints no cause, and the cause's own stack."""
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    cause = {
        "type": "TypeError",
        "message": "the card was declined",
        "stack": browser_run.stacks["causeOfCause"],
    }
    await _send(
        gateway,
        project,
        platform="browser",
        exception={
            "type": "Error",
            "message": "checkout failed",
            "stack": browser_run.stacks["cause"],
            "cause": cause,
        },
    )
    [incident] = await _incidents(gateway, account, project)
    assert incident["culprit"]["function"] == "checkout"
    [declined] = (await _detail(gateway, account, incident["id"]))["latest_event"]["causes"]
    charge = browser_run.marks.at("charge", "charge")
    assert (declined["type"], declined["relation"], declined["parent"]) == (
        "TypeError",
        "cause",
        None,
    )
    assert (declined["frames"][0]["file"], declined["frames"][0]["line"]) == ("app.js", charge.line)
