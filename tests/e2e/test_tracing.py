"""One request followed across the processes: its trace id on every log line it left."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.local_stack import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(
        f"sqlite:///{tmp_path / 'stackline.db'}",
        tmp_path,
        env={"STACKLINE_LOG_FORMAT": "json", "STACKLINE_LOG_LEVEL": "DEBUG"},
    )
    yield stack
    stack.close()


def _lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for text in output.splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_a_request_s_trace_is_on_its_lines_in_the_gateway_and_each_service_it_called(
    stack: LocalStack,
) -> None:
    stack.wait_until_running()
    stack.keep_reading()
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        token = client.post("/api/auth/dev-login", json={"login": "octocat"}).json()["access_token"]
        user = {"Authorization": f"Bearer {token}"}
        created = client.post(
            "/api/projects", json={"name": "Shop", "repo": "octo-org/shop"}, headers=user
        )
        key = {"Authorization": f"Bearer {created.json()['ingest_key']}"}

        caller_trace = secrets.token_hex(16)
        traceparent = f"00-{caller_trace}-{secrets.token_hex(8)}-01"
        event = {
            "event_id": str(uuid.uuid4()),
            "platform": "python",
            "exception": {"type": "ValueError", "message": "bad price", "stack": ""},
        }
        sent = client.post("/api/ingest", json=event, headers={**key, "traceparent": traceparent})
        assert sent.status_code == 200, sent.text
        assert sent.headers["X-Request-Id"] == caller_trace

        # Without a traceparent the gateway starts a trace, and names it.
        listed = client.get("/api/incidents", params={"repo": "octo-org/shop"}, headers=user)
        started_trace = listed.headers["X-Request-Id"]
        assert len(started_trace) == 32 and started_trace != caller_trace
    stack.close()
    lines = _lines(stack.finish())

    def services_of(trace_id: str) -> set[str]:
        return {line["service"] for line in lines if line.get("trace_id") == trace_id}

    # The ingest key was checked by AuthService and the event stored by IngestService.
    assert services_of(caller_trace) >= {"gateway", "auth", "ingest"}
    assert services_of(started_trace) >= {"gateway", "incidents"}
    # Each request left its own lines: no trace spills into another request's.
    assert not services_of(caller_trace) & {"incidents"}
