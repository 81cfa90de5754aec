"""Transports: one HTTP attempt each, called only from the worker thread.

A transport sends one request and returns the response, or raises when no
response came (refused, timed out, cut off, not HTTP). Retries, backoff and
rate limits are the worker's business, so a test can swap the network for a
MockTransport and still exercise all of that policy.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

# Enough for any error body the ingest API sends; a longer body is not read,
# and the connection is not reused.
MAX_RESPONSE_BODY = 64 * 1024


@dataclass(frozen=True)
class Request:
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class TransportError(Exception):
    """No HTTP response: the connection failed, timed out or broke."""


class Transport(Protocol):
    def send(self, request: Request) -> Response: ...

    def close(self) -> None: ...


class HTTPTransport:
    """POST over http.client, one kept-alive connection, no dependencies.

    `timeout` bounds the connect and each read, so a server that never
    answers costs the worker thread that long, never the app.
    """

    def __init__(self, *, timeout: float = 5.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._conn: http.client.HTTPConnection | None = None
        self._conn_key: tuple[str, str] | None = None
        self._conn_used = False
        self._pid = os.getpid()

    def send(self, request: Request) -> Response:
        if self._pid != os.getpid():
            # A forked child shares the parent's socket: forget it, never close it.
            self._conn = None
            self._pid = os.getpid()
        parts = urlsplit(request.url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for attempt in (1, 2):
            conn, reused = self._connection(parts.scheme, parts.netloc)
            try:
                conn.request("POST", target, body=request.body, headers=dict(request.headers))
                raw = conn.getresponse()
                if raw.length is not None and raw.length <= MAX_RESPONSE_BODY:
                    # read() without a size raises IncompleteRead when the body
                    # is cut short: a cut answer is no answer, and the worker
                    # retries (the server drops the duplicate by event_id).
                    body = raw.read()
                else:
                    body = raw.read(MAX_RESPONSE_BODY)
                response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body)
                if raw.will_close or not raw.isclosed():
                    self._discard()
                return response
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._discard()
                # A kept-alive connection the server closed meanwhile: one fresh try.
                if reused and attempt == 1:
                    continue
                raise TransportError(f"connection lost: {exc!r}") from exc
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self._discard()
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        raise TransportError("unreachable")  # pragma: no cover

    def _connection(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        key = (scheme, netloc)
        if self._conn is not None and self._conn_key == key:
            return self._conn, True
        self._discard()
        conn: http.client.HTTPConnection
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            conn = http.client.HTTPSConnection(
                netloc, timeout=self._timeout, context=self._ssl_context
            )
        elif scheme == "http":
            conn = http.client.HTTPConnection(netloc, timeout=self._timeout)
        else:
            raise TransportError(f"unsupported URL scheme {scheme!r}")
        self._conn, self._conn_key = conn, key
        return conn, False

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        if self._pid == os.getpid():
            self._discard()
        self._conn = None


class MockTransport:
    """Answers with a function of the request, like httpx.MockTransport.

    The handler may raise to stand for a network failure.
    """

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self._handler = handler

    def send(self, request: Request) -> Response:
        return self._handler(request)

    def close(self) -> None:
        pass
