"""parse_stack: recognises the stack format from its text and bounds the work on hostile input."""

from __future__ import annotations

from collections.abc import Callable

from services.ingest.stacks.gecko import parse_gecko
from services.ingest.stacks.model import EMPTY, ParsedStack, StackFrame
from services.ingest.stacks.python import parse_python
from services.ingest.stacks.v8 import parse_v8

MAX_TEXT = 512 * 1024
"""Characters of a stack read, from each end of a longer one: every parser is linear in what it
reads, so this bounds the time and memory any one event costs."""

# A parser, and whether its format prints the innermost frame last.
_Format = tuple[Callable[[str], ParsedStack], bool]
_V8: _Format = (parse_v8, False)
_GECKO: _Format = (parse_gecko, False)
_PYTHON: _Format = (parse_python, True)

# The platform is the SDK's word, so its format goes first; the others follow because a browser
# event may come from any engine, and an SDK may be set up for the wrong platform.
_JAVASCRIPT_FIRST = (_V8, _GECKO, _PYTHON)
_PYTHON_FIRST = (_PYTHON, _V8, _GECKO)


def parse_stack(raw: str, platform: str) -> list[StackFrame]:
    """Frames of the exception that was raised, INNERMOST FIRST (frames[0] raised)."""
    return parse_exception(raw, platform).frames


def parse_exception(raw: str, platform: str) -> ParsedStack:
    """The raised exception's frames, innermost first, and the errors printed inside it.

    platform is one of "node", "browser", "edge", "python": a hint only, the format is read from
    the text. Nothing parsed is an empty result; never raises on any input.
    """
    for parse, innermost_last in _PYTHON_FIRST if platform == "python" else _JAVASCRIPT_FIRST:
        for window in _windows(raw, innermost_last):
            parsed = parse(window)
            if parsed.frames or parsed.causes:
                return parsed
    return EMPTY


def _windows(raw: str, innermost_last: bool) -> tuple[str, ...]:
    """The text to read: all of it, or for a longer stack its head and its tail.

    A huge stack is nearly always a huge message. JavaScript prints the message before the frames
    and Python after them, so the frames sit near the head for one and the tail for the other;
    the other end is read when the first holds none.
    """
    if len(raw) <= MAX_TEXT:
        return (raw,)
    head = raw[:MAX_TEXT]
    tail = raw[-MAX_TEXT:]
    return (tail, head) if innermost_last else (head, tail)
