"""Hostile and malformed input: parse_stack stays bounded in time and memory and never raises."""

from __future__ import annotations

import functools
import random
import time
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.stacks import StackFrame, parse_stack

PLATFORMS = ["node", "browser", "edge", "python"]
KEPT = 250
# A guard against hangs and quadratic blow-ups, far above what these take: not a speed target.
BOUND_SECONDS = 2.0
MEGABYTES = 1024 * 1024


def parse_bounded(raw: str, platform: str) -> list[StackFrame]:
    started = time.perf_counter()
    frames = parse_stack(raw, platform)
    assert time.perf_counter() - started < BOUND_SECONDS
    assert len(frames) <= KEPT
    return frames


# Built on first use and shared between tests: the big inputs take a while to make.
@functools.cache
def junk(size: int) -> str:
    generator = random.Random(size)
    return generator.randbytes(size).decode("latin-1")


@functools.cache
def v8_stack(frames: int) -> str:
    return "Error: deep\n    at first (/srv/a.js:1:1)\n" + "    at f (/srv/a.js:2:2)\n" * frames


@functools.cache
def firefox_stack(frames: int) -> str:
    return "first@https://x.test/a.js:1:1\n" + "f@https://x.test/a.js:2:2\n" * frames


@functools.cache
def python_traceback(frames: int) -> str:
    return (
        "Traceback (most recent call last):\n"
        + '  File "/srv/a.py", line 2, in f\n    f()\n' * frames
        + '  File "/srv/a.py", line 1, in last\n    raise ValueError\nValueError: deep\n'
    )


@pytest.mark.parametrize(
    ("make", "innermost"),
    [
        pytest.param(lambda: v8_stack(1_000_000), "first", id="v8-million-frames"),
        pytest.param(lambda: firefox_stack(1_000_000), "first", id="firefox-million-frames"),
        pytest.param(lambda: python_traceback(1_000_000), "last", id="python-million-frames"),
        pytest.param(lambda: v8_stack(10 * MEGABYTES // 25), "first", id="v8-10MB"),
    ],
)
def test_deep_stack_keeps_the_innermost_frames(make: Callable[[], str], innermost: str) -> None:
    raw = make()
    for platform in PLATFORMS:
        frames = parse_bounded(raw, platform)
        assert len(frames) == KEPT
        assert frames[0].function == innermost


def test_huge_message_before_v8_frames() -> None:
    raw = "Error: " + "x" * 10 * MEGABYTES + "\n    at handler (/srv/app.js:3:9)"
    assert parse_bounded(raw, "node") == [StackFrame("/srv/app.js", 3, 9, "handler")]


def test_huge_message_after_python_frames() -> None:
    raw = (
        'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in handler\n'
        + "ValueError: "
        + "x\n" * 5 * MEGABYTES
    )
    assert parse_bounded(raw, "python") == [StackFrame("/srv/app.py", 3, None, "handler")]


LONG = 100_000

HOSTILE_LINES = {
    "parentheses": "    at " + "(" * LONG + ")",
    "nested-calls": "    at " + "f (" * (LONG // 3) + ")" * (LONG // 3),
    "closing-parentheses": "    at f" + " (a)" * (LONG // 4) + ")",
    "eval-origins": "    at f (" + "eval at g (" * (LONG // 11) + "/a.js:1:1)",
    "colons": "    at f (" + "1:" * (LONG // 2) + ")",
    "digits": "    at f (/a.js:" + "9" * LONG + ":1)",
    "at-signs": "@" * LONG,
    "brackets-and-at-signs": "[@" * (LONG // 2),
    "firefox-evals": "f@/a.js" + " line 1 > eval" * (LONG // 14) + ":1:1",
    "python-file": '  File "' + '", line ' * (LONG // 8),
    "python-in": '  File "/a.py", line 1, in ' + ", in " * (LONG // 5),
    "spaces": " " * LONG,
    "frame-then-junk": "    at f (/a.js:1:1)" + "x" * LONG,
}


@pytest.mark.parametrize("line", HOSTILE_LINES.values(), ids=HOSTILE_LINES.keys())
@pytest.mark.parametrize("platform", PLATFORMS)
def test_single_long_line(line: str, platform: str) -> None:
    parse_bounded(line, platform)
    parse_bounded((line + "\n") * 20, platform)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: junk(10 * MEGABYTES), id="binary-junk"),
        pytest.param(lambda: "\0" * 10 * MEGABYTES, id="nuls"),
        pytest.param(lambda: "\n" * 10 * MEGABYTES, id="newlines"),
        pytest.param(lambda: "\0".join(v8_stack(1000).split("\n")), id="nuls-for-newlines"),
        pytest.param(lambda: "\ud800" * MEGABYTES, id="lone-surrogates"),
        pytest.param(lambda: "", id="empty"),
    ],
)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_junk(make: Callable[[], str], platform: str) -> None:
    parse_bounded(make(), platform)


def test_nul_inside_a_frame_line_stays_in_the_path() -> None:
    assert parse_bounded("Error\n    at f (/a\0b.js:1:2)", "node") == [
        StackFrame("/a\0b.js", 1, 2, "f")
    ]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: junk(10 * MEGABYTES), id="binary-junk"),
        pytest.param(lambda: v8_stack(1_000_000), id="v8-million-frames"),
        pytest.param(lambda: python_traceback(1_000_000), id="python-million-frames"),
    ],
)
def test_memory_stays_bounded_whatever_the_input_size(make: Callable[[], str]) -> None:
    raw = make()
    tracemalloc.start()
    try:
        for platform in PLATFORMS:
            parse_stack(raw, platform)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * MEGABYTES


# Pieces of every grammar, so that generated text reaches deep into the parsers, not only their
# first check.
FRAGMENTS = [
    "\n",
    "\r\n",
    " ",
    "    at ",
    "at ",
    "async ",
    "new ",
    "(",
    ")",
    ":",
    "1",
    "42",
    "/a.js",
    "file:///a.mjs",
    "<anonymous>",
    "native",
    "index 0",
    "eval at ",
    ", ",
    "[as x]",
    ":wasm-function[",
    "@",
    "*",
    "[native code]",
    "[",
    "]",
    "]@",
    " line ",
    " > eval",
    "Traceback (most recent call last):",
    "Exception Group ",
    "  + ",
    "  | ",
    "+-+---",
    '  File "',
    '", line ',
    ", in ",
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
    "ValueError: x",
    "\0",
    "é",
]


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=60).map("".join),
    platform=st.sampled_from(PLATFORMS),
)
def test_any_text_parses_into_frames_that_it_contains(raw: str, platform: str) -> None:
    for frame in parse_stack(raw, platform):
        assert frame.abs_path in raw
        assert frame.function in raw
        for number in (frame.line, frame.column):
            assert number is None or (isinstance(number, int) and str(number) in raw)
