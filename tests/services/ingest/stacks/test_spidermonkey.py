"""Firefox-format stacks from a real SpiderMonkey: Debian's gjs embeds the engine Firefox ships.

gjs runs programs/gjs once as a script and once as an ES module. What only the browser prints
(`promise callback*`, `@debugger eval code`) is in test_documented_formats.py.
"""

from __future__ import annotations

import pytest

from services.ingest.stacks import EvalOrigin, StackFrame, parse_stack
from tests.services.ingest.stacks.runs import ShellRun


def generated(line: int, column: int, function: str, origin: EvalOrigin) -> StackFrame:
    """A frame of code made at run time: a position in that code, in no file."""
    return StackFrame("", line, column, function, origin)


# The code cases.js evaluates, and the body it gives new Function.
EVALUATED = "(function evaluated() { throw new Error('eval'); })()"
FUNCTION_BODY = "throw new Error('new Function')"


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


def test_programs_evaluate_the_code_these_tests_count_in(gjs_run: ShellRun) -> None:
    source = (gjs_run.root / "cases.js").read_text()
    assert f'eval("{EVALUATED}")' in source
    assert f'new Function("{FUNCTION_BODY}")' in source


def test_eval_frames_are_in_no_file_and_keep_the_line_of_the_eval_call(gjs_run: ShellRun) -> None:
    m = gjs_run.marks
    assert "line " in gjs_run.stacks["evalCode"]
    made = m.made_at("eval", column=False)  # Firefox prints no column for it
    assert gjs_run.case("evalCode")[:3] == [
        generated(1, EVALUATED.index("new") + 1, "evaluated", made),
        generated(1, EVALUATED.rindex("(") + 1, "", made),
        m.at("eval", "evalCode"),
    ]


def test_new_function_frames_are_in_no_file_and_keep_the_constructor_call(
    gjs_run: ShellRun,
) -> None:
    m = gjs_run.marks
    assert "> Function" in gjs_run.stacks["newFunction"]
    # SpiderMonkey, like V8, wraps the body: it starts on line 3.
    assert gjs_run.case("newFunction")[:2] == [
        generated(
            3,
            FUNCTION_BODY.index("new") + 1,
            "anonymous",
            m.made_at("new-function", column=False),
        ),
        m.at("new-function-call", "newFunction"),
    ]


def test_code_made_earlier_and_called_later_keeps_its_origin(gjs_run: ShellRun) -> None:
    """The first frame with a file is the call into the generated code, not where it was made."""
    m = gjs_run.marks
    rule = gjs_run.case("generatedLater")
    assert (rule[0].abs_path, rule[0].function) == ("", "anonymous")
    assert rule[0].eval_origin == m.made_at("compile-rule", column=False)
    assert rule[1:3] == [m.at("apply-rule", "applyRule"), m.at("generated-later", "generatedLater")]
    plugin = gjs_run.case("evalLater")
    assert plugin[0].eval_origin == m.made_at("install", column=False)
    assert (plugin[0].abs_path, plugin[0].function) == ("", "decorate")
    assert plugin[1] == m.at("run-plugin", "runPlugins/<")


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
