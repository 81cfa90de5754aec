"""Safari-format stacks from a real JavaScriptCore: the `jsc` shell of Debian's WebKitGTK build.

jsc runs programs/jsc once as a script and once as an ES module.
"""

from __future__ import annotations

import pytest

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.runs import ShellRun


def native(function: str) -> StackFrame:
    return StackFrame("", None, None, function)


def test_every_case_threw(jsc_run: ShellRun) -> None:
    assert jsc_run.stacks.keys() == {
        "calls",
        "evalCode",
        "jsonParse",
        "evalLater",
        "globalCode",
        "module",
    }


def test_calls_native_frames_and_global_code(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("calls") == [
        m.at("inner", "inner"),
        m.at("outer", "outer"),
        m.at("construct", "Widget"),
        m.at("arrow", ""),
        native("map"),
        m.at("inner-map", ""),
        native("map"),
        m.at("outer-map", "nested"),
        m.at("calls", "calls"),
        m.at("run", "global code"),
    ]


def test_eval_frames_without_a_location(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("evalCode")[:4] == [
        native("evaluated"),
        native("eval code"),
        native("eval"),
        m.at("eval", "evalCode"),
    ]


def test_code_made_earlier_and_called_later_has_no_location(jsc_run: ShellRun) -> None:
    """JavaScriptCore prints no origin for evaluated code: its frames have no file, and the
    first frame with one is the call into it."""
    m = jsc_run.marks
    assert jsc_run.case("evalLater")[:2] == [native("decorate"), m.at("run-plugin", "")]


def test_builtin_frame(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("jsonParse")[:2] == [native("parse"), m.at("json", "jsonParse")]


def test_global_code_alone(jsc_run: ShellRun) -> None:
    assert jsc_run.case("globalCode") == [jsc_run.marks.at("global", "global code")]


def test_module_code(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("module") == [m.at("module", "explode"), m.at("module-top", "module code")]


@pytest.mark.parametrize("platform", ["node", "edge", "python"])
def test_platform_is_only_a_hint(jsc_run: ShellRun, platform: str) -> None:
    for stack in jsc_run.stacks.values():
        assert parse_stack(stack, platform) == parse_stack(stack, "browser")
