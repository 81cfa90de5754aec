"""`POST /api/ingest` handed straight to its endpoint, past FastAPI's router.

The route stays declared in FastAPI, so OpenAPI, the route table and every
test that walks them see it as any other. On the gateway's hottest path,
though, routing, the exception middleware and the request-scoped exit stack
cost about as much CPU as the ingest work (bench/README.md), so its requests
skip them: same endpoint, same error answers, same middleware around it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.errors import respond_to_error

Endpoint = Callable[[Request], Awaitable[Response]]


class IngestFastPath:
    def __init__(self, app: ASGIApp, *, router: APIRouter, endpoint: Endpoint) -> None:
        self.app = app
        self._endpoint = endpoint
        self._route = next(
            route
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint is endpoint
        )
        self._path = self._route.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route  # what the metrics label the request by
        request = Request(scope, receive, send)
        try:
            response = await self._endpoint(request)
        except Exception as exc:  # answered as every route's errors are
            response = await respond_to_error(request, exc)
        await response(scope, receive, send)
