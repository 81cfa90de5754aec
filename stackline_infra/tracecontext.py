"""W3C trace context: one trace id per public request, from the gateway through every gRPC
call to every log line of every process, so one failed request can be followed across them.

The gateway takes a valid `traceparent` header from the caller or starts a trace; each
outgoing gRPC call carries it as metadata; each service adopts it for the call it serves.
The logging set-up writes `trace_id` on every record made meanwhile. With OpenTelemetry on,
its spans carry the trace instead and these ids are theirs (`active_span`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from opentelemetry import trace

HEADER = "traceparent"
# version-traceid-parentid-flags, lower-case hex. Version ff is forbidden; a later version is
# read as far as version 00 goes (the specification's rule for forward compatibility).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = False

    def child(self) -> TraceContext:
        """The same trace, for a call this process makes: a new span id."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.sampled)

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


_current: ContextVar[TraceContext | None] = ContextVar("stackline_trace", default=None)


def parse(header: str | None) -> TraceContext | None:
    """The caller's trace, or None when the header is absent or not a valid traceparent."""
    if not header:
        return None
    match = _TRACEPARENT.fullmatch(header.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE:
        return None
    if span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & 1))


def active_span() -> TraceContext | None:
    """The OpenTelemetry span being served, when tracing is on (stackline_infra/otel.py).

    Its ids are the request's, so logs and traces name the same trace. With tracing off the
    API's current span is the invalid no-op one, and this is None.
    """
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return TraceContext(
        f"{context.trace_id:032x}", f"{context.span_id:016x}", context.trace_flags.sampled
    )


def new() -> TraceContext:
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8))


def current() -> TraceContext | None:
    return _current.get()


@contextmanager
def use(context: TraceContext) -> Iterator[TraceContext]:
    """Make `context` the current trace for the code inside, and only for it."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
