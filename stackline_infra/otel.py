"""OpenTelemetry tracing, off unless `STACKLINE_OTEL_ENABLED=true`.

When on, every HTTP request at the gateway and every gRPC call between the processes is a
span, exported over OTLP/HTTP to `STACKLINE_OTEL_ENDPOINT` (a Collector, Jaeger, Tempo), with
the process named `stackline-<service>`. The trace ids in the logs are then the spans' trace
ids, so a log line leads to its trace and back. When off, nothing here runs on any request:
no interceptor is installed and the API's no-op tracer is never asked.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from stackline_infra.settings import ProcessSettings


class _Process:
    """What this process set up: one provider at most, made at start-up."""

    provider: TracerProvider | None = None


_process = _Process()


def start(service: str, settings: ProcessSettings) -> None:
    """Set up tracing for this process, if the settings ask for it; once, at start-up."""
    if not settings.otel_enabled or _process.provider is not None:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"stackline-{service}"}))
    exporter = OTLPSpanExporter(endpoint=f"{settings.otel_endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _process.provider = provider


def enabled() -> bool:
    return _process.provider is not None


def provider() -> TracerProvider | None:
    return _process.provider


def server_interceptors() -> list[Any]:
    if _process.provider is None:
        return []
    return [aio_server_interceptor(tracer_provider=_process.provider)]  # type: ignore[no-untyped-call]


def client_interceptors() -> list[Any]:
    if _process.provider is None:
        return []
    return list(aio_client_interceptors(tracer_provider=_process.provider))  # type: ignore[no-untyped-call]


def shutdown() -> None:
    """Send the spans still buffered; at exit."""
    if _process.provider is not None:
        _process.provider.shutdown()
