"""V8 stacks from real Node programs: programs/node runs once (runs.py), every case is parsed."""

from __future__ import annotations

import pytest

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.runs import NodeRun


def native(function: str) -> StackFrame:
    return StackFrame("", None, None, function)


def internal(actual: StackFrame, abs_path: str, function: str) -> StackFrame:
    """A frame inside Node, whose line moves between Node versions: only its shape is known."""
    assert isinstance(actual.line, int)
    assert isinstance(actual.column, int)
    return StackFrame(abs_path, actual.line, actual.column, function)


def printed_frames(stack: str) -> int:
    """The frame lines at the end of a stack: how many frames the runtime printed."""
    count = 0
    for line in reversed(stack.split("\n")):
        if not line.startswith("    at "):
            break
        count += 1
    return count


def case(run: NodeRun, name: str) -> list[StackFrame]:
    stack = run.stacks[name]
    frames = parse_stack(stack, "node")
    assert len(frames) == printed_frames(stack), stack
    return frames


def test_every_case_threw(node_run: NodeRun) -> None:
    assert node_run.stacks.keys() == {
        "calls",
        "methodAlias",
        "evalCode",
        "newFunction",
        "jsonParse",
        "missingFile",
        "nodeModules",
        "unicodePath",
        "frameLikeMessage",
        "asyncChain",
        "promiseExecutor",
        "requireBroken",
        "esmCall",
        "esmAsync",
    }


def test_named_constructor_static_arrow_and_anonymous_functions(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "calls")[:8] == [
        m.at("inner", "inner"),
        m.at("outer", "outer"),
        m.at("construct", "new Widget"),
        m.at("static", "Widget.create"),
        m.at("arrow", "build"),
        m.at("anonymous", ""),
        native("Array.map"),
        m.at("anonymous-caller", "calls"),
    ]


def test_method_called_through_another_name_keeps_the_alias(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "methodAlias")[:2] == [
        m.at("load", "Object.load [as fetch]"),
        m.at("alias", "methodAlias"),
    ]


def test_eval_frames_point_at_the_eval_call(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "evalCode")[:3] == [
        m.at("eval", "evaluated"),
        m.at("eval", "eval"),
        m.at("eval", "evalCode"),
    ]


def test_new_function_frames_point_at_the_constructor_call(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "newFunction")[:2] == [
        m.at("new-function", "eval"),
        m.at("new-function-call", "newFunction"),
    ]


def test_builtin_without_a_file(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "jsonParse")[:2] == [native("JSON.parse"), m.at("json", "jsonParse")]


def test_node_internal_frames(node_run: NodeRun) -> None:
    m = node_run.marks
    frames = case(node_run, "missingFile")
    assert frames[:3] == [
        internal(frames[0], "node:fs", "Object.openSync"),
        internal(frames[1], "node:fs", "Object.readFileSync"),
        m.at("read-file", "missingFile"),
    ]


def test_frame_inside_node_modules(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "nodeModules")[:2] == [
        m.at("package", "Object.explode"),
        m.at("package-call", "nodeModules"),
    ]


def test_path_with_a_space_and_non_ascii_characters(node_run: NodeRun) -> None:
    m = node_run.marks
    frames = case(node_run, "unicodePath")
    assert frames[:2] == [m.at("unicode", "Object.fail"), m.at("unicode-call", "unicodePath")]
    assert "/my app/été/" in frames[0].abs_path


def test_frame_like_lines_inside_the_message_are_not_frames(node_run: NodeRun) -> None:
    m = node_run.marks
    stack = node_run.stacks["frameLikeMessage"]
    assert "    at fake (/fake.js:1:1)" in stack
    frames = case(node_run, "frameLikeMessage")
    assert frames[0] == m.at("frame-like", "frameLikeMessage")
    assert all(frame.abs_path != "/fake.js" for frame in frames)


def test_async_frames_and_promise_all(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "asyncChain")[:3] == [
        m.at("read-row", "readRow"),
        native("async Promise.all"),
        m.at("await-all", "async handler"),
    ]


def test_promise_executor(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "promiseExecutor")[:3] == [
        m.at("executor", "executor"),
        native("new Promise"),
        m.at("promise", "promiseExecutor"),
    ]


def test_commonjs_top_level_and_the_module_loader(node_run: NodeRun) -> None:
    m = node_run.marks
    frames = case(node_run, "requireBroken")
    assert frames[0] == m.at("top-level", "Object.<anonymous>")
    assert frames[1] == internal(frames[1], "node:internal/modules/cjs/loader", "Module._compile")
    assert frames[7] == m.at("require", "requireBroken")


def test_es_module_frames_are_file_urls(node_run: NodeRun) -> None:
    m = node_run.marks
    assert case(node_run, "esmCall")[:2] == [m.at("esm", "explode"), m.at("esm-call", "esmCall")]
    assert case(node_run, "esmAsync")[:2] == [
        m.at("esm", "explode"),
        m.at("esm-async", "esmAsync"),
    ]


def test_report_node_prints_for_an_uncaught_error(node_run: NodeRun) -> None:
    """Source line, caret and a "Node.js v20" trailer around the stack: only the frames count."""
    report = node_run.uncaught["main.mjs"]
    frames = parse_stack(report, "node")
    assert frames[0] == node_run.marks.at("die", "Object.die")
    assert len(frames) == report.count("\n    at ")


@pytest.mark.parametrize("platform", ["browser", "edge", "python"])
def test_platform_is_only_a_hint(node_run: NodeRun, platform: str) -> None:
    for stack in node_run.stacks.values():
        assert parse_stack(stack, platform) == parse_stack(stack, "node")


@pytest.mark.parametrize("name", ["calls", "asyncChain", "unicodePath", "evalCode"])
def test_stack_cut_anywhere_gives_a_prefix_of_its_frames(node_run: NodeRun, name: str) -> None:
    """A stack truncated in transit keeps the frames before the cut. The line that was cut is
    dropped or, when it still reads as a frame, keeps its file and function: only its position
    may be misread (a column cut from 26 to 2 still reads as a column)."""
    stack = node_run.stacks[name]
    whole = parse_stack(stack, "node")
    for end in range(len(stack) + 1):
        frames = parse_stack(stack[:end], "node")
        assert len(frames) <= len(whole)
        if frames:
            *intact, cut = frames
            assert intact == whole[: len(intact)], stack[:end]
            counterpart = whole[len(intact)]
            assert (cut.abs_path, cut.function) == (counterpart.abs_path, counterpart.function)
