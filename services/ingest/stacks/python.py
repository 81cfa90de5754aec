"""CPython tracebacks: outermost frame first, chained exceptions in turn, the raised one last."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from services.ingest.stacks.model import (
    CAUSE,
    CONTEXT,
    EMPTY,
    MAX_CAUSES,
    MAX_FRAMES,
    SUB_ERROR,
    NestedError,
    ParsedStack,
    StackFrame,
    number,
)

_HEADER = "Traceback (most recent call last):"
_GROUP = "Exception Group "
_FILE = '  File "'
# What each separator says the exception above it is to the one below.
_CHAIN_SEPARATORS = {
    "The above exception was the direct cause of the following exception:": CAUSE,
    "During handling of the above exception, another exception occurred:": CONTEXT,
}
# `ValueError: message`, `mymodule.LoadError: message`, or a bare `KeyboardInterrupt`.
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*)(?:: (.*))?")
# The lines that open each sub-exception's box in a group (`+-+---- 1 ----`, `  +---- 2 ----`,
# `  +---- ... ----` before "and N more exceptions") and the one that closes the last.
_BOX = re.compile(r"(?:\+-\+|  \+)-+(?: (\d+|\.\.\.) -+)?")
# Python prints groups at most ten deep; deeper boxes in a text are not read.
_MAX_GROUP_DEPTH = 10


def parse_python(text: str) -> ParsedStack:
    """The raised exception's frames, and the exceptions printed with it as its causes."""
    if 'File "' not in text:
        return EMPTY
    lines = text.split("\n")
    frames = _raised_frames(lines)
    if not frames:
        return EMPTY
    causes: list[NestedError] = []
    # Only a chain or a group prints more than one exception.
    if "above exception" in text or "Exception Group" in text:
        raised = _exception(lines, 0)
        if raised is not None:
            _flatten(raised, None, causes)
    return ParsedStack(frames, causes)


def _raised_frames(lines: list[str]) -> list[StackFrame]:
    """Frames of the last printed exception that has any, innermost first.

    The last printed exception is the one raised; the ones before it are its causes and contexts.
    An earlier one is used only when the last has no frames, as when the text was cut short.
    """
    # A separator inside a group's box carries the box's margin ("    | The above ..."), so only
    # top-level ones split the text into exceptions.
    starts = [0] + [i + 1 for i, line in enumerate(lines) if line.strip() in _CHAIN_SEPARATORS]
    stop = len(lines)
    for start in reversed(starts):
        frame_lines = _frame_lines(lines, start, stop)
        if frame_lines:
            frames = (_frame(line) for line in reversed(frame_lines[-MAX_FRAMES:]))
            return [frame for frame in frames if frame is not None]
        stop = start
    return []


def _frame_lines(lines: list[str], start: int, stop: int) -> list[str]:
    return _traceback(lines, start, stop)[0]


def _traceback(lines: list[str], start: int, stop: int) -> tuple[list[str], int, str]:
    """The `File "..."` lines of the first traceback in lines[start:stop], margin removed; the
    index of the line that ends them; and the margin.

    An exception group prints its own traceback in a box (`  + Exception Group Traceback`,
    `  |   File ...`) and each sub-exception's in a box nested deeper; the first header found is
    the group's own, and its frames end where the first nested box begins.
    """
    begin, margin = _header(lines, start, stop)
    found: list[str] = []
    for index in range(begin, stop):
        line = lines[index]
        if not line.startswith(margin):
            if line.rstrip() == margin.rstrip():
                continue  # a blank line inside the box, trailing space trimmed
            return found, index, margin
        rest = line[len(margin) :]
        if rest.startswith(_FILE):
            found.append(rest)
        # Source lines, 3.11's caret lines and "[Previous line repeated N more times]" are indented
        # under the frames; the exception line that ends the traceback is not.
        elif rest[:1] not in {" ", "", "\r"}:
            return found, index, margin
    return found, stop, margin


def _header(lines: list[str], start: int, stop: int) -> tuple[int, str]:
    """Where the frames of the first traceback in lines[start:stop] begin, and their margin.

    With no header, frames begin at the first `  File` line: the interpreter prints a
    SyntaxError in the main script as that line alone, and a window cut from the tail of a long
    traceback starts among the frames.
    """
    for index in range(start, stop):
        line = lines[index].rstrip()
        if line.endswith(_HEADER):
            prefix = line[: -len(_HEADER)].removesuffix(_GROUP)
            if not prefix.strip(" +|"):
                return index + 1, prefix.replace("+", "|")
        elif line.startswith(_FILE):
            return index, ""
    return stop, ""


# The same files and functions fail again and again: a line parsed once is not parsed again.
# Frames are immutable, so sharing them is safe; hostile input only churns the cache.
@functools.lru_cache(maxsize=8192)
def _frame(line: str) -> StackFrame | None:
    """`  File "/app/x.py", line 3, in handler`; SyntaxError prints no `, in` part."""
    path, separator, tail = line[len(_FILE) :].rstrip().rpartition('", line ')
    if not separator:
        return None
    line_number, _, function = tail.partition(", in ")
    return StackFrame(path, number(line_number), None, function)


@dataclass
class _Exception:
    type: str
    message: str
    frames: tuple[StackFrame, ...]
    # The exception printed above this one, and what it is to this one (cause or context).
    previous: tuple[str, _Exception] | None = None
    members: list[_Exception] = field(default_factory=list)


def _exception(lines: list[str], depth: int) -> _Exception | None:
    """The last exception of a traceback text (margin removed), with its chain and members."""
    bounds: list[tuple[int, int, str | None]] = []
    start, relation = 0, None
    for index, line in enumerate(lines):
        separator = _CHAIN_SEPARATORS.get(line.strip())
        if separator is not None:
            bounds.append((start, index, relation))
            start, relation = index + 1, separator
    bounds.append((start, len(lines), relation))
    latest: _Exception | None = None
    for begin, end, above in bounds:
        printed = _printed(lines, begin, end, depth)
        if printed is None:
            continue
        if latest is not None and above is not None:
            printed.previous = (above, latest)
        latest = printed
    return latest


def _printed(lines: list[str], start: int, stop: int, depth: int) -> _Exception | None:
    """One exception of a chain: its traceback, its exception line, and a group's members."""
    first = next((i for i in range(start, stop) if lines[i].strip()), stop)
    if first < stop and _EXCEPTION_LINE.fullmatch(lines[first].rstrip()):
        # A group that was never raised prints no traceback: the tracebacks in its boxes are
        # its members'.
        frame_lines: list[str] = []
        end, margin = first, ""
    else:
        frame_lines, end, margin = _traceback(lines, start, stop)
    at = end
    while at < stop and not lines[at].strip():
        at += 1
    if at >= stop or not lines[at].startswith(margin):
        return None
    match = _EXCEPTION_LINE.fullmatch(lines[at][len(margin) :].rstrip())
    if match is None:
        return None
    message = [match[2] or ""]
    box = margin[:-2] if margin.endswith("| ") else margin
    following = at + 1
    while following < stop and lines[following].startswith(margin):
        rest = lines[following][len(margin) :].rstrip()
        if not rest or _BOX.fullmatch(lines[following][len(box) :].rstrip()):
            break
        message.append(rest)  # the rest of a message on several lines, and notes
        following += 1
    frames = (_frame(line) for line in reversed(frame_lines[-MAX_FRAMES:]))
    printed = _Exception(
        match[1], "\n".join(message), tuple(frame for frame in frames if frame is not None)
    )
    if depth < _MAX_GROUP_DEPTH:
        printed.members = [
            member
            for member_lines in _members(lines, following, stop, box)
            if (member := _exception(member_lines, depth + 1)) is not None
        ]
    return printed


def _members(lines: list[str], start: int, stop: int, box: str) -> list[list[str]]:
    """The text of each sub-exception of a group, from its box, margin removed.

    A member's lines sit two columns right of the box's `+`, behind `| `; a group inside it draws
    its own boxes there, whose lines keep what follows those two columns.
    """
    members: list[list[str]] = []
    for line in lines[start:stop]:
        if not line.startswith(box):
            continue
        rest = line[len(box) :]
        separator = _BOX.fullmatch(rest.rstrip())
        if separator is not None:
            if separator[1] is None:
                break  # the line that closes the last box
            members.append([])
        elif members and rest.startswith("  "):
            inner = rest[2:]
            members[-1].append(inner[2:] if inner.startswith("|") else inner)
    return members


def _flatten(printed: _Exception, index: int | None, into: list[NestedError]) -> None:
    """Each exception printed with this one, after the one it belongs to (at `index`)."""
    related = [printed.previous] if printed.previous is not None else []
    related += [(SUB_ERROR, member) for member in printed.members]
    for relation, other in related:
        if len(into) >= MAX_CAUSES:
            return
        into.append(NestedError(other.type, other.message, relation, index, other.frames))
        _flatten(other, len(into) - 1, into)
