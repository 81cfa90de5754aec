"""Hostile and malformed input: parse_stack's work and memory stay bounded, and it never raises.

The work is counted, not timed (tests/support/work.py): the text each format's parser is given,
and the lines of Python the parsers run. Their time is measured in bench/parser_bench.py.
"""

from __future__ import annotations

import functools
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest import stacks
from services.ingest.stacks import StackFrame, gecko, parse_stack, python, v8
from services.ingest.stacks.parse import MAX_TEXT
from tests.support.work import Work, count_work

PLATFORMS = ["node", "browser", "edge", "python"]
KEPT = 250
MEGABYTES = 1024 * 1024
PARSERS = {"parse_v8": "text", "parse_gecko": "text", "parse_python": "text"}
# Lines of Python the parsers may run per character they are given, and a few hundred for any
# stack at all. The costliest input below (a line of 100,000 nested parentheses) takes about
# 0.8 per character; a parser quadratic in a line's length would need thousands.
LINES_PER_CHARACTER = 2
LINES_ANY_STACK = 500


def parse_counted(raw: str, platform: str) -> tuple[list[StackFrame], Work]:
    """parse_stack's frames and work, as if it saw these lines for the first time (a line found
    in the parsers' caches costs nothing, and would hide work)."""
    for module in (v8, gecko, python):
        module._frame.cache_clear()
    # Each format's parser reads at most MAX_TEXT from each end of the stack.
    readable = min(len(raw), 2 * MAX_TEXT)
    budget = LINES_ANY_STACK + LINES_PER_CHARACTER * readable * len(PARSERS)
    with count_work(Path(stacks.__file__).parent, budget=budget, sizes=PARSERS) as work:
        frames = parse_stack(raw, platform)
    for parser in PARSERS:
        assert work.sizes[parser] <= readable, (parser, work.sizes[parser])
    return frames, work


def parse_bounded(raw: str, platform: str) -> list[StackFrame]:
    frames, _ = parse_counted(raw, platform)
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


@pytest.mark.parametrize("make", [v8_stack, firefox_stack, python_traceback])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_past_the_cap_the_work_does_not_grow_with_the_stack(
    make: Callable[[int], str], platform: str
) -> None:
    # Both are longer than the two ends the parsers read (about 2.5 and 25 MB).
    _, shorter = parse_counted(make(100_000), platform)
    _, longer = parse_counted(make(1_000_000), platform)
    assert longer.lines == shorter.lines
    assert longer.sizes == shorter.sizes


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
