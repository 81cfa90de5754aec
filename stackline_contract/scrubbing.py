"""A project's own scrubbing settings: what ProjectsService accepts and IngestService applies.

Extra patterns are regular expressions in a subset that cannot backtrack, so no pattern a user
sets can make ingest slow, and no timeout is needed:

- items: literal characters, escaped punctuation (`\\.`), the classes `\\d \\w \\s \\D \\W \\S`,
  a bracket class (`[A-Z0-9_-]`, `[^@]`) and `.`;
- each item may take one quantifier, `?`, `*`, `+`, `{m}` or `{m,n}` (at most 256); `*` and `+`
  read at most 256 characters;
- no groups, alternation, anchors, lookarounds or back-references.

Every quantifier is made possessive: it takes all it can and never gives back, so matching
from one position reads each character at most once, and a whole text costs at most its length
times the pattern's longest match. As a consequence `.*x` matches nothing (`.*` has taken the
`x`); write `[^x]*x`. A pattern that matches the empty string is refused: it would filter
between every two characters.
"""

from __future__ import annotations

import re

from stackline_contract import text

MAX_FIELDS = 50
MAX_FIELD_LENGTH = 64
MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 200
MAX_REPEAT = 256

_CLASS_ESCAPES = frozenset("dDwWsS")
_FORBIDDEN = {
    "(": "groups are",
    ")": "groups are",
    "|": "alternation is",
    "^": "anchors are",
    "$": "anchors are",
}
_REPEAT = re.compile(r"\{(\d{1,3})(?:,(\d{1,3}))?\}")


def normalise_field(name: str) -> str:
    """A field name as scrubbing compares it: lower case, `-` and spaces as `_`."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def validate_field(name: str) -> str:
    """The normalised name, or ValueError saying what is wrong with it."""
    normalised = normalise_field(name)
    if not normalised or len(normalised) > MAX_FIELD_LENGTH or not text.is_printable(normalised):
        raise ValueError(f"a field name is 1-{MAX_FIELD_LENGTH} printable characters")
    return normalised


def translate(pattern: str) -> str:
    """The Python regex that runs `pattern` without backtracking, or ValueError saying why the
    pattern is refused."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH or not text.is_printable(pattern):
        raise ValueError(f"a pattern is 1-{MAX_PATTERN_LENGTH} printable characters")
    out: list[str] = []
    position = 0
    quantifiable = False
    while position < len(pattern):
        char = pattern[position]
        if char in _FORBIDDEN:
            raise ValueError(f"{_FORBIDDEN[char]} not allowed (at {position + 1}: {char!r})")
        if char in "?*+{":
            if not quantifiable:
                raise ValueError(f"a quantifier must follow one item (at {position + 1})")
            position, quantifier = _quantifier(pattern, position)
            out.append(quantifier + "+")
            quantifiable = False
            continue
        position, item = _item(pattern, position)
        out.append(item)
        quantifiable = True
    translated = "".join(out)
    try:
        compiled = re.compile(translated)
    except re.error as exc:
        raise ValueError(f"the pattern does not compile: {exc.msg}") from None
    if compiled.fullmatch("") is not None:
        raise ValueError("the pattern matches the empty string")
    return translated


def _item(pattern: str, position: int) -> tuple[int, str]:
    """One item from `position`: where the next begins, and its Python regex."""
    char = pattern[position]
    if char == "\\":
        if position + 1 >= len(pattern):
            raise ValueError("the pattern ends with a lone backslash")
        escaped = pattern[position + 1]
        if escaped not in _CLASS_ESCAPES and escaped.isalnum():
            raise ValueError(
                "only \\d \\w \\s \\D \\W \\S and escaped punctuation are allowed"
                f" (at {position + 1}: \\{escaped})"
            )
        return position + 2, "\\" + escaped
    if char == "[":
        end = _class_end(pattern, position)
        if "[" in pattern[position + 1 : end].replace("\\[", ""):
            raise ValueError(f"a bracket class cannot hold '[' (at {position + 1})")
        return end + 1, pattern[position : end + 1]
    if char in "]}":
        raise ValueError(f"unbalanced {char!r} (at {position + 1})")
    return position + 1, "." if char == "." else re.escape(char)


def _quantifier(pattern: str, position: int) -> tuple[int, str]:
    char = pattern[position]
    if char == "?":
        return position + 1, "?"
    if char == "*":
        return position + 1, f"{{0,{MAX_REPEAT}}}"
    if char == "+":
        return position + 1, f"{{1,{MAX_REPEAT}}}"
    match = _REPEAT.match(pattern, position)
    if match is None:
        raise ValueError(f"a repeat is {{m}} or {{m,n}} (at {position + 1})")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if not low <= high <= MAX_REPEAT:
        raise ValueError(f"a repeat {{m,n}} needs m <= n <= {MAX_REPEAT} (at {position + 1})")
    return match.end(), f"{{{low},{high}}}"


def _class_end(pattern: str, start: int) -> int:
    position = start + 1
    if position < len(pattern) and pattern[position] == "^":
        position += 1
    if position < len(pattern) and pattern[position] == "]":
        position += 1  # a leading ] is a literal
    while position < len(pattern):
        if pattern[position] == "\\":
            position += 2
            continue
        if pattern[position] == "]":
            return position
        position += 1
    raise ValueError(f"unclosed '[' (at {start + 1})")


def compile_patterns(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    """Stored patterns, compiled as ingest runs them; one that fails validation (stored by an
    older rule) is left out rather than failing every event of the project."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(translate(pattern)))
        except ValueError:
            continue
    return tuple(compiled)
