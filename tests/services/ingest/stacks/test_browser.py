"""Chrome-format stacks from a real Chromium: a page on loopback throws, Playwright reads them.

Needs Debian's `chromium` (tools/apt-packages.txt) and the `playwright` Python package; Playwright's
own browser download is not used (and cannot work without the internet).
"""

from __future__ import annotations

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.runs import BrowserRun


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


def test_eval_frame_is_in_no_file_and_keeps_the_eval_call(browser_run: BrowserRun) -> None:
    m = browser_run.marks
    code = "throw new TypeError('eval')"  # what app.js evaluates
    assert case(browser_run, "evalCode") == [
        StackFrame("", 1, code.index("new") + 1, "eval", m.made_at("eval")),
        m.at("eval", ""),
        m.at("capture", "capture"),
        m.at("eval-case", ""),
    ]


def test_code_made_earlier_and_called_later_keeps_its_origin(browser_run: BrowserRun) -> None:
    m = browser_run.marks
    frames = case(browser_run, "evalLater")
    assert (frames[0].abs_path, frames[0].function) == ("", "Object.decorate")
    assert frames[0].eval_origin == m.made_at("install")
    assert frames[1] == m.at("run-plugin", "")


def test_every_case_threw(browser_run: BrowserRun) -> None:
    assert browser_run.stacks.keys() == {
        "calls",
        "evalCode",
        "uncaught plain",
        "uncaught from a string",
        "asyncModule",
        "evalLater",
        "cause",
        "causeOfCause",
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
