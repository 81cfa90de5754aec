"""CPython tracebacks: outermost frame first, chained exceptions in turn, the raised one last."""

from __future__ import annotations

import functools

from services.ingest.stacks.model import MAX_FRAMES, StackFrame, number

_HEADER = "Traceback (most recent call last):"
_GROUP = "Exception Group "
_FILE = '  File "'
_CHAIN_SEPARATORS = frozenset(
    {
        "The above exception was the direct cause of the following exception:",
        "During handling of the above exception, another exception occurred:",
    }
)


def parse_python(text: str) -> list[StackFrame]:
    """Frames of the last printed exception that has any, innermost first.

    The last printed exception is the one raised; the ones before it are its causes and contexts.
    An earlier one is used only when the last has no frames, as when the text was cut short.
    """
    if 'File "' not in text:
        return []
    lines = text.split("\n")
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
    """The `File "..."` lines of the first traceback in lines[start:stop], margin removed.

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
            break
        rest = line[len(margin) :]
        if rest.startswith(_FILE):
            found.append(rest)
        # Source lines, 3.11's caret lines and "[Previous line repeated N more times]" are indented
        # under the frames; the exception line that ends the traceback is not.
        elif rest[:1] not in {" ", "", "\r"}:
            break
    return found


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
