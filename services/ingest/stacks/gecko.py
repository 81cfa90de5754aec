"""Firefox (SpiderMonkey) and Safari (JavaScriptCore) stacks: `function@location`, innermost first.

The two engines share the grammar and differ only in a few locations (Firefox's eval origins,
Safari's `[native code]` and empty ones), so one parser reads both: a browser event does not say
which engine printed it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from services.ingest.stacks.model import (
    EMPTY,
    EvalOrigin,
    ParsedStack,
    StackFrame,
    last_run,
    number,
    split_position,
)

# Locations with no file: Safari's builtins, and frames it cannot place (`eval code@`).
_NO_FILE = frozenset({"", "[native code]"})


def parse_gecko(text: str) -> ParsedStack:
    if "@" not in text:
        return EMPTY
    frames = last_run(_frame_texts(text), _frame)
    if any(frame.eval_origin is not None for frame in frames):
        # Grouping version 1 read an eval frame as standing at its origin.
        v1 = [_at_origin(frame) for frame in frames]
        return ParsedStack(frames, [], v1)
    return ParsedStack(frames, [])


def _frame_texts(text: str) -> Iterator[str | None]:
    for line in text.split("\n"):
        body = line.strip()
        yield body if "@" in body else None


# The same files and functions fail again and again: a line parsed once is not parsed again.
# Frames are immutable, so sharing them is safe; hostile input only churns the cache.
@functools.lru_cache(maxsize=8192)
def _frame(text: str) -> StackFrame | None:
    at = text.find("@")
    # Firefox names a function assigned to a computed key after that key (`o["a@b"]`), so an @
    # inside brackets belongs to the name; any later @ is the location's (`/node_modules/@scope`).
    if text.find("[", 0, at) >= 0:
        closing = text.find("]@", at)
        if closing >= 0:
            at = closing + 1
    name = text[:at]
    location = text[at + 1 :]
    # Firefox marks a frame reached across an async boundary with its cause: `async*load`,
    # `promise callback*render`, `setTimeout handler*`. The cause says how, not what ran.
    cause, star, function = name.partition("*")
    if not star:
        function = cause
    if location in _NO_FILE:
        return StackFrame("", None, None, function)
    evaluated = _evaluated(location, function)
    if evaluated is not None:
        return evaluated
    position = split_position(location)
    if position is None:
        return None
    path, line, column = position
    return StackFrame(path, line, column, function)


def _evaluated(location: str, function: str) -> StackFrame | None:
    """A frame of code from eval or `new Function`, with where that code was made.

    `https://host/app.js line 8 > eval line 1 > eval:2:5` runs at 2:5 of code evaluated from
    app.js line 8 (through an eval in code that was itself evaluated); the position at the end is
    inside the evaluated string, which no source file holds. Firefox gives no column for the call.
    """
    marker = location.find(" line ")
    if marker < 0:
        return None
    digits_end = location.find(" > ", marker + 6)
    if digits_end < 0:
        return None
    line = number(location[marker + 6 : digits_end])
    if line is None:
        return None
    # What follows the last ` > ` is `eval:2:5` or `Function:2:5`; a line cut short has less.
    own = split_position(location[location.rfind(" > ") + 3 :])
    line_in_code, column_in_code = (own[1], own[2]) if own is not None else (None, None)
    origin = EvalOrigin(location[:marker], line, None)
    return StackFrame("", line_in_code, column_in_code, function, origin)


def _at_origin(frame: StackFrame) -> StackFrame:
    origin = frame.eval_origin
    if origin is None:
        return frame
    return StackFrame(origin.abs_path, origin.line, None, frame.function)
