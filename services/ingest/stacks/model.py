"""What every stack format parses into, and the grammar pieces the formats share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_FRAMES = 250
"""Frames kept per stack. Past this it is runaway recursion, and the frames worth keeping are the
innermost ones: the culprit and the fingerprint come from there."""

# Nine digits reach line 999,999,999, more than any real file; the bound also keeps int() away
# from hostile digit runs (CPython refuses to convert more than 4,300 digits).
_MAX_DIGITS = 9


MAX_CAUSES = 20
"""Causes and sub-errors kept per stack, in the order they were printed (each error's cause
before its siblings). An AggregateError of a thousand failed requests needs no thousand."""

# How an error printed inside another relates to it.
CAUSE = "cause"  # JavaScript `cause`, Python `raise ... from`
CONTEXT = "context"  # Python's "During handling of the above exception"
SUB_ERROR = "sub_error"  # an element of AggregateError `errors`, ExceptionGroup `exceptions`


@dataclass(frozen=True, slots=True)
class EvalOrigin:
    """Where code made at run time (eval, new Function) was made: the call of eval itself."""

    abs_path: str
    line: int | None
    column: int | None


@dataclass(frozen=True, slots=True)
class StackFrame:
    abs_path: str
    line: int | None
    column: int | None
    function: str
    # Set on a frame that runs code made at run time. Its own position is inside that code, which
    # no file holds (abs_path is "" or a `//# sourceURL` name); the origin is where it was made.
    eval_origin: EvalOrigin | None = None


@dataclass(frozen=True, slots=True)
class NestedError:
    """An error printed inside the one that was thrown: a cause, a context or a sub-error."""

    type: str
    message: str
    relation: str
    # Index in ParsedStack.causes of the error this one belongs to; None for the thrown one.
    parent: int | None
    frames: tuple[StackFrame, ...]


@dataclass(frozen=True, slots=True)
class ParsedStack:
    # The thrown error's frames, innermost first: the culprit and the fingerprint come from them.
    frames: list[StackFrame]
    causes: list[NestedError]
    # The frames grouping version 1 was computed from, where they differ from `frames`: that
    # version took the last run of frames in the text (a cause's, in a printed chain) and read
    # an eval frame as standing at its origin. Incidents made then are found again by them.
    v1_frames: list[StackFrame] | None = None


EMPTY = ParsedStack([], [])


def number(text: str) -> int | None:
    """The value of a run of ASCII digits, or None for anything else.

    int() alone would also take "+1", " 1", "1_0" and non-ASCII digits, none of which an engine
    prints as a position.
    """
    if 0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


def split_position(location: str) -> tuple[str, int, int | None] | None:
    """`path:line:column` or `path:line` into its parts, or None when no line number ends it.

    Splits from the right, so colons inside the path (`http://host:8080/a.js`, `C:\\app\\a.js`,
    `node:internal/x`) stay in the path.
    """
    head, colon, tail = location.rpartition(":")
    last = number(tail)
    if not colon or last is None:
        return None
    path, colon, middle = head.rpartition(":")
    line = number(middle)
    if not colon or line is None:
        return head, last, None
    return path, line, last


def last_run(
    candidates: Iterable[str | None], parse: Callable[[str], StackFrame | None]
) -> list[StackFrame]:
    """Frames of the last run of consecutive frame-shaped lines that yields any frame.

    `candidates` gives, per line, the text to parse when the line has the shape of a frame, or
    None to end a run. JavaScript engines print the message before the frames and nothing after
    them, so frame-like lines inside a message form an earlier run and lose to the real one (a
    message whose last line looks like a frame still joins the run: nothing in the text tells them
    apart). Shape is a cheap test and parsing the strict one: a frame line of an unknown variant,
    or a final line cut short, is dropped without splitting the run it sits in.

    Only the first MAX_FRAMES lines of a run are parsed, the innermost ones; the rest are only
    looked at, since a later run would replace this one. Counting lines rather than frames keeps a
    run of hostile lines that almost parse as cheap as any other text.
    """
    best: list[StackFrame] = []
    current: list[StackFrame] = []
    parsed = 0  # lines of the current run parsed so far; 0 between runs
    for candidate in candidates:
        if candidate is None:
            parsed = 0
            continue
        if parsed == 0 and current:
            best = current
            current = []
        if parsed < MAX_FRAMES:
            parsed += 1
            frame = parse(candidate)
            if frame is not None:
                current.append(frame)
    return current or best
