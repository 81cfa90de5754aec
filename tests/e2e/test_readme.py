"""The README's "Five minutes with curl", run as written against a fresh `make run`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.local_stack import ROOT, LocalStack

pytestmark = pytest.mark.e2e


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Five minutes with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the walk-through's shell block is missing"
    return match.group(1)


def _json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while (start := text.find("{", index)) != -1:
        document, index = decoder.raw_decode(text, start)
        documents.append(document)
    return documents


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(f"sqlite:///{tmp_path / 'stackline.db'}", tmp_path)
    yield stack
    stack.close()


def test_the_walkthrough_works_as_written(stack: LocalStack) -> None:
    stack.wait_until_running()
    script = walkthrough()
    # The one change: this stack's port instead of 8080.
    assert "export STACKLINE=http://127.0.0.1:8080\n" in script
    script = script.replace("127.0.0.1:8080", f"127.0.0.1:{stack.gateway_port}")
    shutil.rmtree("/tmp/shop-api", ignore_errors=True)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr + result.stdout

    # Steps 4 to 6 print the ingest answer, the list, the incident, the incident resolved.
    sent, listed, detail, resolved = _json_documents(result.stdout)
    assert set(sent) == {"id"}
    [incident] = listed["incidents"]
    assert incident["title"] == "TypeError in src/users.js:2"
    assert incident["culprit"] == {
        "file": "src/users.js",
        "line": 2,
        "column": 20,
        "function": "getUser",
    }
    assert incident["github_url"].endswith("/src/users.js#L2")
    assert incident["github_url"].startswith("https://github.com/octo-org/shop-api/blob/4f2a9c1e")
    assert detail["latest_event"]["frames"][0]["function"] == "getUser"
    assert resolved["status"] == "resolved"
