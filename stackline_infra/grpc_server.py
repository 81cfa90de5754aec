"""One gRPC server as every Stackline service runs it.

Health service, error mapping and metrics around the service's own servicers,
and reflection when the settings ask for it; the health status follows the
database; SIGTERM stops it gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.ext.asyncio import AsyncEngine

from stackline_infra import otel, tracecontext
from stackline_infra.db.engine import create_engine, is_connection_error, ping
from stackline_infra.db.metrics import database_metrics, instrument_engine
from stackline_infra.errors import StacklineError, Unavailable
from stackline_infra.logs import configure_logging
from stackline_infra.metrics import (
    RpcMetrics,
    record_build_info,
    rpc_metrics,
    start_metrics_endpoint,
)
from stackline_infra.settings import DatabaseSettings, load_settings

log = logging.getLogger(__name__)

# Registers one servicer on a server; keyed by the service's full proto name.
Registration = Callable[[grpc.aio.Server], None]

_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_MAX_CONNECTION_AGE_MS = 5 * 60 * 1000
# The health service name a liveness probe asks for; "" (the server as a whole) is readiness.
LIVENESS_SERVICE = "liveness"


class _ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps errors to status codes in one place and times every call."""

    def __init__(self, service: str) -> None:
        self._metrics = rpc_metrics(service)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        answering = _Answering(method, self._metrics)

        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                async with answering.call(context):
                    return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                call,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            streaming = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async with answering.call(context):
                    async for item in streaming(request, context):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            gathering = handler.stream_unary

            async def upload(
                requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
            ) -> Any:
                async with answering.call(context):
                    return await gathering(requests, context)

            return grpc.stream_unary_rpc_method_handler(
                upload,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


@dataclass(frozen=True)
class _Answering:
    method: str
    metrics: RpcMetrics

    @asynccontextmanager
    async def call(self, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        # The caller's trace, or a new one for a call from outside Stackline (grpcurl).
        trace = tracecontext.active_span() or _trace_of(context) or tracecontext.new()
        with tracecontext.use(trace):
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                yield
            except StacklineError as exc:
                code = exc.grpc_status
                await _abort(context, exc)
            except Exception as exc:
                if is_connection_error(exc):
                    code = grpc.StatusCode.UNAVAILABLE
                    database_metrics().connection_errors.inc()
                    log.warning("database unreachable in %s: %s", self.method, type(exc).__name__)
                    await _abort(context, Unavailable("database unavailable", retry_after=5))
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", self.method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            except asyncio.CancelledError:
                # The call was cut by its deadline or by the client going away. A cancellation
                # is a BaseException, so the branches above never see it; without this it
                # would be counted as OK. The deadline is told apart by the time it had left.
                remaining = context.time_remaining()
                code = (
                    grpc.StatusCode.DEADLINE_EXCEEDED
                    if remaining is not None and remaining <= 0
                    else grpc.StatusCode.CANCELLED
                )
                raise
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.requests.labels(self.method, code.name).inc()
                self.metrics.duration.labels(self.method).observe(elapsed)
                log.debug("%s answered %s in %.1f ms", self.method, code.name, elapsed * 1000)


def _trace_of(context: grpc.aio.ServicerContext) -> tracecontext.TraceContext | None:
    for key, value in context.invocation_metadata() or ():
        if key == tracecontext.HEADER and isinstance(value, str):
            return tracecontext.parse(value)
    return None


async def _abort(context: grpc.aio.ServicerContext, exc: StacklineError) -> None:
    context.set_trailing_metadata(exc.metadata())
    await context.abort(exc.grpc_status, exc.message)


class ServiceHost:
    """A grpc.aio server with the health, metrics and shutdown every service needs."""

    def __init__(
        self,
        name: str,
        servicers: Mapping[str, Registration],
        *,
        engine: AsyncEngine | None = None,
        database_probe_seconds: float = 2.0,
        on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
        background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        self.name = name
        self._on_stop = on_stop
        # Work the service does on its own (a schedule), started with the server, cancelled
        # before it stops.
        self._background = background
        self._background_tasks: list[asyncio.Task[None]] = []
        self._service_names = list(servicers)
        self._engine = engine
        self._probe_seconds = database_probe_seconds
        self._probe_task: asyncio.Task[None] | None = None
        self.server = grpc.aio.server(
            # OpenTelemetry's first, so its span is current while ours runs and logs.
            interceptors=[*otel.server_interceptors(), _ServerInterceptor(name)],
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                # Clients balance over the replicas they found when they connected. Closing a
                # connection after five minutes (calls in flight get a minute to finish) makes
                # them resolve the name again, so replicas added by a scale-up get traffic.
                ("grpc.max_connection_age_ms", _MAX_CONNECTION_AGE_MS),
                ("grpc.max_connection_age_grace_ms", 60_000),
            ],
        )
        for register in servicers.values():
            register(self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)

    def enable_reflection(self) -> None:
        """Serve gRPC reflection (grpcurl, Postman) for this host's services; before start()."""
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )

    def bind(self, address: str) -> int:
        """Listen on host:port (port 0 picks one) and return the port."""
        port: int = self.server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        return port

    async def start(self) -> None:
        await self.server.start()
        if self._engine is None:
            await self._set_serving(True)
        else:
            await self._probe_database_once()
            self._probe_task = asyncio.create_task(self._probe_database())
        self._background_tasks = [asyncio.create_task(work()) for work in self._background]

    async def stop(self, grace: float) -> None:
        for task in [*self._background_tasks, self._probe_task]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # NOT_SERVING first, so load balancers stop sending before calls are cut.
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        for close in self._on_stop:
            await close()

    async def run_until_signalled(self, grace: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await self.start()
        await stop.wait()
        log.info("stopping %s, up to %.0f s for calls in flight", self.name, grace)
        await self.stop(grace)

    async def _set_serving(self, serving: bool) -> None:
        # The liveness entry says only that the server answers; it stays SERVING while the
        # database is away, so that an outage makes pods unready, never restarts them.
        await self.health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ("", *self._service_names):
            await self.health.set(service, status)

    async def _probe_database_once(self) -> None:
        assert self._engine is not None
        try:
            await asyncio.wait_for(ping(self._engine), timeout=self._probe_seconds * 2)
        except Exception as exc:  # any failure to answer SELECT 1 means not ready
            log.warning("database probe failed: %s", type(exc).__name__)
            database_metrics().up.set(0)
            database_metrics().connection_errors.inc()
            await self._set_serving(False)
        else:
            database_metrics().up.set(1)
            await self._set_serving(True)

    async def _probe_database(self) -> None:
        while True:
            await asyncio.sleep(self._probe_seconds)
            await self._probe_database_once()


async def serve(
    settings: DatabaseSettings, build_host: Callable[[AsyncEngine], ServiceHost]
) -> None:
    """Run one database-backed service until SIGTERM: engine, server, metrics, shutdown."""
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pre_ping=settings.database_pre_ping,
    )
    instrument_engine(engine)
    record_build_info()
    try:
        host = build_host(engine)
        if settings.grpc_reflection:
            host.enable_reflection()
        port = host.bind(f"{settings.grpc_host}:{settings.grpc_port}")
        start_metrics_endpoint(settings.grpc_host, settings.metrics_port)
        log.info("%s service listening on %s:%d", host.name, settings.grpc_host, port)
        await host.run_until_signalled(settings.shutdown_grace_seconds)
    finally:
        await engine.dispose()


Settings = TypeVar("Settings", bound=DatabaseSettings)


def run(
    name: str,
    settings_type: type[Settings],
    build_host: Callable[[Settings, AsyncEngine], ServiceHost],
) -> None:
    """A service's whole `__main__`: settings once, logging, then serve on uvloop."""
    settings = load_settings(settings_type)
    configure_logging(name, level=settings.log_level, fmt=settings.log_format)
    otel.start(name, settings)
    try:
        uvloop.run(serve(settings, lambda engine: build_host(settings, engine)))
    finally:
        otel.shutdown()
