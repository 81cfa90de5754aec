"""Where the corpus programs mark the code a frame points at: no expected position is typed by hand.

JavaScript: `/*@name*/` right before the code a frame points at, or `/*^name*/` where the frame
points at the marker itself (JavaScriptCore points at the end of a callee, where nothing can come
between). Python: a `# @name` comment ends the line a frame points at.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from services.ingest.stacks import EvalOrigin, StackFrame

_JAVASCRIPT = re.compile(r"/\*([@^])([\w-]+)\*/")
_PYTHON = re.compile(r"# @([\w-]+)$", re.MULTILINE)


class Marks:
    def __init__(self) -> None:
        self._locations: dict[str, StackFrame] = {}

    def add_javascript(self, source: Path, abs_path: str) -> None:
        """Marks of a JavaScript file that the engine prints as abs_path.

        Engines differ in the code they point at (V8 and SpiderMonkey a callee's name or `new`,
        JavaScriptCore the end of the callee), so each engine runs programs marked for it. The
        marker is part of the source the engine reads, and counts in the column like any code.
        """
        text = source.read_text(encoding="utf-8")
        for match in _JAVASCRIPT.finditer(text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            # Engines count columns in UTF-16 units, Python in code points: only ASCII agrees.
            assert text[line_start : match.start()].isascii(), f"non-ASCII before {match[0]}"
            line = text.count("\n", 0, match.start()) + 1
            pointed = match.end() if match[1] == "@" else match.start()
            self._add(match[2], StackFrame(abs_path, line, pointed - line_start + 1, ""))

    def add_python(self, source: Path, abs_path: str) -> None:
        """Marks of a Python file: a `# @name` comment ends the line a frame points at."""
        text = source.read_text(encoding="utf-8")
        for match in _PYTHON.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            self._add(match[1], StackFrame(abs_path, line, None, ""))

    def at(self, name: str, function: str) -> StackFrame:
        return dataclasses.replace(self._locations[name], function=function)

    def at_line(self, name: str, function: str) -> StackFrame:
        """The frame of an eval call site, for which Firefox prints no column."""
        return dataclasses.replace(self._locations[name], column=None, function=function)

    def made_at(self, name: str, *, column: bool = True) -> EvalOrigin:
        """Where code made at run time was made (Firefox prints the line only)."""
        location = self._locations[name]
        return EvalOrigin(location.abs_path, location.line, location.column if column else None)

    def _add(self, name: str, location: StackFrame) -> None:
        assert name not in self._locations, f"marker {name} is used twice"
        self._locations[name] = location
