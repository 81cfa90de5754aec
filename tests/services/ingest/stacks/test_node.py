"""V8 stacks from real Node programs: programs/node runs once (runs.py), every case is parsed."""

from __future__ import annotations

import pytest

from services.ingest.stacks import (
    CAUSE,
    SUB_ERROR,
    EvalOrigin,
    NestedError,
    StackFrame,
    parse_exception,
    parse_stack,
)
from tests.services.ingest.stacks.runs import PROGRAMS, NodeRun


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


def generated(line: int, column: int, function: str, origin: EvalOrigin) -> StackFrame:
    """A frame of code made at run time: a position in that code, in no file."""
    return StackFrame("", line, column, function, origin)


# The code cases.cjs evaluates, and the body it gives new Function.
EVALUATED = "(function evaluated() { throw new Error('eval'); })()"
FUNCTION_BODY = "throw new Error('new Function')"


def test_programs_evaluate_the_code_these_tests_count_in() -> None:
    source = (PROGRAMS / "node" / "cases.cjs").read_text()
    assert f'eval("{EVALUATED}")' in source
    assert f'new Function("{FUNCTION_BODY}")' in source


def test_eval_frames_are_in_no_file_and_keep_where_the_code_was_made(node_run: NodeRun) -> None:
    m = node_run.marks
    made = m.made_at("eval")
    assert case(node_run, "evalCode")[:3] == [
        generated(1, EVALUATED.index("new") + 1, "evaluated", made),
        generated(1, EVALUATED.rindex("(") + 1, "eval", made),
        m.at("eval", "evalCode"),
    ]


def test_new_function_frames_are_in_no_file_and_keep_the_constructor_call(
    node_run: NodeRun,
) -> None:
    m = node_run.marks
    # V8 wraps the body as `(function anonymous(\n) {\n<body>\n})`: it starts on line 3.
    assert case(node_run, "newFunction")[:2] == [
        generated(3, FUNCTION_BODY.index("new") + 1, "eval", m.made_at("new-function")),
        m.at("new-function-call", "newFunction"),
    ]


def test_code_made_earlier_and_called_later_keeps_its_origin(node_run: NodeRun) -> None:
    """The first frame with a file is the call into the generated code, not where it was made."""
    m = node_run.marks
    template = parse_stack(node_run.nested_stacks["template"], "node")
    assert template[0].abs_path == ""
    assert template[0].eval_origin == m.made_at("compile")
    assert template[1:3] == [m.at("render", "renderPage"), m.at("template", "template")]
    plugin = parse_stack(node_run.nested_stacks["evalLater"], "node")
    assert plugin[0].eval_origin == m.made_at("install")
    assert (plugin[0].abs_path, plugin[0].function) == ("", "Object.decorate")
    assert plugin[1] == m.at("run-plugin", "")


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


def cause(
    error_type: str, message: str, relation: str, parent: int | None, frames: list[StackFrame]
) -> NestedError:
    return NestedError(error_type, message, relation, parent, tuple(frames))


def test_an_error_with_causes_keeps_its_own_frames_and_its_causes_theirs(
    node_run: NodeRun,
) -> None:
    """As util.inspect prints it: the causes after the frames, and `... N lines matching cause
    stack trace ...` where the error's frames repeat its cause's, restored from the cause."""
    m = node_run.marks
    inspected = node_run.inspected["causeChain"]
    assert "lines matching cause stack trace" in inspected
    parsed = parse_exception(inspected, "node")
    # The thrown error's frames, each of them, as error.stack prints them.
    assert parsed.frames == parse_stack(node_run.nested_stacks["causeChain"], "node")
    assert parsed.frames[:2] == [
        m.at("chain-outer", "startServer"),
        m.at("cause-chain", "causeChain"),
    ]
    middle, inner = parsed.causes
    assert (middle.type, middle.message, middle.relation, middle.parent) == (
        "Error",
        "cannot load the configuration",
        CAUSE,
        None,
    )
    assert middle.frames[:2] == (
        m.at("chain-middle", "loadConfig"),
        m.at("chain-middle-call", "startServer"),
    )
    assert (inner.type, inner.message, inner.relation, inner.parent) == (
        "SyntaxError",
        "unexpected token in settings.json",
        CAUSE,
        0,
    )
    assert inner.frames[:2] == (
        m.at("chain-inner", "readConfig"),
        m.at("chain-inner-call", "loadConfig"),
    )


def test_an_aggregate_error_keeps_its_frames_and_each_sub_error_with_its_cause(
    node_run: NodeRun,
) -> None:
    m = node_run.marks
    parsed = parse_exception(node_run.inspected["aggregate"], "node")
    assert parsed.frames == parse_stack(node_run.nested_stacks["aggregate"], "node")
    assert parsed.frames[:2] == [m.at("aggregate", "settle"), m.at("settle", "aggregate")]
    refund = [m.at("refund", "refund"), m.at("settle-map", "")]
    charge = [m.at("charge", "chargeCard"), m.at("refund-call", "refund")]
    assert [(c.type, c.message, c.relation, c.parent) for c in parsed.causes] == [
        ("Error", "order 7 was not refunded", SUB_ERROR, None),
        ("TypeError", "the card has no number", CAUSE, 0),
        ("Error", "order 8 was not refunded", SUB_ERROR, None),
        ("TypeError", "the card has no number", CAUSE, 2),
    ]
    for nested, innermost in zip(parsed.causes, [refund, charge, refund, charge], strict=True):
        assert list(nested.frames[:2]) == innermost


def test_own_properties_and_a_cause_that_is_no_error(node_run: NodeRun) -> None:
    m = node_run.marks
    properties = parse_exception(node_run.inspected["ownProperties"], "node")
    assert "code: 'ERR_SOCKET_BAD_PORT'" in node_run.inspected["ownProperties"]
    # The frame before ` {` is the error's last, not part of its properties.
    assert properties.frames == parse_stack(node_run.nested_stacks["ownProperties"], "node")
    assert properties.frames[0] == m.at("own-properties", "ownProperties")
    assert properties.causes == []
    value = parse_exception(node_run.inspected["nonErrorCause"], "node")
    assert value.frames[0] == m.at("non-error-cause", "nonErrorCause")
    assert value.causes == [cause("", "{ status: 503, retry: true }", CAUSE, None, [])]


def test_node_report_of_an_uncaught_error_with_a_cause(node_run: NodeRun) -> None:
    m = node_run.marks
    parsed = parse_exception(node_run.uncaught["uncaught-cause.cjs"], "node")
    assert parsed.frames[:2] == [
        m.at("migrate", "migrate"),
        m.at("migrate-call", "Object.<anonymous>"),
    ]
    [connect] = parsed.causes
    assert (connect.type, connect.message) == ("Error", "connect ECONNREFUSED 127.0.0.1:5432")
    assert connect.frames[:3] == (
        m.at("connect", "connect"),
        m.at("connect-call", "migrate"),
        m.at("migrate-call", "Object.<anonymous>"),
    )


def test_node_report_of_an_uncaught_aggregate_error_in_an_es_module(node_run: NodeRun) -> None:
    m = node_run.marks
    parsed = parse_exception(node_run.uncaught["uncaught-aggregate.mjs"], "node")
    assert parsed.frames == [m.at("check-all", "checkAll"), m.at("check-all-call", "")]
    assert [(c.message, c.relation, c.parent) for c in parsed.causes] == [
        ("db did not answer", SUB_ERROR, None),
        ("cache did not answer", SUB_ERROR, None),
        ("no host answered", SUB_ERROR, None),
        ("db did not answer", CAUSE, 2),
    ]
    ping = m.at("ping", "ping")
    assert [c.frames[0] for c in parsed.causes] == [ping, ping, m.at("late", "checkAll"), ping]


def test_a_printed_tree_cut_short_keeps_what_was_printed(node_run: NodeRun) -> None:
    """A log line cut anywhere: the thrown error's frames and its causes' are frames that were
    printed, save the last one read, which the cut may have shortened (`:44:57` read as `:4`)."""
    inspected = node_run.inspected["aggregate"]
    whole = parse_exception(inspected, "node")
    printed = set(whole.frames) | {f for c in whole.causes for f in c.frames}
    for end in range(len(inspected) + 1):
        cut = parse_exception(inspected[:end], "node")
        assert len(cut.causes) <= len(whole.causes)
        read = [*cut.frames, *(f for c in cut.causes for f in c.frames)]
        assert set(read[:-1]) <= printed, inspected[:end]


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
