"""One bug across two deploys of a minified app: two real esbuild builds of
tests/services/ingest/sourcemap_programs/deploys/, the second with a function added above the
failing one. Their stacks name the failing function differently (`r`, then `e`); with each
build's map uploaded, both events make one incident, shown at the second build's line."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.ingest.stacks import parse_stack
from tests.services.ingest.stacks.markers import Marks
from tests.support.api import create_project, sign_in
from tests.support.esbuild import NODE, PROGRAMS, installed_esbuild

BUNDLE = "dist/server.js"
COMMITS = {"first": "1" * 40, "second": "2" * 40}


@dataclass(frozen=True)
class Deploy:
    name: str
    root: Path
    stack: str
    line: int  # where the failing code is, in this deploy's source


@pytest.fixture(scope="module")
def deploys(tmp_path_factory: pytest.TempPathFactory) -> list[Deploy]:
    esbuild = installed_esbuild()
    assert NODE is not None
    built = []
    for name in COMMITS:
        root = tmp_path_factory.mktemp(name).resolve()
        shutil.copy(PROGRAMS / "deploys" / name / "orders.js", root / "orders.js")
        flags = ["--minify-identifiers", "--minify-syntax", "--platform=node", "--format=cjs"]
        subprocess.run(
            [str(esbuild), "orders.js", "--bundle", "--sourcemap", *flags, f"--outfile={BUNDLE}"],
            cwd=root,
            check=True,
            timeout=60,
        )
        ran = subprocess.run(
            [NODE, BUNDLE], cwd=root, capture_output=True, text=True, check=True, timeout=60
        )
        marks = Marks()
        marks.add_javascript(root / "orders.js", "orders.js")
        line = marks.at("amount", "").line
        assert line is not None
        built.append(Deploy(name, root, json.loads(ran.stdout)["stack"], line))
    return built


async def test_a_bug_is_one_incident_across_deploys_that_renamed_its_functions(
    gateway: httpx.AsyncClient, deploys: list[Deploy]
) -> None:
    first, second = deploys
    # What would split the incident: the minified names differ, and the line moved.
    names = [[f.function for f in parse_stack(d.stack, "node")] for d in deploys]
    assert names[0] != names[1]
    assert first.line != second.line

    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    for deploy in deploys:
        uploaded = await gateway.post(
            f"/api/projects/{project.id}/sourcemaps",
            params={"bundle": BUNDLE, "commit_sha": COMMITS[deploy.name]},
            content=(deploy.root / f"{BUNDLE}.map").read_bytes(),
            headers=account.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        sent = await gateway.post(
            "/api/ingest",
            json={
                "platform": "node",
                "exception": {"type": "TypeError", "message": "x", "stack": deploy.stack},
                "commit_sha": COMMITS[deploy.name],
                "deploy_root": str(deploy.root),
            },
            headers=project.headers,
        )
        assert sent.status_code == 200, sent.text

    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    [incident] = listed.json()["incidents"]
    assert incident["count"] == 2
    assert incident["commit_sha"] == COMMITS["second"]
    assert (incident["culprit"]["file"], incident["culprit"]["line"]) == ("orders.js", second.line)
    assert incident["github_url"].endswith(f"/{COMMITS['second']}/orders.js#L{second.line}")
    detail = await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)
    innermost = detail.json()["latest_event"]["frames"][0]
    assert (innermost["file"], innermost["line"]) == ("orders.js", second.line)
    assert innermost["minified"]["function"] == names[1][0]
