"""Firefox-format stacks from a real SpiderMonkey: Debian's gjs embeds the engine Firefox ships.

gjs runs programs/gjs once as a script and once as an ES module. What only the browser prints
(`promise callback*`, `@debugger eval code`) is in test_documented_formats.py.
"""

from __future__ import annotations

import pytest

from services.ingest.stacks import parse_stack
from tests.services.ingest.stacks.runs import ShellRun


def test_every_case_threw(gjs_run: ShellRun) -> None:
    assert gjs_run.stacks.keys() == {
        "calls",
        "getter",
        "computedName",
        "evalCode",
        "newFunction",
        "asyncChain",
        "generatedLater",
        "evalLater",
        "module",
    }


def test_nested_anonymous_functions_keep_firefox_names(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert gjs_run.case("calls")[:7] == [
        m.at("inner", "inner"),
        m.at("outer", "outer"),
        m.at("construct", "Widget"),
        m.at("arrow", "nested/</<"),
        m.at("inner-map", "nested/<"),
        m.at("outer-map", "nested"),
        m.at("calls", "calls"),
    ]


def test_getter(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert gjs_run.case("getter")[:2] == [m.at("getter", "get size"), m.at("size", "getter")]


def test_at_sign_inside_a_computed_name(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert gjs_run.case("computedName")[:2] == [
        m.at("computed", 'registry["on@load"]'),
        m.at("on-load", "computedName"),
    ]


def test_eval_frames_point_at_the_eval_call(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert "line " in gjs_run.stacks["evalCode"]
    assert gjs_run.case("evalCode")[:3] == [
        m.at_line("eval", "evaluated"),
        m.at_line("eval", ""),
        m.at("eval", "evalCode"),
    ]


def test_new_function_frames_point_at_the_constructor_call(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert "> Function" in gjs_run.stacks["newFunction"]
    assert gjs_run.case("newFunction")[:2] == [
        m.at_line("new-function", "anonymous"),
        m.at("new-function-call", "newFunction"),
    ]


def test_async_frame_drops_its_async_cause(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert "async*handler@" in gjs_run.stacks["asyncChain"]
    assert gjs_run.case("asyncChain")[:2] == [
        m.at("read-row", "readRow"),
        m.at("await", "handler"),
    ]


def test_module_frames_are_file_urls(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert gjs_run.case("module") == [m.at("module", "explode"), m.at("module-top", "")]


@pytest.mark.parametrize("platform", ["node", "edge", "python"])
def test_platform_is_only_a_hint(gjs_run: ShellRun, platform: str) -> None:
    for stack in gjs_run.stacks.values():
        assert parse_stack(stack, platform) == parse_stack(stack, "browser")


@pytest.mark.parametrize("name", ["calls", "evalCode", "asyncChain"])
def test_stack_cut_anywhere_gives_a_prefix_of_its_frames(gjs_run: ShellRun, name: str) -> None:
    """The frames before a cut survive it; the line that was cut is dropped or keeps its function
    (its location may be lost or misread: `inner@` reads as a frame with no file)."""
    stack = gjs_run.stacks[name]
    whole = parse_stack(stack, "browser")
    for end in range(len(stack) + 1):
        frames = parse_stack(stack[:end], "browser")
        assert len(frames) <= len(whole)
        if frames:
            *intact, cut = frames
            assert intact == whole[: len(intact)], stack[:end]
            assert cut.function == whole[len(intact)].function, stack[:end]
