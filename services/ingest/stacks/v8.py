"""V8 stacks (Node, Chrome, Edge, Deno): a message, then `    at ...` lines, innermost first.

Node's `util.inspect` (what `console.error(error)`, loggers and the report of an uncaught error
print) adds what error.stack leaves out: the error's own properties after its frames, among them
its `[cause]` and an AggregateError's `[errors]`, each printed the same way one level deeper, and
`... N lines matching cause stack trace ...` where an error's frames repeat its cause's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from services.ingest.stacks.model import (
    CAUSE,
    EMPTY,
    MAX_CAUSES,
    MAX_FRAMES,
    SUB_ERROR,
    EvalOrigin,
    NestedError,
    ParsedStack,
    StackFrame,
    last_run,
    split_position,
)

# Locations that name no file: a script without a name, a builtin, a failed lookup. V8 prints
# "<anonymous>" even with a position after it (code from eval or new Function).
_NO_FILE = frozenset({"<anonymous>", "native", "unknown location"})

_ELISION = re.compile(r"\.\.\. (\d{1,9}) lines? matching cause stack trace \.\.\.")
# `Name: message`, `Name [CODE]: message` or a bare `Name`: how an error's stack starts.
_ERROR_HEADER = re.compile(r"([A-Za-z_$][\w$.]*(?: \[[^\]]*\])?)(?:: (.*))?")
# An error whose stack holds no frame, as util.inspect prints it: `[AggregateError: message]`.
_BRACKETED = re.compile(r"\[([A-Za-z_$][\w$.]*(?: \[[^\]]*\])?)(?:: (.*))?\]")
# Blocks read from one text: causes kept plus room for the ones they hang from.
_MAX_BLOCKS = 3 * MAX_CAUSES


def parse_v8(text: str) -> ParsedStack:
    if "at " not in text:
        return EMPTY
    # util.inspect opens an error's properties with ` {` at the end of a line: without one, the
    # text is a plain stack, read without looking for them.
    start = _properties_start(text.split("\n")) if " {" in text else None
    if start is None:
        frames = last_run(_frame_texts(text), _frame)
        if any(frame.eval_origin is not None for frame in frames):
            return ParsedStack(frames, [], last_run(_frame_texts(text), _frame_v1))
        return ParsedStack(frames, [])
    blocks = _Reader(text.split("\n"), start).read()
    return ParsedStack(
        blocks[0].resolved(), _nested(blocks), last_run(_frame_texts(text), _frame_v1)
    )


def _frame_texts(text: str) -> Iterator[str | None]:
    # Any indentation counts, not only V8's four spaces: loggers and SDKs re-indent stacks.
    for line in text.split("\n"):
        body = line.strip()
        yield body[3:] if body.startswith("at ") else None


def _properties_start(lines: list[str]) -> int | None:
    """The line that ends the thrown error's frames and opens its own properties, if printed.

    util.inspect ends the last frame with ` {`; an error with no frame is `[Name: message] {`.
    A plain stack has neither, and its frames are read as they always were.
    """
    for index, line in enumerate(lines):
        body = line.strip()
        if body.endswith(" {") and (body.startswith("at ") or _BRACKETED.fullmatch(body[:-2])):
            return index
    return None


@dataclass
class _Elision:
    count: int


@dataclass
class _Block:
    """One error of a printed tree, with the frames and elisions of its lines, in order."""

    type: str
    message: str
    relation: str
    parent: int | None
    header_indent: int
    lines: list[StackFrame | _Elision] = field(default_factory=list)
    frame_indent: int | None = None
    parsed: int = 0  # frame lines parsed, at most MAX_FRAMES
    value: bool = False  # a cause that is no error: `[cause]: { status: 503 }`
    children: list[int] = field(default_factory=list)

    @property
    def properties_indent(self) -> int:
        return (self.frame_indent or self.header_indent + 4) - 2

    def add(self, body: str, indent: int) -> None:
        elision = _ELISION.fullmatch(body)
        if elision is not None:
            self.lines.append(_Elision(int(elision[1])))
            return
        if self.frame_indent is None:
            self.frame_indent = indent
        if self.parsed < MAX_FRAMES:
            self.parsed += 1
            frame = _frame(body[3:])
            if frame is not None:
                self.lines.append(frame)

    def resolved(self) -> list[StackFrame]:
        return [line for line in self.lines if isinstance(line, StackFrame)]


class _Reader:
    """Reads the tree util.inspect prints from the line that opens the thrown error's properties.

    Nesting is read from indentation, as util.inspect writes it: an error's frames are indented
    four spaces past its header and its properties two; an AggregateError's `[errors]` are two
    past the line that opens them.
    """

    def __init__(self, lines: list[str], start: int) -> None:
        self._lines = lines
        self._start = start
        self._blocks: list[_Block] = []
        # Open `[errors]: [` lists: the owner's index and the indent of their elements.
        self._lists: list[tuple[int, int]] = []
        self._current: _Block | None = None

    def read(self) -> list[_Block]:
        self._read_thrown()
        for line in self._lines[self._start + 1 :]:
            body = line.strip()
            if body:
                self._line(body, len(line) - len(line.lstrip()))
        for block in reversed(self._blocks):
            self._restore_elided(block)
        return self._blocks

    def _read_thrown(self) -> None:
        opening = self._lines[self._start]
        indent = len(opening) - len(opening.lstrip())
        thrown = _Block("", "", "", None, indent)
        self._blocks.append(thrown)
        body = opening.strip()
        if not body.startswith("at "):
            return  # `[Name: message] {`: no frames
        first = self._start
        while first > 0:
            previous = self._lines[first - 1].strip()
            if not (previous.startswith("at ") or _ELISION.fullmatch(previous)):
                break
            first -= 1
        for line in self._lines[first : self._start + 1]:
            thrown.add(line.strip(), len(line) - len(line.lstrip()))

    def _line(self, body: str, indent: int) -> None:
        current = self._current
        if current is not None and current.value:
            self._value_line(current, body, indent)
        elif current is not None and (body.startswith("at ") or _ELISION.fullmatch(body)):
            current.add(body, indent)
            if body.endswith((" {", ",")):
                self._current = None  # its properties open, or the list goes on
        elif body.startswith("[cause]: "):
            self._start_block(body[9:], self._owner(indent), CAUSE, indent)
        elif body == "[errors]: [":
            self._lists.append((self._owner(indent), indent + 2))
            self._current = None
        elif self._lists and indent == self._lists[-1][1] and body[0] not in "]}":
            self._start_block(body, self._lists[-1][0], SUB_ERROR, indent)
        elif body[0] in "]}":
            while self._lists and self._lists[-1][1] > indent:
                self._lists.pop()
            self._current = None
        elif current is not None and not current.lines and indent >= current.header_indent:
            # The rest of a message printed on several lines.
            current.message = f"{current.message}\n{body}"
        else:
            self._current = None  # another property: `code: 'E_START',`

    def _value_line(self, current: _Block, body: str, indent: int) -> None:
        """A line of a cause that is no error, printed over several lines up to its bracket."""
        if indent > current.header_indent or body.rstrip(",") in ("}", "]"):
            current.message = f"{current.message}\n{body.rstrip(',')}"
            if indent <= current.header_indent:
                self._current = None
            return
        self._current = None
        self._line(body, indent)

    def _owner(self, indent: int) -> int:
        """The error whose properties are printed at this indent: the nearest open one."""
        for index in range(len(self._blocks) - 1, -1, -1):
            if self._blocks[index].properties_indent == indent:
                return index
        return len(self._blocks) - 1

    def _start_block(self, text: str, parent: int, relation: str, indent: int) -> None:
        self._current = None
        if len(self._blocks) >= _MAX_BLOCKS:
            return
        header = text.removesuffix(",")
        opens = header.endswith(" {")
        header = header.removesuffix(" {")
        bracketed = _BRACKETED.fullmatch(header)
        error = bracketed or _ERROR_HEADER.fullmatch(header)
        if error is not None:
            block = _Block(error[1], error[2] or "", relation, parent, indent)
        else:
            block = _Block("", header, relation, parent, indent, value=True)
        self._blocks[parent].children.append(len(self._blocks))
        self._blocks.append(block)
        if block.value:
            if header in ("{", "["):
                self._current = block
        elif not (bracketed or opens or text.endswith(",")):
            self._current = block

    def _restore_elided(self, block: _Block) -> None:
        """Put back the frames util.inspect left out because the error's cause has them too.

        It keeps the first and the last frame of the run both share and replaces the N between
        with one line; the cause's frames after the first give them back. A gap that does not
        match the cause, as in a text cut short, is left out.
        """
        if not any(isinstance(line, _Elision) for line in block.lines):
            return
        causes = [self._blocks[i] for i in block.children if self._blocks[i].relation == CAUSE]
        source = causes[0].resolved() if causes else []
        restored: list[StackFrame | _Elision] = []
        for index, line in enumerate(block.lines):
            if not isinstance(line, _Elision):
                restored.append(line)
                continue
            before = restored[-1] if restored and isinstance(restored[-1], StackFrame) else None
            after = block.lines[index + 1] if index + 1 < len(block.lines) else None
            restored.extend(_elided(source, before, after, line.count))
        block.lines = restored


def _elided(
    source: list[StackFrame],
    before: StackFrame | None,
    after: StackFrame | _Elision | None,
    count: int,
) -> list[StackFrame]:
    if before is None:
        return []
    for start, frame in enumerate(source):
        if frame != before:
            continue
        end = start + 1 + count
        if end > len(source):
            break
        if (
            after is None
            or not isinstance(after, StackFrame)
            or (end < len(source) and source[end] == after)
        ):
            return source[start + 1 : end]
    return []


def _nested(blocks: list[_Block]) -> list[NestedError]:
    """The thrown error's causes and sub-errors, parents before children, indexes renumbered."""
    nested: list[NestedError] = []
    index_of: dict[int, int] = {}
    for number, block in enumerate(blocks[1:], start=1):
        if len(nested) >= MAX_CAUSES:
            break
        parent = None if block.parent in (0, None) else index_of.get(block.parent)
        if block.parent not in (0, None) and parent is None:
            continue  # its parent was left out
        index_of[number] = len(nested)
        nested.append(
            NestedError(block.type, block.message, block.relation, parent, tuple(block.resolved()))
        )
    return nested


# The same files and functions fail again and again: a line parsed once is not parsed again.
# Frames are immutable, so sharing them is safe; hostile input only churns the cache.
@functools.lru_cache(maxsize=8192)
def _frame(text: str) -> StackFrame | None:
    """One frame after its `at `, as stored: eval frames keep their origin apart.

    util.inspect ends a frame line with ` {` when the error's properties follow, and with `,`
    between the elements of a list; neither is part of the frame.
    """
    text = text.removesuffix(",").removesuffix(" {")
    parts = _function_and_location(text)
    if parts is None:
        return None
    function, location = parts
    if location.startswith("eval at "):
        return _evaluated(location, function)
    return _located(location, function)


@functools.lru_cache(maxsize=8192)
def _frame_v1(text: str) -> StackFrame | None:
    """One frame as grouping version 1 read it: an eval frame stands at its origin."""
    parts = _function_and_location(text)
    if parts is None:
        return None
    function, location = parts
    if location.startswith("eval at "):
        location = _eval_site(location)
    return _located(location, function)


def _function_and_location(text: str) -> tuple[str, str] | None:
    """`function (location)` or a bare `location`.

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
        return text[:opening].rstrip(), text[opening + 1 : -1]
    # `at async file:///app.mjs:3:1` is a nameless async frame: "async" names nothing.
    return "", text.removeprefix("async ")


def _located(location: str, function: str) -> StackFrame | None:
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


def _evaluated(location: str, function: str) -> StackFrame:
    """A frame of code from eval or new Function: its position in that code, and the origin.

    `eval at f (eval at g (/app.js:1:2)), <anonymous>:3:4` runs at 3:4 of code that /app.js made
    at 1:2 (through f's eval of code g's made). The code is in no file, whatever name a
    `//# sourceURL` gave it.
    """
    origin = _located(_eval_site(location), "")
    own = split_position(location[location.rfind("), ") + 3 :]) if "), " in location else None
    path, line, column = own if own is not None else ("", None, None)
    return StackFrame(
        "" if path == "<anonymous>" else path,
        line,
        column,
        function,
        EvalOrigin(origin.abs_path, origin.line, origin.column)
        if origin is not None
        else EvalOrigin("", None, None),
    )


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
