"""HTTPTransport on real sockets: one attempt per call, a response or a TransportError."""

from __future__ import annotations

import pytest

from stackline_sdk import HTTPTransport, Request, TransportError

from support import (
    Close,
    Hang,
    Raw,
    Reply,
    always,
    closed_port_url,
    fault_server,
    sequence,
    within_hang_guard,
)

# One event as the SDK would send it: the fault server checks every body it is sent.
BODY = (
    b'{"events":[{"event_id":"0b5e3d3a-54a1-4b8e-9d1c-2f6a1e0c9b7d",'
    b'"timestamp":"2026-01-01T00:00:00Z","platform":"python","message":"m"}]}'
)


def post(url: str, body: bytes = BODY) -> Request:
    return Request(url + "/api/ingest", {"Content-Type": "application/json"}, body)


def test_posts_and_reads_the_answer() -> None:
    with fault_server(always(Reply(429, {"Retry-After": "7"}, b'{"error":{}}'))) as server:
        transport = HTTPTransport(timeout=2)
        response = transport.send(post(server.url))
        [received] = server.received
    assert (response.status, response.header("Retry-After"), response.body) == (
        429,
        "7",
        b'{"error":{}}',
    )
    assert received.method == "POST"
    assert received.path == "/api/ingest"
    assert received.body == BODY
    assert received.headers["content-length"] == str(len(BODY))
    assert received.headers["content-type"] == "application/json"


def test_keeps_the_connection_alive() -> None:
    with fault_server(always(Reply())) as server:
        transport = HTTPTransport(timeout=2)
        for _ in range(3):
            assert transport.send(post(server.url)).status == 200
        assert server.connections == 1


def test_reconnects_once_when_the_server_dropped_the_idle_connection() -> None:
    with fault_server(sequence(Reply(then_close=True), Reply(201))) as server:
        transport = HTTPTransport(timeout=2)
        assert transport.send(post(server.url)).status == 200
        assert server.wait_until(lambda: server.closed_connections == 1)
        assert transport.send(post(server.url)).status == 201
        assert server.connections == 2


def test_honours_connection_close() -> None:
    with fault_server(always(Reply(headers={"Connection": "close"}))) as server:
        transport = HTTPTransport(timeout=2)
        transport.send(post(server.url))
        transport.send(post(server.url))
        assert server.connections == 2


def test_refused() -> None:
    with pytest.raises(TransportError, match="ConnectionRefusedError"):
        HTTPTransport(timeout=2).send(post(closed_port_url()))


def test_never_answering_ends_with_the_timeout() -> None:
    with fault_server(always(Hang())) as server:
        # The server never answers: only the transport's own timeout ends the call.
        with pytest.raises(TransportError, match="timed out"):
            within_hang_guard(lambda: HTTPTransport(timeout=0.3).send(post(server.url)))
        assert len(server.received) == 1


@pytest.mark.parametrize(
    "action",
    [
        Raw(b"\x16\x03\x01garbage\r\n\r\n"),
        Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}"),
        Raw(b"HTTP/1.1 2"),
        Close(),
    ],
    ids=["garbage", "cut-body", "cut-status", "closed"],
)
def test_broken_answers_raise(action: Raw | Close) -> None:
    with fault_server(always(action)) as server, pytest.raises(TransportError):
        HTTPTransport(timeout=2).send(post(server.url))


def test_unsupported_scheme() -> None:
    with pytest.raises(TransportError):
        HTTPTransport().send(Request("ftp://example.com/api/ingest", {}, b""))
