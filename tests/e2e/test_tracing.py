"""One request followed across the processes: its trace id on every log line it left."""

from __future__ import annotations

import gzip
import http.server
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.local_stack import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(
        f"sqlite:///{tmp_path / 'stackline.db'}",
        tmp_path,
        env={"STACKLINE_LOG_FORMAT": "json", "STACKLINE_LOG_LEVEL": "DEBUG"},
    )
    yield stack
    stack.close()


def _lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for text in output.splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_a_request_s_trace_is_on_its_lines_in_the_gateway_and_each_service_it_called(
    stack: LocalStack,
) -> None:
    stack.wait_until_running()
    stack.keep_reading()
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        token = client.post("/api/auth/dev-login", json={"login": "octocat"}).json()["access_token"]
        user = {"Authorization": f"Bearer {token}"}
        created = client.post(
            "/api/projects", json={"name": "Shop", "repo": "octo-org/shop"}, headers=user
        )
        key = {"Authorization": f"Bearer {created.json()['ingest_key']}"}

        caller_trace = secrets.token_hex(16)
        traceparent = f"00-{caller_trace}-{secrets.token_hex(8)}-01"
        event = {
            "event_id": str(uuid.uuid4()),
            "platform": "python",
            "exception": {"type": "ValueError", "message": "bad price", "stack": ""},
        }
        sent = client.post("/api/ingest", json=event, headers={**key, "traceparent": traceparent})
        assert sent.status_code == 200, sent.text
        assert sent.headers["X-Request-Id"] == caller_trace

        # Without a traceparent the gateway starts a trace, and names it.
        listed = client.get("/api/incidents", params={"repo": "octo-org/shop"}, headers=user)
        started_trace = listed.headers["X-Request-Id"]
        assert len(started_trace) == 32 and started_trace != caller_trace
    stack.close()
    lines = _lines(stack.finish())

    def services_of(trace_id: str) -> set[str]:
        return {line["service"] for line in lines if line.get("trace_id") == trace_id}

    # The ingest key was checked by AuthService and the event stored by IngestService.
    assert services_of(caller_trace) >= {"gateway", "auth", "ingest"}
    assert services_of(started_trace) >= {"gateway", "incidents"}
    # Each request left its own lines: no trace spills into another request's.
    assert not services_of(caller_trace) & {"incidents"}


class _Collector(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP receiver: keeps every span posted to /v1/traces, by service."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.spans: list[tuple[str, Span]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CollectorHandler(http.server.BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.server.spans.append((attributes["service.name"], span))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(ExportTraceServiceResponse().SerializeToString())

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the spans, not the requests."""


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_with_opentelemetry_on_each_process_sends_spans_of_one_trace_that_the_logs_name(
    tmp_path: Path, collector: _Collector
) -> None:
    stack = LocalStack(
        f"sqlite:///{tmp_path / 'stackline.db'}",
        tmp_path,
        env={
            "STACKLINE_LOG_FORMAT": "json",
            "STACKLINE_LOG_LEVEL": "DEBUG",
            "STACKLINE_OTEL_ENABLED": "true",
            "STACKLINE_OTEL_ENDPOINT": collector.url,
        },
    )
    try:
        stack.wait_until_running()
        stack.keep_reading()
        caller_trace = secrets.token_hex(16)
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            token = client.post("/api/auth/dev-login", json={"login": "octocat"}).json()[
                "access_token"
            ]
            user = {"Authorization": f"Bearer {token}"}
            client.post(
                "/api/projects", json={"name": "Shop", "repo": "octo-org/shop"}, headers=user
            )
            listed = client.get(
                "/api/incidents",
                params={"repo": "octo-org/shop"},
                headers={
                    **user,
                    "traceparent": f"00-{caller_trace}-{secrets.token_hex(8)}-01",
                },
            )
        assert listed.status_code == 200, listed.text
        assert listed.headers["X-Request-Id"] == caller_trace
    finally:
        # SIGTERM: each process sends the spans it still holds as it stops.
        stack.close()
    logged = {
        line["service"] for line in _lines(stack.finish()) if line.get("trace_id") == caller_trace
    }
    assert logged >= {"gateway", "incidents"}

    in_trace = [
        (service, span) for service, span in collector.spans if span.trace_id.hex() == caller_trace
    ]
    services = {service for service, _ in in_trace}
    assert services == {"stackline-gateway", "stackline-incidents"}
    # IncidentsService's span is the child of the gateway's call to it.
    gateway_span_ids = {
        span.span_id for service, span in in_trace if service == "stackline-gateway"
    }
    served = [span for service, span in in_trace if service == "stackline-incidents"]
    assert served and all(span.parent_span_id in gateway_span_ids for span in served)
