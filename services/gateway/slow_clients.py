"""Slow and greedy clients at the HTTP layer: time limits on reading headers and bodies, and a
cap on open connections per client address.

uvicorn waits for a request's headers and body as long as the client likes, so a few thousand
connections that send a byte now and then hold the gateway's sockets and memory (slowloris).
This protocol is uvicorn's own with three additions: the headers of each request must be
complete within `header_seconds` of its first byte (or of the connection, for the first), the
body may not pause for more than `body_seconds` between pieces, and one address may hold at most
`per_address` connections. A connection that breaks a limit is closed, with one INFO line.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, ClassVar

from prometheus_client import Counter as Count
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

CLOSED = Count(
    "stackline_gateway_slow_connections_closed_total",
    "Connections closed for sending too slowly or for being one too many from an address.",
    ["reason"],
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_seconds: ClassVar[float] = 10.0
    body_seconds: ClassVar[float] = 20.0
    # 0: no cap (behind a proxy every connection comes from the proxy's address).
    per_address: ClassVar[int] = 0
    _open: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._address = ""
        self._counted = False

    # -- connections ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        if self.per_address and self._address:
            if self._open[self._address] >= self.per_address:
                CLOSED.labels("per_address").inc()
                # Not logged one by one: a flood of these would be a flood of log lines.
                transport.close()
                return
            self._open[self._address] += 1
            self._counted = True
        self._arm(self.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self._open[self._address] -= 1
            if not self._open[self._address]:
                del self._open[self._address]
        super().connection_lost(exc)

    # -- requests ---------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_seconds, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # Disarmed by on_message_complete, at once for a request without a body.
        self._arm(self.body_seconds, "body")

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(self.body_seconds, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- timers -----------------------------------------------------------------------------

    def _arm(self, seconds: float, waiting_for: str) -> None:
        self._disarm()
        if seconds > 0:
            self._read_timer = self.loop.call_later(seconds, self._expired, seconds, waiting_for)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _expired(self, seconds: float, waiting_for: str) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if waiting_for == "body" and self.flow.read_paused:
            # The app has not taken what came already; the client is not the slow one.
            self._arm(seconds, waiting_for)
            return
        CLOSED.labels(waiting_for).inc()
        log.info(
            "closed the connection from %s: no complete %s within %.0f s",
            self._address or "an unknown address",
            "request headers" if waiting_for == "headers" else "request body",
            seconds,
        )
        self.transport.close()


def guarded_protocol(
    *, header_seconds: float, body_seconds: float, per_address: int
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with these limits, for uvicorn's `http=`."""
    return type(
        "GatewayHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_seconds": header_seconds,
            "body_seconds": body_seconds,
            "per_address": per_address,
            "_open": Counter(),
        },
    )
