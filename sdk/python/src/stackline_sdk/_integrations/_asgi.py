"""ASGI middleware (FastAPI, Starlette, any ASGI app): request errors are reported, then re-raised.

Written against the raw ASGI protocol, so it needs no framework. Each request
runs in its own scope carrying its method and scrubbed URL; only the Host
header is read, never cookies or Authorization.

With Starlette and FastAPI, `app.add_middleware(StacklineASGIMiddleware)`
puts it inside Starlette's error middleware, so it sees the exceptions that
become 500 responses, and none of the HTTPExceptions the app raises on purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._event import MAX_METHOD, MAX_URL, truncate
from .._hub import get_client
from .._scope import note_serves_requests, request_scope
from .._scrub import scrub_query
from .._types import RequestData

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_data(scope: Scope) -> RequestData:
    scheme = scope.get("scheme") or ("ws" if scope.get("type") == "websocket" else "http")
    host = ""
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value.decode("latin-1")
            break
    if not host and scope.get("server"):
        server_host, port = scope["server"][0], scope["server"][1]
        default = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(scheme)
        host = server_host if port in (None, default) else f"{server_host}:{port}"
    root_path = scope.get("root_path") or ""
    path = scope.get("path") or ""
    if root_path and not path.startswith(root_path):
        path = root_path + path
    url = f"{scheme}://{host}{path}"
    query = scope.get("query_string") or b""
    if query:
        url += "?" + scrub_query(bytes(query).decode("latin-1"))
    method = truncate(str(scope.get("method") or "GET"), MAX_METHOD)
    return {"method": method, "url": truncate(url, MAX_URL)}


class StacklineASGIMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        note_serves_requests()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan and the like
            return
        with request_scope() as scope_of_request:
            # A malformed scope is the server's problem, not ours to raise.
            with contextlib.suppress(Exception):
                scope_of_request.request = request_data(scope)
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                client = get_client()
                if client is not None:
                    client.capture_exception(exc)
                raise
