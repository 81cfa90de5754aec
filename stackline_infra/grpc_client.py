"""Channels from one service to another: every call carries a deadline."""

from __future__ import annotations

from typing import Any

import grpc


class _DefaultDeadline(
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """Gives every call that set no timeout of its own the channel's default."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def _with_deadline(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return details if details.timeout is not None else details._replace(timeout=self._seconds)

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_deadline(client_call_details), request)

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_deadline(client_call_details), request)


def open_channel(target: str, *, default_deadline: float) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        interceptors=[_DefaultDeadline(default_deadline)],
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            # Reconnect promptly after a service restarts instead of backing off
            # for up to two minutes.
            ("grpc.max_reconnect_backoff_ms", 2_000),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ],
    )
