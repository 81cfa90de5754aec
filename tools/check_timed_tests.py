"""Refuses tests whose verdict depends on how fast the machine is: `make lint` runs it.

A test may read a clock only to set a deadline and to compare against it; it may not take the
difference of two clock readings (elapsed time), and it may not read the clocks that exist only
to time things (perf_counter, process_time, hrtime). The rule and the approved forms of a hang
guard are in docs/testing.md; the message printed for each finding says them too.

    python tools/check_timed_tests.py [PATH ...]      # default: every test tree of the repo
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_TREES = (
    "tests",
    "sdk/python/tests",
    "sdk/js/test",
    "ide-extension/test",
    "ide-extension/test-host",
)
_JS_SUFFIXES = {".js", ".mjs", ".cjs", ".ts"}

RULE = """\
Tests must not depend on how fast the machine is (docs/testing.md):
  - no elapsed time: never subtract one clock reading from another (`time.monotonic() - started`,
    `Date.now() - t0`), and no perf_counter, process_time or process.hrtime in tests;
  - a check that something is fast counts the work instead (operations, bytes, calls), and the
    timing goes to bench/ with its figure in bench/README.md;
  - a check that something does not hang is a hang guard, written in one of these forms:
      * a timeout on the call that waits: asyncio.wait_for(call, HANG_GUARD), thread.join(30),
        proc.wait(timeout=30), subprocess.run(..., timeout=60), event.wait(30) asserted true;
        node:test `{ timeout: 30_000 }`, runHost(..., { timeoutMs }), waitFor(..., { timeoutMs });
      * a deadline set once and compared against: `deadline = time.monotonic() + 30` then
        `assert time.monotonic() < deadline, "what never happened"` inside the polling loop;
    with a margin that no busy machine reaches (tens of seconds, not the expected duration);
  - better still, assert the mechanism: the timeout handed to the socket, the deadline set on
    the call, the delay a retry was scheduled with on an injected clock."""

# time-module functions that read a clock; the second set exists only to measure durations.
_CLOCKS = {"time", "time_ns", "monotonic", "monotonic_ns"}
_DURATION_CLOCKS = {
    "perf_counter",
    "perf_counter_ns",
    "process_time",
    "process_time_ns",
    "thread_time",
    "thread_time_ns",
}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


# -- Python ---------------------------------------------------------------------------------


class _PythonFile:
    """Elapsed time in one module: subtractions whose two operands are both clock readings.

    A clock reading is a call of a clock (time.monotonic(), loop.time(), datetime.now(), ...),
    or a name or attribute that was assigned one, give or take a constant (`started`,
    `deadline = time.monotonic() + 30`, `self.fetched_at`). Names are tracked per module, which
    is coarse but has no false negatives on the shapes tests use.
    """

    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.tree = tree
        self.time_names = self._names_from_time(tree)
        self.names: set[str] = set()
        self.attributes: set[str] = set()
        self._collect()

    @staticmethod
    def _names_from_time(tree: ast.Module) -> set[str]:
        """`from time import monotonic as now` makes `now()` a clock."""
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "time":
                for alias in node.names:
                    if alias.name in _CLOCKS | _DURATION_CLOCKS:
                        names.add(alias.asname or alias.name)
        return names

    def _collect(self) -> None:
        # Twice: `a = clock()` then `b = a + 1` in either order of appearance.
        for _ in range(2):
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                    value = node.value
                    if value is None:
                        continue
                    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                    if self.is_clock(value) or self._clock_factory(value):
                        for each in node.targets if isinstance(node, ast.Assign) else [target]:
                            self._mark(each)
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"append", "appendleft", "add", "insert"}
                    and any(self.is_clock(arg) for arg in node.args)
                ):
                    # `times.append(time.monotonic())`: a collection of readings.
                    self._mark(node.func.value)

    def _mark(self, target: ast.AST) -> None:
        for leaf in ast.walk(target):
            if isinstance(leaf, ast.Name):
                # Also as an attribute: a class body's `at = ...` is read as `event.at`.
                self.names.add(leaf.id)
                self.attributes.add(leaf.id)
            elif isinstance(leaf, ast.Attribute):
                self.attributes.add(leaf.attr)

    def _clock_factory(self, node: ast.AST) -> bool:
        """`field(default_factory=time.monotonic)`: a dataclass field holding a reading."""
        return isinstance(node, ast.Call) and any(
            keyword.arg == "default_factory" and self._names_a_clock(keyword.value)
            for keyword in node.keywords
        )

    def _names_a_clock(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.value.id == "time" and node.attr in _CLOCKS | _DURATION_CLOCKS
        return isinstance(node, ast.Name) and node.id in self.time_names

    def is_clock_call(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in self.time_names or func.id == "utcnow"
        if not isinstance(func, ast.Attribute):
            return False
        owner = func.value
        if isinstance(owner, ast.Name) and owner.id == "time":
            return func.attr in _CLOCKS | _DURATION_CLOCKS
        if isinstance(owner, ast.Name) and owner.id == "datetime":
            return func.attr in {"now", "utcnow"}
        # An event loop's clock: loop.time(), asyncio.get_running_loop().time().
        return func.attr == "time" and not node.args

    def is_clock(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.names
        if isinstance(node, ast.Attribute):
            return node.attr in self.attributes
        if isinstance(node, ast.Subscript):
            return self.is_clock(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            # A reading moved by a constant is still a point in time; the difference of two
            # readings is not (it is caught where it is taken).
            return self.is_clock(node.left) != self.is_clock(node.right)
        return self.is_clock_call(node) or self._wraps_clock(node)

    def _wraps_clock(self, node: ast.AST) -> bool:
        """max(deadline, ...), min(...), float(clock()): still a reading."""
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"max", "min", "float", "int", "round"}
            and any(self.is_clock(arg) for arg in node.args)
        )

    def findings(self) -> Iterator[Finding]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and self._duration_clock(node):
                yield Finding(self.path, node.lineno, "reads a clock that only times things")
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
                if self._elapsed(node.left, node.right):
                    yield Finding(self.path, node.lineno, "takes elapsed time")
            elif (
                isinstance(node, ast.AugAssign)
                and isinstance(node.op, ast.Sub)
                and self.is_clock(node.target)
                and self.is_clock(node.value)
            ):
                yield Finding(self.path, node.lineno, "takes elapsed time")

    def _elapsed(self, left: ast.AST, right: ast.AST) -> bool:
        """Whether `left - right` is a duration measured on a clock.

        Both sides readings, or one side a clock read right there and the other anything but a
        constant or a timedelta: `time.monotonic() - started` where `started` came in as an
        argument, or `worker.retry_at - time.monotonic()` read from the code under test.
        """
        if self.is_clock(left) and self.is_clock(right):
            return True
        for reading, other in ((left, right), (right, left)):
            if self.is_clock_call(reading) and not _is_offset(other):
                return True
        return False

    def _duration_clock(self, node: ast.Call) -> bool:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return func.value.id == "time" and func.attr in _DURATION_CLOCKS
        return isinstance(func, ast.Name) and func.id in self.time_names & _DURATION_CLOCKS


def _is_offset(node: ast.AST) -> bool:
    """A number, a CONSTANT or a timedelta: what turns one point in time into another."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return True
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.UnaryOp):
        return _is_offset(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_offset(node.left) and _is_offset(node.right)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name == "timedelta"
    return False


def check_python(path: str, source: str) -> list[Finding]:
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 1, f"does not parse: {exc.msg}")]
    return sorted(set(_PythonFile(path, tree).findings()))


# -- JavaScript -------------------------------------------------------------------------------

_JS_CLOCK = r"(?:Date\.now\(\)|performance\.now\(\)|new Date\(\)\.getTime\(\))"
_JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\\'\"])//[^\n]*", re.DOTALL)
# `t0 = Date.now()`, `const end = Date.now() + timeoutMs`, `(acceptedAt = Date.now())`.
_JS_ASSIGNED = re.compile(rf"([A-Za-z_$][\w$]*)\s*=(?!=)\s*[^;,\n]*?{_JS_CLOCK}")
# `{ at: Date.now() }`: a property holding a reading.
_JS_PROPERTY = re.compile(rf"([A-Za-z_$][\w$]*)\s*:\s*[^;,\n]*?{_JS_CLOCK}")
# `times.push(Date.now())`: an array of readings.
_JS_PUSHED = re.compile(rf"([A-Za-z_$][\w$]*)\.push\(\s*{_JS_CLOCK}")
_JS_DURATION = re.compile(r"\bprocess\.hrtime\b|\bperformance\.(?:mark|measure)\(")
_OPERAND = r"(?:[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*|\[[^\]\n]*\]|\(\))*)"
_JS_MINUS = re.compile(rf"({_OPERAND})\s*-(?![-=>])\s*({_OPERAND})")


def _strip_js_comments(source: str) -> str:
    # Comments become blank lines of the same count, so line numbers still match.
    return _JS_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), source)


def check_javascript(path: str, source: str) -> list[Finding]:
    code = _strip_js_comments(source)
    names = {m.group(1) for m in _JS_ASSIGNED.finditer(code)}
    names |= {m.group(1) for m in _JS_PUSHED.finditer(code)}
    properties = {m.group(1) for m in _JS_PROPERTY.finditer(code)}

    def is_clock(operand: str) -> bool:
        if re.fullmatch(r"(?:Date|performance)\.now\(\)", operand):
            return True
        root = re.match(r"[A-Za-z_$][\w$]*", operand)
        last = re.findall(r"\.([A-Za-z_$][\w$]*)", operand)
        return bool(root and root.group(0) in names) or bool(last and last[-1] in properties)

    def elapsed(left: str, right: str) -> bool:
        # Both readings, or a clock read right there against anything but a number or a
        # CONSTANT (`Date.now() - started` with `started` passed in).
        if is_clock(left) and is_clock(right):
            return True
        return any(
            re.fullmatch(_JS_CLOCK, reading) and not re.fullmatch(r"[\d_.]+|[A-Z][A-Z\d_]*", other)
            for reading, other in ((left, right), (right, left))
        )

    findings = []
    for number, line in enumerate(code.split("\n"), start=1):
        if _JS_DURATION.search(line):
            findings.append(Finding(path, number, "reads a clock that only times things"))
        for match in _JS_MINUS.finditer(line):
            if elapsed(match.group(1), match.group(2)):
                findings.append(Finding(path, number, "takes elapsed time"))
                break
    return findings


# -- files ------------------------------------------------------------------------------------


def test_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if "node_modules" in found.parts or not found.is_file():
                    continue
                if found.suffix == ".py" or found.suffix in _JS_SUFFIXES:
                    yield found
        elif path.is_file():
            yield path


def check(paths: Iterable[Path]) -> list[Finding]:
    findings = []
    for path in test_files(paths):
        shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        source = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            findings += check_python(shown, source)
        else:
            findings += check_javascript(shown, source)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or [ROOT / tree for tree in TEST_TREES]
    findings = check(paths)
    for finding in findings:
        print(finding)
    if findings:
        print(f"\n{len(findings)} wall-clock verdict(s) in tests.\n\n{RULE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
