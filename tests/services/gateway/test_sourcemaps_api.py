"""Source maps end to end: a real esbuild bundle run in Node, its map uploaded through the
API, and the event's frames shown where `node --enable-source-maps` puts them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from services.ingest.stacks import parse_stack
from tests.support.api import create_project, sign_in
from tests.support.esbuild import NODE, PROGRAMS, installed_esbuild

COMMIT = "5e1f" + "0" * 36
BUNDLE = ".next/server/chunks/123.js"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built app: the bundle and its map under .next/, as a Next.js server deploys them."""
    esbuild = installed_esbuild()
    root = tmp_path_factory.mktemp("shop").resolve()
    shutil.copytree(PROGRAMS / "src", root / "src")
    subprocess.run(
        [
            str(esbuild),
            "src/main.js",
            "--bundle",
            "--sourcemap",
            "--minify-identifiers",
            "--minify-syntax",
            "--platform=node",
            "--format=cjs",
            "--log-level=warning",
            f"--outfile={root / BUNDLE}",
        ],
        cwd=root,
        check=True,
        timeout=60,
    )
    return root


def _stacks(app: Path, *flags: str) -> dict[str, str]:
    assert NODE is not None
    result = subprocess.run(
        [NODE, *flags, BUNDLE], cwd=app, capture_output=True, text=True, check=True, timeout=60
    )
    stacks: dict[str, str] = json.loads(result.stdout)
    return stacks


def _event(app: Path, stack: str, commit: str) -> dict[str, object]:
    header = stack.split("\n", 1)[0]
    error_type, _, message = header.partition(": ")
    return {
        "platform": "node",
        "exception": {"type": error_type, "message": message, "stack": stack},
        "commit_sha": commit,
        "deploy_root": str(app),
    }


async def _latest_frames(
    gateway: httpx.AsyncClient, headers: dict[str, str], repo: str
) -> dict[str, object]:
    incidents = (
        await gateway.get("/api/incidents", params={"repo": repo}, headers=headers)
    ).json()["incidents"]
    detail = await gateway.get(f"/api/incidents/{incidents[0]['id']}", headers=headers)
    event: dict[str, object] = detail.json()["latest_event"]
    return event


async def test_uploaded_maps_put_frames_back_in_the_source(
    gateway: httpx.AsyncClient, app: Path
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    uploaded = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": BUNDLE, "commit_sha": COMMIT},
        content=(app / f"{BUNDLE}.map").read_bytes(),
        headers=account.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["bundle"] == BUNDLE

    minified = _stacks(app)["average"]
    mapped_by_node = parse_stack(_stacks(app, "--enable-source-maps")["average"], "node")
    sent = await gateway.post(
        "/api/ingest", json=_event(app, minified, COMMIT), headers=project.headers
    )
    assert sent.status_code == 200, sent.text

    event = await _latest_frames(gateway, account.headers, project.repo)
    frames = event["frames"]
    assert isinstance(frames, list)
    assert event["processing_errors"] == []
    in_bundle = [f for f in frames if f["minified"] is not None]
    assert in_bundle, "no frame was mapped"
    for frame, expected in zip(frames, mapped_by_node, strict=False):
        if frame["minified"] is None:
            continue
        # Node prints the absolute original path; Stackline keeps it relative to the repository.
        assert expected.abs_path.endswith("/" + frame["file"]), (frame, expected)
        assert (frame["line"], frame["column"]) == (expected.line, expected.column)
        assert frame["minified"]["abs_path"].endswith(BUNDLE)
    culprit = frames[0]
    assert culprit["file"].startswith("src/lib/")
    assert culprit["github_url"].endswith(f"/{culprit['file']}#L{culprit['line']}")


async def test_without_a_usable_map_frames_stay_minified_and_the_event_says_why(
    gateway: httpx.AsyncClient, app: Path
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    broken = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": BUNDLE, "commit_sha": COMMIT},
        content=b'{"version": 3, "sources": ["a.js"], "mappings": "AAAA;;ZZZZZ"',  # not JSON: no }
        headers=account.headers,
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["field"] == "data"
    for params, field in (
        ({"bundle": BUNDLE}, "commit_sha"),
        ({"bundle": BUNDLE, "commit_sha": "abc"}, "commit_sha"),
    ):
        refused = await gateway.post(
            f"/api/projects/{project.id}/sourcemaps",
            params=params,
            content=b"{}",
            headers=account.headers,
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["field"] == field

    other_commit = "a" * 40
    minified = _stacks(app)["average"]
    assert (
        await gateway.post(
            "/api/ingest", json=_event(app, minified, other_commit), headers=project.headers
        )
    ).status_code == 200
    event = await _latest_frames(gateway, account.headers, project.repo)
    notes = event["processing_errors"]
    assert isinstance(notes, list)
    assert notes == [
        f"123.js looks minified; no source map was uploaded for it at commit {other_commit[:12]}"
    ]
    frames = event["frames"]
    assert isinstance(frames, list)
    assert frames[0]["file"] == BUNDLE
    assert frames[0]["minified"] is None


async def test_maps_are_listed_replaced_and_deleted_by_their_owner_only(
    gateway: httpx.AsyncClient, app: Path
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    url = f"/api/projects/{project.id}/sourcemaps"
    data = (app / f"{BUNDLE}.map").read_bytes()
    for _ in range(2):
        assert (
            await gateway.post(
                url,
                params={"bundle": BUNDLE, "release": "shop@1.2"},
                content=data,
                headers=account.headers,
            )
        ).status_code == 201
    listed = (await gateway.get(url, headers=account.headers)).json()["source_maps"]
    assert len(listed) == 1
    assert (listed[0]["release"], listed[0]["commit_sha"], listed[0]["size_bytes"]) == (
        "shop@1.2",
        None,
        len(data),
    )

    stranger = await sign_in(gateway)
    assert (await gateway.get(url, headers=stranger.headers)).status_code == 404
    assert (
        await gateway.post(
            url, params={"bundle": BUNDLE, "release": "x"}, content=data, headers=stranger.headers
        )
    ).status_code == 404
    assert (
        await gateway.delete(f"{url}/{listed[0]['id']}", headers=stranger.headers)
    ).status_code == 404
    assert (
        await gateway.delete(f"{url}/{listed[0]['id']}", headers=account.headers)
    ).status_code == 204
    assert (await gateway.get(url, headers=account.headers)).json() == {"source_maps": []}


async def test_uploads_over_the_limit_are_refused(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    too_big = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": BUNDLE, "commit_sha": COMMIT},
        content=b" " * (50 * 1024 * 1024 + 1),
        headers=account.headers,
    )
    assert too_big.status_code == 413
    assert re.search(r"over \d+ bytes", too_big.json()["error"]["message"])
