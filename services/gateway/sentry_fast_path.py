"""Sentry's envelope and store routes handed straight to their endpoints, past FastAPI's router.

For the reason `ingest_fast_path` gives for `POST /api/ingest`: routing, the exception
middleware and the request-scoped exit stack cost about as much CPU as the ingest work. The
routes stay declared in FastAPI for OpenAPI; errors are answered by the same function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.errors import respond_to_error

Endpoint = Callable[[str, Request], Awaitable[Response]]


class SentryFastPath:
    def __init__(self, app: ASGIApp, *, router: APIRouter, endpoints: Sequence[Endpoint]) -> None:
        self.app = app
        self._routes = [
            (route, endpoint)
            for endpoint in endpoints
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint is endpoint
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A cheap test first: every other request passes with two string comparisons.
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith(("/envelope/", "/store/"))
        ):
            await self.app(scope, receive, send)
            return
        for route, endpoint in self._routes:
            match = route.path_regex.match(scope["path"])
            if match is None:
                continue
            scope["route"] = route  # what the metrics label the request by
            request = Request(scope, receive, send)
            try:
                response = await endpoint(match["project_id"], request)
            except Exception as exc:  # answered as every route's errors are
                response = await respond_to_error(request, exc)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
