"""Channels from one service to another: deadlines, the trace, client-side balancing, safe
retries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import grpc

from stackline_infra import otel, tracecontext

# A restarted or rolled-out replica answers UNAVAILABLE for a moment; a call that is safe to
# repeat is tried again on another replica instead of failing the user's request. Three
# attempts with a short backoff fit well inside the default deadline, and the token bucket
# stops retries when most calls fail (an outage), so they never multiply the load on it.
_RETRY_POLICY = {
    "maxAttempts": 3,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
_RETRY_THROTTLING = {"maxTokens": 10, "tokenRatio": 0.1}


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


def service_config(retryable_methods: Iterable[str] = ()) -> str:
    """The gRPC service config: round_robin over every address the name resolves to, and the
    retry policy for the methods named ("package.Service/Method") as safe to repeat."""
    names = []
    for full_name in retryable_methods:
        service, _, method = full_name.partition("/")
        names.append({"service": service, "method": method})
    config: dict[str, Any] = {"loadBalancingConfig": [{"round_robin": {}}]}
    if names:
        config["methodConfig"] = [{"name": names, "retryPolicy": _RETRY_POLICY}]
        config["retryThrottling"] = _RETRY_THROTTLING
    return json.dumps(config)


def open_channel(
    target: str, *, default_deadline: float, retryable_methods: Iterable[str] = ()
) -> grpc.aio.Channel:
    """A channel to target: with `dns:///name:port` and a headless Service, one connection to
    every replica, calls spread round robin, and the name resolved again whenever a replica
    goes away (a pod stopped, or a server closing an old connection, see grpc_server)."""
    return grpc.aio.insecure_channel(
        target,
        interceptors=[
            _DefaultDeadline(default_deadline),
            _PropagateTrace(),
            *otel.client_interceptors(),
        ],
        options=[
            ("grpc.service_config", service_config(retryable_methods)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            # Reconnect promptly after a service restarts instead of backing off
            # for up to two minutes.
            ("grpc.max_reconnect_backoff_ms", 2_000),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ],
    )
