"""Hostile input for what is read around the frames: printed causes and sub-errors, elided
frames, group boxes, eval origins. Bounded output, bounded memory, never an exception.

Work is bounded by construction (each line is looked at once, causes and frames are capped, group
boxes are read ten deep); a thread with a wide guard turns a hang into a failure rather than a
stuck run. The guard is no speed target: these inputs take well under a second.
"""

from __future__ import annotations

import functools
import threading
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.stacks import ParsedStack, parse_exception
from services.ingest.stacks.model import MAX_CAUSES, MAX_FRAMES

PLATFORMS = ["node", "browser", "edge", "python"]
HANG_GUARD_SECONDS = 60
MEGABYTES = 1024 * 1024
LONG = 30_000
FRAME = "    at f (/srv/a.js:1:2)"


def parsed_within_guard(raw: str, platform: str) -> ParsedStack:
    result: list[ParsedStack] = []
    worker = threading.Thread(target=lambda: result.append(parse_exception(raw, platform)))
    worker.start()
    worker.join(HANG_GUARD_SECONDS)
    assert not worker.is_alive(), "the parser hung"
    [parsed] = result
    assert len(parsed.frames) <= MAX_FRAMES
    assert len(parsed.causes) <= MAX_CAUSES
    assert all(len(cause.frames) <= MAX_FRAMES for cause in parsed.causes)
    return parsed


def deep_causes(depth: int) -> str:
    lines = ["Error: top", FRAME + " {"]
    for level in range(1, depth):
        pad = "  " * level
        lines += [f"{pad}[cause]: Error: level {level}", f"{pad}    at g (/srv/b.js:{level}:1) {{"]
    return "\n".join(lines)


def elided(blocks: int) -> str:
    """Blocks of 250 frames, each eliding some of its cause's: restoring them costs most."""
    frames = [f"at f{n} (/srv/a.js:{n}:1)" for n in range(MAX_FRAMES)]
    lines = ["Error: top"]
    for level in range(blocks):
        pad = "  " * level
        head = f"{pad}[cause]: Error: {level}" if level else ""
        if head:
            lines.append(head)
        lines += [f"{pad}    {frame}" for frame in frames[:-1]]
        lines.append(f"{pad}    ... 999999999 lines matching cause stack trace ...")
        lines.append(f"{pad}    {frames[-1]} {{")
    return "\n".join(lines)


def group_boxes(depth: int) -> str:
    lines = ["  + Exception Group Traceback (most recent call last):"]
    lines += ['  |   File "/srv/a.py", line 1, in f', "  | ExceptionGroup: g (1 sub-exception)"]
    for level in range(1, depth):
        box = "  " * level
        lines += [f"{box}+-+---------------- 1 ----------------"]
        lines += [f"{box}  | ExceptionGroup: g{level} (1 sub-exception)"]
    return "\n".join(lines)


HOSTILE = {
    "deep-causes": lambda: deep_causes(1_000),
    "flat-causes": lambda: "Error: x\n" + FRAME + " {\n" + "  [cause]: Error: y\n" * LONG,
    "error-lists": lambda: "Error: x\n" + FRAME + " {\n" + "  [errors]: [\n" * LONG,
    "list-elements": lambda: "[E: x] {\n  [errors]: [\n" + "    Error: z,\n" * LONG,
    "closing-brackets": lambda: "Error: x\n" + FRAME + " {\n" + "}\n]\n" * LONG,
    "elisions": lambda: (
        "Error: x\n" + "    ... 5 lines matching cause stack trace ...\n" * LONG + FRAME + " {"
    ),
    "restored-elisions": lambda: elided(60),
    "value-causes": lambda: "Error: x\n" + FRAME + " {\n  [cause]: {\n" + "    a: 1,\n" * LONG,
    "eval-origins": lambda: (
        "Error: x\n" + "    at f (eval at g (/a.js:1:1), <anonymous>:1:1)\n" * LONG
    ),
    "group-boxes": lambda: group_boxes(2_000),
    "chain-separators": lambda: (
        (
            'Traceback (most recent call last):\n  File "/a.py", line 1, in f\nValueError: x\n\n'
            "The above exception was the direct cause of the following exception:\n\n"
        )
        * (LONG // 4)
    ),
}


@functools.cache
def hostile(name: str) -> str:
    return HOSTILE[name]()


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_hostile_nesting_is_read_in_bounds(name: str, platform: str) -> None:
    parsed_within_guard(hostile(name), platform)


@pytest.mark.parametrize("name", HOSTILE)
def test_memory_stays_bounded(name: str) -> None:
    raw = hostile(name)
    tracemalloc.start()
    try:
        parse_exception(raw, "node")
        parse_exception(raw, "python")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The text is read as lines: a few times its size, whatever its shape.
    assert peak < 8 * len(raw) + 32 * MEGABYTES


FRAGMENTS = [
    "\n",
    "  ",
    "    at ",
    "f (/a.js:1:2)",
    " {",
    ",",
    "[cause]: ",
    "[errors]: [",
    "]",
    "}",
    "Error: x",
    "[AggregateError: y]",
    "... 3 lines matching cause stack trace ...",
    "eval at g (",
    "<anonymous>:1:1)",
    "@/a.js line 2 > eval:1:1",
    "Traceback (most recent call last):",
    '  File "/a.py", line 1, in f',
    "ValueError: x",
    "  + Exception Group Traceback (most recent call last):",
    "  | ",
    "  +-+---------------- 1 ----------------",
    "    +------------------------------------",
    "The above exception was the direct cause of the following exception:",
]


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=80).map("".join),
    platform=st.sampled_from(PLATFORMS),
)
def test_what_is_read_is_in_the_text(raw: str, platform: str) -> None:
    parsed = parse_exception(raw, platform)
    frames = [*parsed.frames, *(f for cause in parsed.causes for f in cause.frames)]
    for frame in frames:
        assert frame.abs_path in raw
        assert frame.function in raw
        if frame.eval_origin is not None:
            assert frame.eval_origin.abs_path in raw
    for index, cause in enumerate(parsed.causes):
        assert cause.parent is None or 0 <= cause.parent < index
        assert cause.type in raw
