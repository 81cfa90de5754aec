"""Source-map uploads cannot be used to fill IngestService's memory: another user's upload is
refused before its body is read, at the gateway and in the service, uploads run at most
one per user and two in all, and a map whose parse would exceed the budget is refused (413)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from prometheus_client import REGISTRY
from stackline.common.v1 import common_pb2
from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from services.ingest.sourcemaps import (
    DEFAULT_PARSE_BUDGET,
    MAX_ITEMS,
    MAX_SOURCEMAP_BYTES,
    parse_cost,
)
from tests.conftest import Stack
from tests.support.api import Account, create_project, sign_in
from tests.support.clocks import HANG_GUARD_SECONDS

COMMIT = "7a1f" + "0" * 36
MIB = 1024 * 1024


async def test_the_gateway_refuses_another_users_upload_before_reading_it(
    gateway: httpx.AsyncClient,
) -> None:
    owner = await sign_in(gateway)
    project = await create_project(gateway, owner)
    stranger = await sign_in(gateway)
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(48):
            pulled += 1
            yield b" " * MIB

    refused = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": "app.js", "commit_sha": COMMIT},
        content=body(),
        headers=stranger.headers,
    )
    assert refused.status_code == 404
    assert pulled <= 1, f"the gateway read {pulled} MiB of a body it was going to refuse"


async def test_a_chunked_upload_over_the_limit_is_stopped_at_the_limit(
    gateway: httpx.AsyncClient,
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(60):
            pulled += 1
            yield b" " * MIB

    refused = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": "app.js", "commit_sha": COMMIT},
        content=body(),
        headers=account.headers,
    )
    assert refused.status_code == 413, refused.text
    assert pulled <= 51


def _actor(account: Account) -> common_pb2.Actor:
    return common_pb2.Actor(user_id=account.user_id, source_ip="127.0.0.1")


async def test_the_service_refuses_another_users_upload_after_its_first_message(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    project = await create_project(gateway, await sign_in(gateway))
    stranger = await sign_in(gateway)
    async with grpc.aio.insecure_channel(stack.targets["ingest"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        call = stub.UploadSourceMap(timeout=10)
        await call.write(
            ingest_pb2.UploadSourceMapRequest(
                actor=_actor(stranger), project_id=project.id, commit_sha=COMMIT, bundle="app.js"
            )
        )
        # The answer comes before a byte of the map is sent (it would wait for the map, and
        # then for the deadline, if the service read first and asked later).
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_uploads_run_one_per_user_and_two_in_all(
    stack: Stack, gateway: httpx.AsyncClient
) -> None:
    users = [await sign_in(gateway) for _ in range(3)]
    projects = [await create_project(gateway, user) for user in users]
    release = asyncio.Event()

    def held(index: int) -> AsyncIterator[ingest_pb2.UploadSourceMapRequest]:
        """An upload that starts and then waits, as a slow client's would."""

        async def messages() -> AsyncIterator[ingest_pb2.UploadSourceMapRequest]:
            yield ingest_pb2.UploadSourceMapRequest(
                actor=_actor(users[index]),
                project_id=projects[index].id,
                commit_sha=COMMIT,
                bundle="app.js",
                data=b'{"version": 3, ',
            )
            await release.wait()
            yield ingest_pb2.UploadSourceMapRequest(
                data=b'"sources": [], "names": [], "mappings": ""}'
            )

        return messages()

    def quick(index: int) -> AsyncIterator[ingest_pb2.UploadSourceMapRequest]:
        async def messages() -> AsyncIterator[ingest_pb2.UploadSourceMapRequest]:
            yield ingest_pb2.UploadSourceMapRequest(
                actor=_actor(users[index]),
                project_id=projects[index].id,
                commit_sha=COMMIT,
                bundle="other.js",
                data=b'{"version": 3, "sources": [], "names": [], "mappings": ""}',
            )

        return messages()

    async with grpc.aio.insecure_channel(stack.targets["ingest"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)

        async def refused(messages: AsyncIterator[ingest_pb2.UploadSourceMapRequest]) -> str:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.UploadSourceMap(messages, timeout=HANG_GUARD_SECONDS)
            assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return str(exc.value.details())

        async def running(count: int) -> None:
            """Until the service holds `count` uploads (its gauge, in this process)."""
            # Polled: the gauge has no event to wait on; the caller's wait_for bounds it.
            while True:
                if REGISTRY.get_sample_value("stackline_ingest_sourcemap_uploads_running") == count:
                    return
                await asyncio.sleep(0.01)

        first = asyncio.ensure_future(stub.UploadSourceMap(held(0), timeout=HANG_GUARD_SECONDS))
        await asyncio.wait_for(running(1), HANG_GUARD_SECONDS)
        assert "running already" in await refused(quick(0))
        second = asyncio.ensure_future(stub.UploadSourceMap(held(1), timeout=HANG_GUARD_SECONDS))
        await asyncio.wait_for(running(2), HANG_GUARD_SECONDS)
        assert "busy" in await refused(quick(2))
        release.set()
        done = await asyncio.wait_for(asyncio.gather(first, second), HANG_GUARD_SECONDS)
        assert all(d.source_map.id for d in done)
        # Slots are given back: the same users upload again.
        assert (await stub.UploadSourceMap(quick(0), timeout=HANG_GUARD_SECONDS)).source_map.id
        assert (await stub.UploadSourceMap(quick(2), timeout=HANG_GUARD_SECONDS)).source_map.id


async def test_a_map_over_the_parse_budget_is_413(gateway: httpx.AsyncClient) -> None:
    # Within the size and value limits each, over the budget together: text that is not ASCII
    # (4 bytes a character once parsed) and 3.9 million values.
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    content = "é," * 3_900_000 + "é" * 15_000_000
    data = json.dumps(
        {"version": 3, "sources": ["a.js"], "mappings": "AAAA", "sourcesContent": [content]},
        ensure_ascii=False,
    ).encode()
    assert len(data) <= MAX_SOURCEMAP_BYTES and data.count(b",") <= MAX_ITEMS
    assert parse_cost(data) > DEFAULT_PARSE_BUDGET
    refused = await gateway.post(
        f"/api/projects/{project.id}/sourcemaps",
        params={"bundle": "app.js", "commit_sha": COMMIT},
        content=data,
        headers=account.headers,
    )
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["field"] == "data"
    assert "budget" in refused.json()["error"]["message"]
    listed = await gateway.get(f"/api/projects/{project.id}/sourcemaps", headers=account.headers)
    assert listed.json()["source_maps"] == []
