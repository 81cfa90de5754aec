"""Channels from one service to another: every call carries a deadline and the trace."""

from __future__ import annotations

from typing import Any

import grpc

from stackline_infra import otel, tracecontext


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


class _PropagateTrace(
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.aio.StreamUnaryClientInterceptor,  # type: ignore[misc]
):
    """Sends the current trace as `traceparent` metadata, a new span for each call."""

    @staticmethod
    def _with_trace(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        trace = tracecontext.current()
        # With OpenTelemetry on, its interceptor sends the span's traceparent instead.
        if trace is None or tracecontext.active_span() is not None:
            return details
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add(tracecontext.HEADER, trace.child().header())
        return details._replace(metadata=metadata)

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_trace(client_call_details), request)

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_trace(client_call_details), request)

    async def intercept_stream_unary(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._with_trace(client_call_details), request_iterator)


def open_channel(target: str, *, default_deadline: float) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        interceptors=[
            _DefaultDeadline(default_deadline),
            _PropagateTrace(),
            *otel.client_interceptors(),
        ],
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            # Reconnect promptly after a service restarts instead of backing off
            # for up to two minutes.
            ("grpc.max_reconnect_backoff_ms", 2_000),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ],
    )
