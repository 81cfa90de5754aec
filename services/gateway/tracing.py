"""Every public request runs in a trace: the caller's `traceparent`, or a new one.

The trace id goes to every log line written while serving the request, in this process and,
through gRPC metadata, in each service it calls; the response names it in `X-Request-Id`, so
a user can quote it and an operator can find every line the request left.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackline_infra import tracecontext

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_TRACEPARENT = tracecontext.HEADER.encode()


class TraceMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == _TRACEPARENT), None)
        caller = tracecontext.parse(header.decode("latin-1")) if header else None
        trace = tracecontext.active_span() or (caller.child() if caller else tracecontext.new())
        request_id = (REQUEST_ID_HEADER.lower().encode(), trace.trace_id.encode())
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id]
            await send(message)

        with tracecontext.use(trace):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                # The path without its query string, which may carry a key.
                log.debug(
                    "%s %s answered %d in %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )
