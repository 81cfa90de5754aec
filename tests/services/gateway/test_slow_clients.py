"""Slow clients against the gateway served by uvicorn for real, over TCP: headers that never
finish and bodies that stop are closed, one address holds a bounded number of connections, and
an abandoned body is one INFO line, not an ERROR with a traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from services.gateway.app import create_app
from services.gateway.slow_clients import guarded_protocol
from tests.conftest import Stack, gateway_settings
from tests.support.api import create_project, sign_in
from tests.support.clocks import HANG_GUARD_SECONDS


@pytest.fixture
async def served(stack: Stack) -> AsyncIterator[int]:
    """The gateway on a free loopback port, with short limits: 1 s for headers and for a pause
    in a body, three connections per address."""
    app = create_app(gateway_settings(stack.targets))
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http=guarded_protocol(header_seconds=1, body_seconds=1, per_address=3),
        access_log=False,
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # The socket listens already: connections made before serving starts wait in its backlog.
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, HANG_GUARD_SECONDS)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection."""
    return await asyncio.wait_for(reader.read(), HANG_GUARD_SECONDS)


async def test_headers_that_never_finish_are_closed(
    served: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.gateway")
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"POST /api/ingest HTTP/1.1\r\nHost: stackline.test\r\nX-Slow: ")
    await writer.drain()
    assert await _closed_by_server(reader) == b""
    writer.close()
    closed = [r for r in caplog.records if "no complete request headers" in r.getMessage()]
    assert len(closed) == 1 and closed[0].levelno == logging.INFO


async def test_a_silent_connection_is_closed(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    assert await _closed_by_server(reader) == b""
    writer.close()


async def test_a_body_that_stops_is_closed_with_one_info_line(
    served: int, gateway: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    project = await create_project(gateway, await sign_in(gateway))
    caplog.set_level(logging.INFO)
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(
        b"POST /api/ingest HTTP/1.1\r\nHost: stackline.test\r\nContent-Length: 1000\r\n"
        + f"Authorization: Bearer {project.key}\r\n\r\n".encode()
        + b'{"platform": '
    )
    await writer.drain()
    await _closed_by_server(reader)
    writer.close()
    closed = [r for r in caplog.records if "no complete request body" in r.getMessage()]
    assert len(closed) == 1 and closed[0].levelno == logging.INFO
    # Whatever the app made of the missing rest, it is not an error with a traceback.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_slow_but_steady_body_is_read(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    body = b'{"login": "steady"}'
    writer.write(
        b"POST /api/auth/dev-login HTTP/1.1\r\nHost: stackline.test\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    for byte in body:
        await writer.drain()
        await asyncio.sleep(0.1)  # a slow client's pace, well inside the limit between pieces
        writer.write(bytes([byte]))
    await writer.drain()
    answer = await _closed_by_server(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


async def test_one_address_holds_at_most_its_share_of_connections(served: int) -> None:
    held = [await asyncio.open_connection("127.0.0.1", served) for _ in range(3)]
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    # The fourth is closed at once, before it sends anything.
    assert await _closed_by_server(reader) == b""
    writer.close()
    for _, w in held:
        w.close()
