"""Sentry's routes with hand-made envelopes: each bad case answered with its own 4xx and nothing
stored, every encoding and framing the SDKs use read, and events placed like native ones."""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import brotli
import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.sentry_envelope import project_number
from stackline_contract import keyformat
from stackline_infra.db.engine import create_sessionmaker
from stackline_infra.db.schema import Event
from tests.support.api import COMMIT, Account, ProjectWithKey, create_project, sign_in

LIMIT = 1024 * 1024  # the gateway's max_body_bytes, as for POST /api/ingest


def python_event(**fields: Any) -> dict[str, Any]:
    """An event as sentry-sdk 2 sends it from a package deployed at /srv/shop."""
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": "2026-11-25T10:00:00.123456Z",
        "platform": "python",
        "level": "error",
        "release": COMMIT,
        "environment": "production",
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}},
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'sku-42'",
                    "module": None,
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "shop/cli.py",
                                "abs_path": "/srv/shop/shop/cli.py",
                                "module": "shop.cli",
                                "function": "main",
                                "lineno": 12,
                                "context_line": "    checkout(cart)",
                                "in_app": True,
                            },
                            {
                                "filename": "shop/pricing.py",
                                "abs_path": "/srv/shop/shop/pricing.py",
                                "module": "shop.pricing",
                                "function": "price_of",
                                "lineno": 31,
                                "context_line": "    return PRICES[sku]",
                                "in_app": True,
                            },
                        ]
                    },
                }
            ]
        },
        **fields,
    }


def envelope(*items: tuple[dict[str, Any], bytes], header: dict[str, Any] | None = None) -> bytes:
    lines = [orjson.dumps(header or {})]
    for item_header, payload in items:
        lines += [orjson.dumps(item_header), payload]
    return b"\n".join(lines) + b"\n"


def event_item(event: dict[str, Any], *, with_length: bool = True) -> tuple[dict[str, Any], bytes]:
    payload = orjson.dumps(event)
    header: dict[str, Any] = {"type": "event"}
    if with_length:
        header |= {"content_type": "application/json", "length": len(payload)}
    return header, payload


def auth(key: str) -> dict[str, str]:
    return {
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0",
        "Content-Type": "application/x-sentry-envelope",
    }


def envelope_url(project: ProjectWithKey) -> str:
    return f"/api/{project_number(project.id)}/envelope/"


@pytest.fixture
async def account(gateway: httpx.AsyncClient) -> Account:
    return await sign_in(gateway)


@pytest.fixture
async def project(gateway: httpx.AsyncClient, account: Account) -> ProjectWithKey:
    return await create_project(gateway, account)


async def _stored(engine: AsyncEngine, project: ProjectWithKey) -> int:
    async with create_sessionmaker(engine)() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.project_id == uuid.UUID(project.id))
        )
    return count or 0


async def _incidents(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> list[dict[str, Any]]:
    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    assert listed.status_code == 200, listed.text
    incidents: list[dict[str, Any]] = listed.json()["incidents"]
    return incidents


def _items(kind: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "stackline_gateway_sentry_items_total", {"type": kind, "outcome": outcome}
    )
    return value or 0.0


async def test_an_event_is_placed_grouped_and_linked_like_a_native_one(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> None:
    first, second = python_event(), python_event()
    second["exception"]["values"][0]["stacktrace"]["frames"][1]["lineno"] = 33
    for event in (first, second):
        sent = await gateway.post(
            envelope_url(project),
            content=envelope(event_item(event), header={"event_id": event["event_id"]}),
            headers=auth(project.key),
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"id": event["event_id"]}

    [incident] = await _incidents(gateway, account, project)
    assert incident["count"] == 2
    assert incident["title"] == "KeyError in shop/pricing.py:33"
    assert incident["culprit"] == {
        "file": "shop/pricing.py",
        "line": 33,
        "column": None,
        "function": "price_of",
    }
    assert incident["commit_sha"] == COMMIT
    assert incident["github_url"] == (
        f"https://github.com/{project.repo}/blob/{COMMIT}/shop/pricing.py#L33"
    )
    detail = (await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)).json()
    latest = detail["latest_event"]
    assert [f["file"] for f in latest["frames"]] == ["shop/pricing.py", "shop/cli.py"]
    assert latest["event_id"] == str(uuid.UUID(second["event_id"]))
    assert detail["environments"] == ["production"]


async def test_chained_exceptions_keep_their_causes(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> None:
    event = python_event()
    [thrown] = event["exception"]["values"]
    cause = {
        "type": "ConnectionError",
        "value": "pricing service down",
        "stacktrace": {"frames": [dict(thrown["stacktrace"]["frames"][1], lineno=29)]},
    }
    event["exception"]["values"] = [cause, thrown]
    sent = await gateway.post(
        envelope_url(project), content=envelope(event_item(event)), headers=auth(project.key)
    )
    assert sent.status_code == 200, sent.text
    [incident] = await _incidents(gateway, account, project)
    detail = (await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)).json()
    [shown] = detail["latest_event"]["causes"]
    assert (shown["type"], shown["message"], shown["relation"]) == (
        "ConnectionError",
        "pricing service down",
        "cause",
    )
    assert shown["frames"][0]["file"] == "shop/pricing.py"
    assert shown["frames"][0]["line"] == 29
    assert incident["culprit"]["line"] == 31


async def test_message_events_group_by_message(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> None:
    for order in (1041, 2203):
        event = {
            "platform": "python",
            "level": "warning",
            "logentry": {"message": "order %s stuck", "formatted": f"order {order} stuck"},
        }
        sent = await gateway.post(
            envelope_url(project), content=envelope(event_item(event)), headers=auth(project.key)
        )
        assert sent.status_code == 200, sent.text
    [incident] = await _incidents(gateway, account, project)
    assert incident["count"] == 2


def _compressions() -> Iterator[tuple[str, Any]]:
    yield "gzip", gzip.compress
    yield "deflate", zlib.compress
    yield "br", brotli.compress


@pytest.mark.parametrize(("coding", "compress"), list(_compressions()), ids=lambda v: str(v)[:8])
async def test_compressed_bodies_are_read(
    gateway: httpx.AsyncClient, project: ProjectWithKey, coding: str, compress: Any
) -> None:
    event = python_event()
    body = compress(envelope(event_item(event)))
    sent = await gateway.post(
        envelope_url(project),
        content=body,
        headers=auth(project.key) | {"Content-Encoding": coding},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"id": event["event_id"]}


async def test_a_chunked_body_without_lengths_authenticated_by_query_is_read(
    gateway: httpx.AsyncClient, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    """As @sentry/node sends it: no Content-Length, no item lengths, the key in the URL."""
    event = python_event(platform="node", sdk={"name": "sentry.javascript.node"})
    body = envelope(event_item(event, with_length=False), ({"type": "session"}, b'{"sid": "x"}'))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    sent = await gateway.post(
        envelope_url(project),
        params={"sentry_version": "7", "sentry_key": project.key},
        content=chunks(),
    )
    assert sent.status_code == 200, sent.text
    assert await _stored(engine, project) == 1


async def test_the_dsn_in_the_envelope_header_authenticates(
    gateway: httpx.AsyncClient, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    dsn = f"http://{project.key}@stackline.test/{project_number(project.id)}"
    sent = await gateway.post(
        envelope_url(project),
        content=envelope(event_item(python_event()), header={"dsn": dsn}),
    )
    assert sent.status_code == 200, sent.text
    assert await _stored(engine, project) == 1


async def test_the_store_route_takes_one_event(
    gateway: httpx.AsyncClient, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    event = python_event()
    sent = await gateway.post(
        f"/api/{project_number(project.id)}/store/",
        content=gzip.compress(orjson.dumps(event)),
        headers=auth(project.key) | {"Content-Encoding": "gzip"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"id": event["event_id"]}
    assert await _stored(engine, project) == 1


async def test_everything_but_events_is_acknowledged_dropped_and_counted(
    gateway: httpx.AsyncClient, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    before = {kind: _items(kind, "dropped") for kind in ("transaction", "session", "other")}
    header = {"event_id": uuid.uuid4().hex}
    sent = await gateway.post(
        envelope_url(project),
        content=envelope(
            ({"type": "transaction"}, orjson.dumps({"type": "transaction", "spans": []})),
            ({"type": "session"}, b'{"sid": "a", "status": "ok"}'),
            ({"type": "made_up_type", "length": 3}, b"abc"),
            header=header,
        ),
        headers=auth(project.key),
    )
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"id": header["event_id"]}
    assert await _stored(engine, project) == 0
    assert {kind: _items(kind, "dropped") - before[kind] for kind in before} == {
        "transaction": 1,
        "session": 1,
        "other": 1,
    }


def _bomb() -> bytes:
    # 64 MiB of zeros in about 64 KiB: read whole, it would be a memory spike.
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1024 * 1024)
    return b"".join(compressor.compress(block) for _ in range(64)) + compressor.flush()


GOOD = orjson.dumps(python_event())
BAD_ENVELOPES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("header not JSON", b"{not json\n", {}, 400),
    ("header not an object", b"[1]\n", {}, 400),
    ("item header broken", b'{}\n{"type": "event", "length": \n' + GOOD + b"\n", {}, 400),
    ("item without a type", b'{}\n{"length": 2}\n{}\n', {}, 400),
    (
        "length past the end",
        b'{}\n{"type": "event", "length": ' + str(len(GOOD) + 50).encode() + b"}\n" + GOOD,
        {},
        400,
    ),
    (
        "length short of the payload",
        b'{}\n{"type": "event", "length": ' + str(len(GOOD) - 5).encode() + b"}\n" + GOOD + b"\n",
        {},
        400,
    ),
    ("negative length", b'{}\n{"type": "event", "length": -1}\n{}\n', {}, 400),
    ("event not JSON", b'{}\n{"type": "event"}\n{"platform": \n', {}, 400),
    ("event not an object", b'{}\n{"type": "event"}\n[1, 2]\n', {}, 400),
    (
        "event with nothing to report",
        b'{}\n{"type": "event"}\n{"platform": "python"}\n',
        {},
        400,
    ),
    ("says gzip, is not", envelope(event_item(python_event())), {"Content-Encoding": "gzip"}, 400),
    (
        "gzip cut short",
        gzip.compress(envelope(event_item(python_event())))[:-20],
        {"Content-Encoding": "gzip"},
        400,
    ),
    ("says br, is not", b"plain text", {"Content-Encoding": "br"}, 400),
    ("unknown encoding", b"x", {"Content-Encoding": "zstd"}, 400),
    ("over the limit as sent", b"{}\n" + b" " * LIMIT, {}, 413),
    ("gzip bomb", _bomb(), {"Content-Encoding": "gzip"}, 413),
    ("brotli bomb", brotli.compress(b"\0" * (8 * LIMIT)), {"Content-Encoding": "br"}, 413),
]


@pytest.mark.parametrize(
    ("case", "body", "headers", "status"), BAD_ENVELOPES, ids=[c[0] for c in BAD_ENVELOPES]
)
async def test_bad_envelopes_are_refused_with_a_reason_and_store_nothing(
    gateway: httpx.AsyncClient,
    project: ProjectWithKey,
    engine: AsyncEngine,
    case: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    refused = await gateway.post(
        envelope_url(project), content=body, headers=auth(project.key) | headers
    )
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["message"]
    assert await _stored(engine, project) == 0


async def test_keys_are_checked(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    other = await create_project(gateway, account)
    body = envelope(event_item(python_event()))

    # Another project's key for this project's number: the key is fine, the place is not.
    wrong_project = await gateway.post(envelope_url(project), content=body, headers=auth(other.key))
    assert wrong_project.status_code == 403, wrong_project.text

    unknown = keyformat.generate()
    for headers in (auth(unknown), auth("slk_" + "A" * 42), auth("not-a-key"), {}):
        refused = await gateway.post(envelope_url(project), content=body, headers=headers)
        assert refused.status_code == 401, refused.text
        assert unknown not in refused.text

    revoked = await gateway.post(f"/api/projects/{project.id}/keys", headers=account.headers)
    key = revoked.json()
    await gateway.delete(
        f"/api/projects/{project.id}/keys/{key['key']['id']}", headers=account.headers
    )
    refused = await gateway.post(
        envelope_url(project), content=body, headers=auth(key["ingest_key"])
    )
    # As on POST /api/ingest: a revoked key is known, and refused with 403.
    assert refused.status_code == 403, refused.text
    assert await _stored(engine, project) == 0
    assert await _stored(engine, other) == 0


async def test_browsers_may_post_across_origins(
    gateway: httpx.AsyncClient, project: ProjectWithKey
) -> None:
    sent = await gateway.post(
        envelope_url(project),
        params={"sentry_key": project.key, "sentry_version": "7"},
        content=envelope(event_item(python_event(platform="javascript"))),
        headers={"Origin": "https://shop.example.com", "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.headers["access-control-allow-origin"] == "*"
    assert "x-sentry-rate-limits" in sent.headers["access-control-expose-headers"].lower()

    # A page that sends the key in Sentry's header asks first.
    preflight = await gateway.options(
        envelope_url(project),
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-sentry-auth, content-type",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert "x-sentry-auth" in preflight.headers["access-control-allow-headers"].lower()


async def test_a_release_recorded_by_ci_gives_its_events_their_commit(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey
) -> None:
    releases = f"/api/projects/{project.id}/releases"
    recorded = await gateway.post(
        releases,
        json={"version": "shop@1.4.0", "commit_sha": COMMIT.upper()},
        headers=account.headers,
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["version"], recorded.json()["commit_sha"]) == ("shop@1.4.0", COMMIT)
    other = "fedcba9876543210fedcba9876543210fedcba98"
    moved = await gateway.post(
        releases, json={"version": "shop@1.4.0", "commit_sha": other}, headers=account.headers
    )
    assert moved.status_code == 200, moved.text
    await gateway.post(
        releases, json={"version": "shop@1.5.0", "commit_sha": COMMIT}, headers=account.headers
    )
    listed = (await gateway.get(releases, headers=account.headers)).json()["releases"]
    assert [(r["version"], r["commit_sha"]) for r in listed] == [
        ("shop@1.5.0", COMMIT),
        ("shop@1.4.0", other),
    ]

    event = python_event(release="shop@1.5.0")
    sent = await gateway.post(
        envelope_url(project), content=envelope(event_item(event)), headers=auth(project.key)
    )
    assert sent.status_code == 200, sent.text
    [incident] = await _incidents(gateway, account, project)
    assert incident["commit_sha"] == COMMIT
    assert incident["github_url"].startswith(f"https://github.com/{project.repo}/blob/{COMMIT}/")


@pytest.mark.parametrize(
    "body",
    [
        {"version": "", "commit_sha": COMMIT},
        {"version": "x" * 201, "commit_sha": COMMIT},
        {"version": "shop@1", "commit_sha": "main"},
        {"version": "shop@1"},
        {"version": "shop@1", "commit_sha": COMMIT, "project_id": "other"},
    ],
    ids=["empty version", "long version", "not a sha", "no commit", "unknown field"],
)
async def test_bad_release_commits_are_refused(
    gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey, body: dict[str, str]
) -> None:
    refused = await gateway.post(
        f"/api/projects/{project.id}/releases", json=body, headers=account.headers
    )
    assert refused.status_code == 400, refused.text
    listed = await gateway.get(f"/api/projects/{project.id}/releases", headers=account.headers)
    assert listed.json() == {"releases": []}


async def test_events_of_runtimes_stackline_cannot_read_are_dropped_not_refused(
    gateway: httpx.AsyncClient, project: ProjectWithKey, engine: AsyncEngine
) -> None:
    before = _items("event", "dropped")
    java = python_event(platform="java", sdk={"name": "sentry.java", "version": "8.47.0"})
    sent = await gateway.post(
        envelope_url(project), content=envelope(event_item(java)), headers=auth(project.key)
    )
    assert sent.status_code == 200, sent.text
    stored = await gateway.post(
        f"/api/{project_number(project.id)}/store/",
        content=orjson.dumps(java),
        headers=auth(project.key),
    )
    assert stored.status_code == 200, stored.text
    assert _items("event", "dropped") - before == 2
    assert await _stored(engine, project) == 0
