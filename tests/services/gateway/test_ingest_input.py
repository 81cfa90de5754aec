"""POST /api/ingest refuses bad input with a clear 4xx and stores nothing of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.schema import Event
from tests.support.api import ProjectWithKey, create_project, node_event, sign_in


@pytest.fixture
async def project(gateway: httpx.AsyncClient) -> ProjectWithKey:
    return await create_project(gateway, await sign_in(gateway))


async def _stored(engine: AsyncEngine, project: ProjectWithKey) -> int:
    async with create_sessionmaker(engine)() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.project_id == uuid.UUID(project.id))
        )
    return count or 0


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert set(body) == {"code", "message", "field"}
    return body


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


def _nested(depth: int) -> bytes:
    return b'{"platform": "node", "tags": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


BAD_BODIES: list[tuple[str, bytes, str | None]] = [
    ("malformed JSON", b'{"platform": "node",', None),
    ("not an object", b"[1, 2, 3]", None),
    ("wrong type", orjson.dumps(node_event(environment=42)), "environment"),
    ("wrong nested type", orjson.dumps(node_event(exception={"type": 7})), "exception.type"),
    ("missing platform", orjson.dumps(_without(node_event(), "platform")), "platform"),
    ("unknown platform", orjson.dumps(node_event(platform="cobol")), "platform"),
    ("unknown field", orjson.dumps(node_event(owner_id="someone")), "owner_id"),
    (
        "unknown nested field",
        orjson.dumps(node_event(runtime={"name": "node", "arch": "x64"})),
        "runtime.arch",
    ),
    ("nothing to report", orjson.dumps(_without(node_event(), "exception")), "exception"),
    ("bad event id", orjson.dumps(node_event(event_id="42")), "event_id"),
    ("bad commit", orjson.dumps(node_event(commit_sha="main")), "commit_sha"),
    ("naive timestamp", orjson.dumps(node_event(timestamp="2026-11-25T10:00:00")), "timestamp"),
    ("too many tags", orjson.dumps(node_event(tags={f"t{i}": "v" for i in range(51)})), "tags"),
    ("deeply nested JSON", _nested(5000), None),
    ("invalid UTF-8", b'{"platform": "node", "message": "\xff\xfe"}', None),
    ("lone surrogate", b'{"platform": "node", "message": "\\ud800"}', None),
    ("empty batch", b'{"events": []}', "events"),
    ("batch over 100", orjson.dumps({"events": [node_event() for _ in range(101)]}), "events"),
    (
        "bad event in a batch",
        orjson.dumps({"events": [node_event(), node_event(platform=1)]}),
        "events[1].platform",
    ),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
async def test_bad_bodies_get_400_naming_the_field_and_store_nothing(
    gateway: httpx.AsyncClient,
    engine: AsyncEngine,
    project: ProjectWithKey,
    case: str,
    body: bytes,
    field: str | None,
) -> None:
    response = await gateway.post(
        "/api/ingest", content=body, headers={**project.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == "invalid_argument"
    assert error["field"] == field
    assert await _stored(engine, project) == 0


async def test_bodies_over_one_mebibyte_get_413(
    gateway: httpx.AsyncClient, engine: AsyncEngine, project: ProjectWithKey
) -> None:
    huge_stack = orjson.dumps(
        node_event(exception={"type": "E", "stack": "x" * (10 * 1024 * 1024)})
    )
    response = await gateway.post("/api/ingest", content=huge_stack, headers=project.headers)
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    # Without a Content-Length the limit holds as the body streams in.
    streamed = await gateway.post("/api/ingest", content=chunks(), headers=project.headers)
    assert streamed.status_code == 413
    assert await _stored(engine, project) == 0


async def test_a_batch_is_stored_whole(
    gateway: httpx.AsyncClient, engine: AsyncEngine, project: ProjectWithKey
) -> None:
    events = [node_event(), node_event(error_type="RangeError"), node_event()]
    response = await gateway.post("/api/ingest", json={"events": events}, headers=project.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"ids": [e["event_id"] for e in events]}
    assert await _stored(engine, project) == 3


async def test_a_retried_event_is_acknowledged_and_stored_once(
    gateway: httpx.AsyncClient, engine: AsyncEngine, project: ProjectWithKey
) -> None:
    event = node_event()
    for _ in range(3):
        response = await gateway.post("/api/ingest", json=event, headers=project.headers)
        assert response.status_code == 200
    assert await _stored(engine, project) == 1


async def test_an_event_without_id_or_time_gets_both(
    gateway: httpx.AsyncClient, project: ProjectWithKey
) -> None:
    event = _without(_without(node_event(), "event_id"), "timestamp")
    response = await gateway.post("/api/ingest", json=event, headers=project.headers)
    assert response.status_code == 200
    assert uuid.UUID(response.json()["id"]).version == 4


async def test_nul_characters_are_kept_as_replacement_characters(
    gateway: httpx.AsyncClient, project: ProjectWithKey
) -> None:
    account = await sign_in(gateway)
    owned = await create_project(gateway, account)
    response = await gateway.post(
        "/api/ingest",
        json=node_event(message="null\u0000byte", tags={"k": "v\u0000"}),
        headers=owned.headers,
    )
    assert response.status_code == 200, response.text
    listed = await gateway.get(
        "/api/incidents", params={"repo": owned.repo}, headers=account.headers
    )
    assert listed.json()["incidents"][0]["message"] == "null\ufffdbyte"


async def test_cors_preflight_lets_browsers_send_events(gateway: httpx.AsyncClient) -> None:
    response = await gateway.options(
        "/api/ingest",
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
