"""Counting the work a piece of Python does, so that tests bound work instead of timing it.

`count_work(Path(services.ingest.stacks.__file__).parent, budget=...)` counts, while it is
entered, every line of Python run in the files under that folder (sys.settrace), which is the
same number on a fast machine and on a busy one, and every call of their functions. A line
budget turns a runaway loop into a prompt failure rather than a hang: past it, the next line
raises WorkBudgetExceeded inside the code being counted.

What it does not see is work inside C: a `str.find` is one line however long its string. Bound
the size of what the C code is given as well (`sizes`: the length of one argument of a function,
summed over its calls).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any


class WorkBudgetExceeded(AssertionError):
    pass


@dataclass
class Work:
    lines: int = 0
    """Lines of Python run in the watched files."""
    calls: Counter[str] = field(default_factory=Counter)
    """Calls of the watched files' functions, by function name."""
    sizes: Counter[str] = field(default_factory=Counter)
    """len() of the watched argument of each function named in `sizes`, summed over its calls."""


@contextmanager
def count_work(
    root: Path, *, budget: int | None = None, sizes: Mapping[str, str] | None = None
) -> Iterator[Work]:
    """Count the work done under `root` in this thread; `sizes` maps a function name to the
    name of the argument whose length to add up."""
    prefix = str(root.resolve())
    watched_sizes = dict(sizes or {})
    work = Work()

    def local(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "line":
            work.lines += 1
            if budget is not None and work.lines > budget:
                raise WorkBudgetExceeded(f"more than {budget:,} lines of Python run")
        return local

    def on_call(frame: FrameType, event: str, _arg: Any) -> Any:
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(prefix):
            return None
        # A generator resumed is a "call" too, at the line it stopped on; a fresh frame (or a
        # generator's first step) is at the line of its def.
        if frame.f_lineno == code.co_firstlineno:
            work.calls[code.co_name] += 1
            argument = watched_sizes.get(code.co_name)
            if argument is not None:
                work.sizes[code.co_name] += len(frame.f_locals[argument])
        return local

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield work
    finally:
        sys.settrace(previous)
