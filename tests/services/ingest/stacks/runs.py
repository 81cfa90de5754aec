"""The corpus programs, each run once per test session: the stack tests and the golden
fingerprints read the same runs. Every expected position comes from a marker in the program."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.markers import Marks

PROGRAMS = Path(__file__).parent / "programs"
NODE = shutil.which("node")
GJS = shutil.which("gjs")
JSC = shutil.which("jsc")
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class NodeRun:
    root: Path
    stacks: dict[str, str]
    # Errors that carry others, each as util.inspect prints it and as its error.stack.
    inspected: dict[str, str]
    nested_stacks: dict[str, str]
    # One failure, its function called in ways that change what V8 prints for it.
    call_styles: dict[str, str]
    # What Node printed on stderr when a program died of an uncaught error, by program.
    uncaught: dict[str, str]
    marks: Marks


def _node(root: Path, program: str, *, dies: bool) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    result = subprocess.run(
        [NODE, program], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == (1 if dies else 0), result.stderr
    return result


def run_node(root: Path) -> NodeRun:
    if NODE is None:
        pytest.skip("node is not on PATH")
    node = PROGRAMS / "node"
    for name in ("main.mjs", "cases.cjs", "broken.cjs", "nested.cjs", "call-styles.cjs"):
        shutil.copy(node / name, root)
    for name in ("uncaught-cause.cjs", "uncaught-aggregate.mjs"):
        shutil.copy(node / name, root)
    shutil.copytree(node / "lib-thrower", root / "node_modules" / "lib-thrower")
    unusual = root / "my app" / "été"
    shutil.copytree(node / "unicode", unusual)

    main = _node(root, "main.mjs", dies=True)  # main.mjs ends by dying of an uncaught error
    nested = json.loads(_node(root, "nested.cjs", dies=False).stdout)
    call_styles = json.loads(_node(root, "call-styles.cjs", dies=False).stdout)
    uncaught = {"main.mjs": main.stderr}
    for program in ("uncaught-cause.cjs", "uncaught-aggregate.mjs"):
        uncaught[program] = _node(root, program, dies=True).stderr

    marks = Marks()
    for name in ("cases.cjs", "broken.cjs", "nested.cjs", "uncaught-cause.cjs", "call-styles.cjs"):
        marks.add_javascript(root / name, str(root / name))
    # ES modules print as file URLs, percent-encoded as Node's pathToFileURL does.
    marks.add_javascript(
        root / "uncaught-aggregate.mjs", (root / "uncaught-aggregate.mjs").as_uri()
    )
    package = root / "node_modules" / "lib-thrower" / "index.js"
    marks.add_javascript(package, str(package))
    marks.add_javascript(unusual / "unicode.cjs", str(unusual / "unicode.cjs"))
    marks.add_javascript(unusual / "module.mjs", (unusual / "module.mjs").as_uri())
    return NodeRun(
        root,
        json.loads(main.stdout),
        {name: printed["inspected"] for name, printed in nested.items()},
        {name: printed["stack"] for name, printed in nested.items()},
        call_styles,
        uncaught,
        marks,
    )


@dataclass(frozen=True)
class PythonRun:
    root: Path
    stacks: dict[str, str]
    uncaught: str
    syntax_error: str
    marks: Marks


def run_python(root: Path) -> PythonRun:
    cases = root / "cases.py"
    bad = root / "bad_syntax.py"
    shutil.copy(PROGRAMS / "python" / "cases.py", cases)
    shutil.copy(PROGRAMS / "python" / "bad_syntax.txt", bad)
    run = subprocess.run(
        [sys.executable, cases], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 1, run.stderr  # cases.py ends by dying of an uncaught error
    # Run as the main script, a file that does not compile is reported under no traceback header.
    syntax = subprocess.run(
        [sys.executable, bad], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert syntax.returncode == 1, syntax.stderr

    marks = Marks()
    marks.add_python(cases, str(cases))
    marks.add_python(bad, str(bad))
    return PythonRun(root, json.loads(run.stdout), run.stderr, syntax.stderr, marks)


@dataclass(frozen=True)
class ShellRun:
    """Each case's stack, by name, and the marks of the sources that threw."""

    root: Path
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


def run_gjs(root: Path) -> ShellRun:
    """gjs runs programs/gjs once as a script and once as an ES module."""
    if GJS is None:
        pytest.skip("gjs is not installed (tools/apt-packages.txt)")
    script = root / "cases.js"
    module = root / "module.js"
    shutil.copy(PROGRAMS / "gjs" / "cases.js", script)
    shutil.copy(PROGRAMS / "gjs" / "module.js", module)
    marks = Marks()
    marks.add_javascript(script, str(script))
    marks.add_javascript(module, module.as_uri())
    return ShellRun(root, run_shell(GJS, script) | run_shell(GJS, "-m", module), marks)


def run_jsc(root: Path) -> ShellRun:
    """jsc runs programs/jsc once as a script and once as an ES module."""
    if JSC is None:
        pytest.skip("jsc is not installed (tools/apt-packages.txt)")
    script = root / "cases.js"
    module = root / "module.mjs"
    shutil.copy(PROGRAMS / "jsc" / "cases.js", script)
    shutil.copy(PROGRAMS / "jsc" / "module.mjs", module)
    marks = Marks()
    marks.add_javascript(script, str(script))
    marks.add_javascript(module, str(module))
    return ShellRun(root, run_shell(JSC, script) | run_shell(JSC, "-m", module), marks)


@dataclass(frozen=True)
class BrowserRun:
    site: str
    stacks: dict[str, str]
    marks: Marks


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


BROWSER_CASES = 8


def serve(root: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()
        thread.join()


def run_browser(site: str) -> BrowserRun:
    """A page on loopback throws in Chromium; Playwright reads the stacks it kept."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{site}/index.html")
            page.wait_for_function(
                f"Object.keys(window.stacks).length === {BROWSER_CASES}", timeout=10_000
            )
            stacks: dict[str, str] = page.evaluate("window.stacks")
        finally:
            browser.close()
    marks = Marks()
    marks.add_javascript(PROGRAMS / "browser" / "app.js", f"{site}/app.js")
    marks.add_javascript(PROGRAMS / "browser" / "module.js", f"{site}/module.js")
    return BrowserRun(site, stacks, marks)
