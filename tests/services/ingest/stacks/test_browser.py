"""Chrome-format stacks from a real Chromium: a page on loopback throws, Playwright reads them.

Needs Debian's `chromium` (tools/apt-packages.txt) and the `playwright` Python package; Playwright's
own browser download is not used (and cannot work without the internet).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.markers import Marks

PROGRAMS = Path(__file__).parent / "programs" / "browser"
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


@dataclass(frozen=True)
class BrowserRun:
    stacks: dict[str, str]
    marks: Marks


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(PROGRAMS, root, dirs_exist_ok=True)
    handler = functools.partial(QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()
        thread.join()


@pytest.fixture(scope="module")
def browser_run(site: str) -> BrowserRun:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{site}/index.html")
            page.wait_for_function("Object.keys(window.stacks).length === 5", timeout=10_000)
            stacks: dict[str, str] = page.evaluate("window.stacks")
        finally:
            browser.close()
    marks = Marks()
    marks.add_javascript(PROGRAMS / "app.js", f"{site}/app.js")
    marks.add_javascript(PROGRAMS / "module.js", f"{site}/module.js")
    return BrowserRun(stacks, marks)


def native(function: str) -> StackFrame:
    return StackFrame("", None, None, function)


def case(run: BrowserRun, name: str) -> list[StackFrame]:
    stack = run.stacks[name]
    frames = parse_stack(stack, "browser")
    assert len(frames) == stack.count("\n    at "), stack
    return frames


def test_calls_constructor_and_anonymous_functions(browser_run: BrowserRun) -> None:
    m = browser_run.marks
    assert case(browser_run, "calls") == [
        m.at("inner", "inner"),
        m.at("construct", "new Widget"),
        m.at("arrow", ""),
        native("Array.map"),
        m.at("map", ""),
        m.at("capture", "capture"),
        m.at("calls", ""),
    ]


def test_eval_frame_points_at_the_eval_call(browser_run: BrowserRun) -> None:
    m = browser_run.marks
    assert case(browser_run, "evalCode") == [
        m.at("eval", "eval"),
        m.at("eval", ""),
        m.at("capture", "capture"),
        m.at("eval-case", ""),
    ]


def test_every_case_threw(browser_run: BrowserRun) -> None:
    assert browser_run.stacks.keys() == {
        "calls",
        "evalCode",
        "uncaught plain",
        "uncaught from a string",
        "asyncModule",
    }


def test_uncaught_error_from_a_timer(browser_run: BrowserRun) -> None:
    m = browser_run.marks
    assert case(browser_run, "uncaught plain") == [m.at("inner", "inner"), m.at("tick", "tick")]


def test_code_without_a_script_url_has_no_file(browser_run: BrowserRun) -> None:
    code = "throw new Error('from a string')"
    assert case(browser_run, "uncaught from a string") == [
        StackFrame("", 1, code.index("new") + 1, "")
    ]


def test_async_chain_in_an_es_module(browser_run: BrowserRun) -> None:
    m = browser_run.marks
    assert case(browser_run, "asyncModule") == [m.at("load", "load"), m.at("start", "async start")]
