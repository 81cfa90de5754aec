"""The function a position of JavaScript or TypeScript source stands in, read from the source.

A source map's `names` say what a call site calls, not which function a position is in; for a
frame of a minified bundle whose caller names nothing (an async frame, resumed by the event loop)
the original source in the map's `sourcesContent` can still say it. Grouping needs a name that
does not change from one build to the next, and the minifier's does.

One linear pass over the source: strings, template literals, comments and regular expressions
are skipped, braces are matched, and a brace opens a function body when what precedes it says so
(`function name(...) {`, `name(...) {` in a class or object, `name = (...) => {`). No parser is
run on user uploads: a recursive one can be driven out of its stack by deep nesting.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

MAX_SOURCE_CHARS = 2 * 1024 * 1024
"""Longer sources are not read: no function name is found in them."""

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?)
    | (?P<name>[^\W\d][\w$]*|\$[\w$]*|\#[\w$]+)
    | (?P<number>\d[\w.]*)
    | (?P<punct>=>|\.\.\.|\?\.|[^\s\w])
    """,
    re.VERBOSE | re.DOTALL,
)
_REGEX = re.compile(r"/(?:[^/\\\n\[]|\\.|\[(?:[^\]\\\n]|\\.)*\])+/[A-Za-z]*")
_TEMPLATE_TEXT = re.compile(r"(?:[^`\\$]|\\.|\$(?!\{))*", re.DOTALL)
# After these a `/` starts a regular expression, not a division.
_BEFORE_REGEX = frozenset("([{}:;,=!&|?+-*%<>~^") | {
    "=>",
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "yield",
    "await",
}
# `name (...) {` is a block, not a method, after these.
_BLOCK_KEYWORDS = frozenset({"if", "for", "while", "switch", "catch", "with", "function"})
# How far back a TypeScript return type between `)` and `{` or `=>` is looked for.
_RETURN_TYPE_TOKENS = 40


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    name: str


class FunctionIndex:
    """The function spans of one source, for lookups by line and column."""

    __slots__ = ("_line_starts", "_spans", "_starts")

    def __init__(self, source: str) -> None:
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        spans = sorted(_spans(source), key=lambda span: span.start)
        self._spans = spans
        self._starts = [span.start for span in spans]

    def enclosing(self, line: int, column: int) -> str | None:
        """The innermost function around 1-based (line, column); "" for an anonymous one, None
        outside every function."""
        if not 0 < line <= len(self._line_starts):
            return None
        offset = self._line_starts[line - 1] + max(column - 1, 0)
        index = bisect.bisect_right(self._starts, offset) - 1
        while index >= 0:
            span = self._spans[index]
            if span.end >= offset:
                return span.name
            index -= 1
        return None


def _spans(source: str) -> list[_Span]:
    scanner = _Scanner()
    position = 0
    while position < len(source):
        position = scanner.step(source, position)
    return scanner.spans


class _Scanner:
    def __init__(self) -> None:
        # Significant tokens so far; strings, regular expressions and templates as placeholders.
        self.tokens: list[str] = []
        # Per open bracket: "(" with its token index, "{" with its span (None for a plain
        # block), or "`" for the `${` of a template literal.
        self.stack: list[tuple[str, int, _Span | None]] = []
        self.openings: dict[int, int] = {}  # index of a ")" token: index of its "("
        self.spans: list[_Span] = []

    def step(self, source: str, position: int) -> int:
        """Reads the token at position; returns where the next one starts."""
        char = source[position]
        if char == "`" or (char == "}" and self.stack and self.stack[-1][0] == "`"):
            if char == "}":
                self.stack.pop()
            self.tokens.append("`")
            return _template(source, position + 1, self.stack)
        if char == "/" and (not self.tokens or self.tokens[-1] in _BEFORE_REGEX):
            regex = _REGEX.match(source, position)
            if regex is not None:
                self.tokens.append("/re/")
                return regex.end()
        match = _TOKEN.match(source, position)
        if match is None:  # every character matches one branch; a guard against looping
            return position + 1
        if match.lastgroup not in ("space", "comment"):
            self._token('"' if match.lastgroup == "string" else match.group(), match.start())
        return match.end()

    def _token(self, text: str, start: int) -> None:
        self.tokens.append(text)
        if text == "(":
            self.stack.append(("(", len(self.tokens) - 1, None))
        elif text == ")":
            if self.stack and self.stack[-1][0] == "(":
                self.openings[len(self.tokens) - 1] = self.stack.pop()[1]
        elif text == "{":
            name = _function_name(self.tokens, self.openings)
            self.stack.append(("{", 0, _Span(start, -1, name) if name is not None else None))
        elif text == "}":
            while self.stack and self.stack[-1][0] == "(":
                self.stack.pop()  # an unclosed parenthesis in broken code
            if self.stack and self.stack[-1][0] == "{":
                span = self.stack.pop()[2]
                if span is not None:
                    self.spans.append(_Span(span.start, start, span.name))


def _template(source: str, position: int, stack: list[tuple[str, int, _Span | None]]) -> int:
    """Past the text of a template literal: to its closing backtick, or into a `${`."""
    text = _TEMPLATE_TEXT.match(source, position)
    end = text.end() if text is not None else position
    if source.startswith("${", end):
        stack.append(("`", 0, None))
        return end + 2
    return end + 1


def _function_name(tokens: list[str], openings: dict[int, int]) -> str | None:
    """The name of the function whose body the `{` just read opens; "" when it has none; None
    when the brace opens no function (a block, an object, a class body)."""
    brace = len(tokens) - 1
    before = brace - 1
    if before < 0:
        return None
    if tokens[before] == "=>":
        return _arrow_name(tokens, openings, before)
    closing = before if tokens[before] == ")" else _return_type_start(tokens, before)
    if closing is None or closing not in openings:
        return None
    opening = openings[closing]
    callee = tokens[opening - 1] if opening > 0 else ""
    if callee == "function" or (
        callee == "*" and opening > 1 and tokens[opening - 2] == "function"
    ):
        return _assigned_name(tokens, opening - (1 if callee == "function" else 2))
    # `function name(...) {`, or a method: `name(...) {`, `async name(...) {`, `get name() {`.
    if _is_name(callee) and callee not in _BLOCK_KEYWORDS:
        return callee
    return None


def _arrow_name(tokens: list[str], openings: dict[int, int], arrow: int) -> str:
    """`name = (...) => {`, `name: async x => {`; "" for an arrow passed as an argument."""
    typed = _return_type_start(tokens, arrow - 1)
    params = typed if typed is not None else arrow - 1
    if params >= 0 and tokens[params] == ")" and params in openings:
        start = openings[params]
    elif params >= 0 and _is_name(tokens[params]):
        start = params
    else:
        return ""
    if start > 0 and tokens[start - 1] == "async":
        start -= 1
    return _assigned_name(tokens, start)


def _assigned_name(tokens: list[str], start: int) -> str:
    """The name a function expression starting at tokens[start] is given: `name = ...`,
    `name: ...`, `const name = ...`; "" otherwise."""
    if start > 0 and tokens[start - 1] == "async":
        start -= 1
    if start > 1 and tokens[start - 1] in ("=", ":") and _is_name(tokens[start - 2]):
        return tokens[start - 2]
    return ""


def _return_type_start(tokens: list[str], last: int) -> int | None:
    """The `)` of a parameter list followed by a TypeScript return type `: Type` ending at
    tokens[last]."""
    for index in range(last, max(last - _RETURN_TYPE_TOKENS, 0), -1):
        text = tokens[index]
        if text in (";", "{", "}", "=", "=>", "("):
            return None
        if text == ":" and tokens[index - 1] == ")":
            return index - 1
    return None


def _is_name(token: str) -> bool:
    return bool(token) and (token[0].isalpha() or token[0] in "_$#")
