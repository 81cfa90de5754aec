"""`traceparent` as the W3C Trace Context specification reads it."""

from __future__ import annotations

import pytest

from stackline_infra import tracecontext
from stackline_infra.tracecontext import TraceContext

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_valid_header_is_taken() -> None:
    assert tracecontext.parse(f"00-{TRACE}-{SPAN}-01") == TraceContext(TRACE, SPAN, sampled=True)
    assert tracecontext.parse(f" 00-{TRACE}-{SPAN}-00 ") == TraceContext(TRACE, SPAN)


def test_a_later_version_is_read_as_far_as_version_00_goes() -> None:
    assert tracecontext.parse(f"01-{TRACE}-{SPAN}-01-more") == TraceContext(TRACE, SPAN, True)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        f"ff-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-01-more",
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE[:-1]}-{SPAN}-01",
        "not a trace",
    ],
)
def test_an_invalid_header_is_ignored(header: str | None) -> None:
    assert tracecontext.parse(header) is None


def test_a_call_made_in_a_trace_keeps_the_trace_in_a_new_span() -> None:
    parent = TraceContext(TRACE, SPAN, sampled=True)
    child = parent.child()
    assert (child.trace_id, child.sampled) == (TRACE, True)
    assert child.span_id != SPAN
    assert tracecontext.parse(child.header()) == child


def test_the_trace_is_current_only_inside() -> None:
    trace = tracecontext.new()
    assert tracecontext.current() is None
    with tracecontext.use(trace):
        assert tracecontext.current() == trace
    assert tracecontext.current() is None
