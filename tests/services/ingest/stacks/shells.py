"""Running the JavaScript shells of the corpus (jsc, gjs): each prints its cases' stacks as JSON."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.markers import Marks


@dataclass(frozen=True)
class ShellRun:
    """Each case's stack, by name, and the marks of the sources that threw."""

    stacks: dict[str, str]
    marks: Marks

    def case(self, name: str) -> list[StackFrame]:
        stack = self.stacks[name]
        frames = parse_stack(stack, "browser")
        assert len(frames) == len(stack.strip().split("\n")), stack  # one frame a line
        return frames


def run_shell(shell: str, *args: str | Path) -> dict[str, str]:
    result = subprocess.run([shell, *args], capture_output=True, text=True, timeout=60, check=True)
    stacks: dict[str, str] = json.loads(result.stdout)
    return stacks
