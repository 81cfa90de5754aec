"""V8 stacks (Node, Chrome, Edge, Deno): a message, then `    at ...` lines, innermost first."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from services.ingest.stacks.model import StackFrame, last_run, split_position

# Locations that name no file: a script without a name, a builtin, a failed lookup. V8 prints
# "<anonymous>" even with a position after it (code from eval or new Function).
_NO_FILE = frozenset({"<anonymous>", "native", "unknown location"})


def parse_v8(text: str) -> list[StackFrame]:
    if "at " not in text:
        return []
    return last_run(_frame_texts(text), _frame)


def _frame_texts(text: str) -> Iterator[str | None]:
    # Any indentation counts, not only V8's four spaces: loggers and SDKs re-indent stacks.
    for line in text.split("\n"):
        body = line.strip()
        yield body[3:] if body.startswith("at ") else None


# The same files and functions fail again and again: a line parsed once is not parsed again.
# Frames are immutable, so sharing them is safe; hostile input only churns the cache.
@functools.lru_cache(maxsize=8192)
def _frame(text: str) -> StackFrame | None:
    """One frame after its `at `: `function (location)` or a bare `location`.

    Function names hold spaces and brackets (`async Foo.bar [as baz]`, `new <anonymous>`) and
    locations hold parentheses (paths like `/srv/app (copy)/a.js`, eval origins), so the split is
    at the parenthesis that matches the final one, not at the first " (".
    """
    if text.count("(") > text.count(")"):
        # A line cut short (`fn (/app.js:1`, `f (eval at g (/app.js:1:2)`) or a path with a lone
        # "(": the text cannot tell them apart, and cut stacks are the common case.
        return None
    if text.endswith(")"):
        opening = _opening_parenthesis(text)
        if opening < 0:
            # A path with a lone ")". Function names almost never hold " (".
            opening = text.find(" (") + 1
            if opening <= 0:
                return None
        function = text[:opening].rstrip()
        location = text[opening + 1 : -1]
    else:
        # `at async file:///app.mjs:3:1` is a nameless async frame: "async" names nothing.
        function = ""
        location = text.removeprefix("async ")
    return _located(location, function)


def _located(location: str, function: str) -> StackFrame | None:
    if location.startswith("eval at "):
        location = _eval_site(location)
    position = split_position(location)
    if position is not None:
        path, line, column = position
        return StackFrame("" if path == "<anonymous>" else path, line, column, function)
    # `Promise.all (index 0)` and friends: which element of the awaited array rejected.
    if location in _NO_FILE or location.startswith("index "):
        return StackFrame("", None, None, function)
    wasm = location.find(":wasm-function[")
    if wasm > 0:
        # The position after the module URL is a function index and byte offset, not line:column.
        return StackFrame(location[:wasm], None, None, function)
    return None


def _eval_site(location: str) -> str:
    """The real file location inside an eval origin: the call site of the outermost eval.

    `eval at f (eval at g (/app.js:1:2)), <anonymous>:3:4` → `/app.js:1:2`. The position after
    the origin is inside the evaluated string, which no source file or source map holds.
    """
    start = 0
    while location.startswith("eval at ", start):
        opening = location.find("(", start + 8)
        if opening < 0:
            return location
        start = opening + 1
    end = location.find(")", start)
    return location[start:end] if end >= 0 else location[start:]


def _opening_parenthesis(text: str) -> int:
    """Index of the `(` that the final `)` of text closes, or -1 when there is none.

    Walks back with rfind from one parenthesis to the next, keeping the nearest of each kind, so
    every character is passed over at most twice: linear even for a hostile line of parentheses.
    """
    depth = 1
    end = len(text) - 1
    opening = text.rfind("(", 0, end)
    closing = text.rfind(")", 0, end)
    while opening >= 0:
        if closing > opening:
            depth += 1
            closing = text.rfind(")", 0, closing)
        else:
            depth -= 1
            if depth == 0:
                return opening
            opening = text.rfind("(", 0, opening)
    return -1
