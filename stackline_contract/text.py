"""Printable text: the rule the services check names, paths and versions by, and the API's
schema states, from one regular expression so that what the schema calls valid is accepted.

Printable here is what a name shown in a list can be: no control characters (Cc), no format
characters (Cf: zero-width spaces, bidirectional overrides), no line or paragraph separators, and
no space but U+0020. Python's `str.isprintable()` also refuses private-use and unassigned code
points, which a newer Unicode may assign; a rule that changed with the Python build could not be
published as a schema (and a class of their 700 ranges is too slow for generators of test data).
"""

import re
import unicodedata

_NOT_PRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})


# The planes that hold such characters: the Basic and Supplementary Multilingual ones, and the
# Supplementary Special-purpose one (tags). The others hold ideographs, private use, or nothing.
_PLANES = (range(0x0000, 0x20000), range(0xE0000, 0xF0000))


def _not_printable() -> str:
    """The characters the rule refuses, as the ranges of a regular expression's class."""
    ranges: list[tuple[int, int]] = []
    for plane in _PLANES:
        # One byte per code point, 1 where refused, made by C loops (a Python loop over them
        # would cost a good part of a second at start-up); the runs of 1 are the ranges.
        refused = bytearray(
            map(_NOT_PRINTABLE.__contains__, map(unicodedata.category, map(chr, plane)))
        )
        if plane.start == 0:
            refused[ord(" ")] = 0
        ranges += [
            (plane.start + run.start(), plane.start + run.end() - 1)
            for run in re.finditer(b"\x01+", refused)
        ]
    # None of them is `]`, `\`, `^` or `-`, which would need escaping inside a class.
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


_CLASS = _not_printable()
PRINTABLE_CHAR = f"[^{_CLASS}]"
"""One printable character (a space is one)."""
PRINTABLE_PATTERN = f"^{PRINTABLE_CHAR}*$"
"""Printable text, empty included; give the lengths beside it."""
NAME_PATTERN = f"^ *[^ {_CLASS}]{PRINTABLE_CHAR}*$"
"""Printable text that is not only spaces (the services strip them first)."""

_PRINTABLE = re.compile(f"{PRINTABLE_CHAR}*")


def is_printable(text: str) -> bool:
    """Whether every character of text is printable (an empty text is)."""
    return _PRINTABLE.fullmatch(text) is not None


REPOSITORY_FOLDER_PATTERN = f"^(?! */)(?!(?:.*/)? *\\.\\.(?:/| *$))[^\\\\{_CLASS}]*$"
"""A folder of a repository as a path relative to its root: printable, no backslash, not from
`/`, and no `..` segment (so it cannot climb out of the repository); it looks ahead."""
