"""CPython tracebacks from a real interpreter: programs/python runs once (runs.py), every case is
parsed."""

from __future__ import annotations

import re

import pytest

from services.ingest.stacks import (
    CAUSE,
    CONTEXT,
    SUB_ERROR,
    StackFrame,
    parse_exception,
    parse_stack,
)
from tests.services.ingest.stacks.runs import PythonRun


def case(run: PythonRun, name: str) -> list[StackFrame]:
    stack = run.stacks[name]
    return parse_stack(stack, "python")


def test_every_case_raised(python_run: PythonRun) -> None:
    assert python_run.stacks.keys() == {
        "plain",
        "chained",
        "implicit",
        "carets",
        "lambda",
        "group",
        "nested_group",
        "generated",
        "syntax",
        "recursion",
        "embedded",
    }


def test_frames_come_innermost_first(python_run: PythonRun) -> None:
    m = python_run.marks
    assert case(python_run, "plain") == [
        m.at("inner", "inner"),
        m.at("outer", "outer"),
        m.at("plain", "plain"),
        m.at("case", "main"),
    ]


def test_explicit_chain_gives_the_frames_of_the_raised_exception(python_run: PythonRun) -> None:
    m = python_run.marks
    assert "The above exception was the direct cause" in python_run.stacks["chained"]
    assert case(python_run, "chained") == [
        m.at("wrap", "wrap"),
        m.at("chained", "chained"),
        m.at("case", "main"),
    ]


def test_implicit_context_gives_the_frames_of_the_raised_exception(python_run: PythonRun) -> None:
    m = python_run.marks
    assert "During handling of the above exception" in python_run.stacks["implicit"]
    assert case(python_run, "implicit") == [m.at("implicit", "implicit"), m.at("case", "main")]


def test_caret_and_tilde_lines_are_not_frames(python_run: PythonRun) -> None:
    m = python_run.marks
    assert "~~~~^^^^" in python_run.stacks["carets"]
    assert case(python_run, "carets") == [m.at("carets", "carets"), m.at("case", "main")]


def test_lambda_frame(python_run: PythonRun) -> None:
    m = python_run.marks
    assert case(python_run, "lambda") == [
        m.at("lambda", "<lambda>"),
        m.at("lambda", "with_lambda"),
        m.at("case", "main"),
    ]


def test_exception_group_gives_the_frames_of_the_group_itself(python_run: PythonRun) -> None:
    m = python_run.marks
    assert "+-+----" in python_run.stacks["group"]
    assert case(python_run, "group") == [m.at("group", "group"), m.at("case", "main")]
    members = parse_exception(python_run.stacks["group"], "python").causes
    assert [(c.type, c.message, c.relation, c.frames) for c in members] == [
        ("ValueError", "1", SUB_ERROR, (m.at("sub-exception", "raised"),)),
        ("TypeError", "2", SUB_ERROR, (m.at("sub-exception", "raised"),)),
    ]


def test_a_chain_keeps_what_was_raised_from_as_its_cause(python_run: PythonRun) -> None:
    m = python_run.marks
    parsed = parse_exception(python_run.stacks["chained"], "python")
    assert parsed.frames[0] == m.at("wrap", "wrap")
    [raised_from] = parsed.causes
    assert (raised_from.type, raised_from.message, raised_from.relation, raised_from.parent) == (
        "ValueError",
        "plain",
        CAUSE,
        None,
    )
    assert raised_from.frames == (m.at("inner", "inner"), m.at("wrap-inner", "wrap"))


def test_an_exception_raised_while_handling_another_keeps_it_as_its_context(
    python_run: PythonRun,
) -> None:
    m = python_run.marks
    parsed = parse_exception(python_run.stacks["implicit"], "python")
    assert parsed.frames[0] == m.at("implicit", "implicit")
    [handled] = parsed.causes
    assert (handled.type, handled.message, handled.relation) == ("ValueError", "plain", CONTEXT)
    assert handled.frames[0] == m.at("inner", "inner")


def test_group_members_are_kept_as_sub_errors_with_their_own_chains(python_run: PythonRun) -> None:
    """The group's own frames are the event's; each member, a chain inside a member and a
    group inside the group are its causes, each with the one it belongs to."""
    m = python_run.marks
    parsed = parse_exception(python_run.stacks["nested_group"], "python")
    assert parsed.frames == [m.at("nested-group", "nested_group"), m.at("case", "main")]
    assert [(c.type, c.message, c.relation, c.parent) for c in parsed.causes] == [
        ("RuntimeError", "p1 was not settled", SUB_ERROR, None),
        ("ConnectionError", "p1: the bank did not answer", CAUSE, 0),
        ("RuntimeError", "p2 was not settled", SUB_ERROR, None),
        ("ConnectionError", "p2: the bank did not answer", CAUSE, 2),
        ("ExceptionGroup", "retries failed (1 sub-exception)", SUB_ERROR, None),
        ("TimeoutError", "p3", SUB_ERROR, 4),
    ]
    settled = (m.at("settle", "settle"), m.at("settle-call", "nested_group"))
    bank = (m.at("bank", "settle"),)
    assert [c.frames for c in parsed.causes] == [
        settled,
        bank,
        settled,
        bank,
        (),  # built, never raised: no traceback
        (m.at("sub-exception", "raised"),),
    ]


def test_code_compiled_under_a_name_of_its_own(python_run: PythonRun) -> None:
    """Python prints the name given to compile(); ingest knows `<...>` is no file (test_events)."""
    m = python_run.marks
    assert case(python_run, "generated")[:2] == [
        StackFrame("<pricing-rule>", 2, None, "price"),
        m.at("generated", "generated"),
    ]


def test_syntax_error_in_an_imported_file_is_the_innermost_frame(python_run: PythonRun) -> None:
    m = python_run.marks
    assert case(python_run, "syntax") == [
        m.at("syntax", ""),
        m.at("import", "syntax"),
        m.at("case", "main"),
    ]


def test_syntax_error_of_the_main_script_has_no_traceback_header(python_run: PythonRun) -> None:
    assert "Traceback" not in python_run.syntax_error
    assert parse_stack(python_run.syntax_error, "python") == [python_run.marks.at("syntax", "")]


def test_recursion_keeps_the_printed_frames_without_expanding_repeats(
    python_run: PythonRun,
) -> None:
    m = python_run.marks
    assert "more times]" in python_run.stacks["recursion"]
    assert case(python_run, "recursion") == [
        *[m.at("recurse", "recurse")] * 3,
        m.at("recursion", "recursion"),
        m.at("case", "main"),
    ]


def test_traceback_inside_the_message_is_not_the_exception(python_run: PythonRun) -> None:
    m = python_run.marks
    assert 'File "/fake.py"' in python_run.stacks["embedded"]
    assert case(python_run, "embedded") == [m.at("embedded", "embedded"), m.at("case", "main")]


def test_report_the_interpreter_prints_for_an_uncaught_error(python_run: PythonRun) -> None:
    m = python_run.marks
    assert parse_stack(python_run.uncaught, "python") == [
        m.at("wrap", "wrap"),
        m.at("chained", "chained"),
        m.at("uncaught", "main"),
        m.at("main", "<module>"),
    ]


@pytest.mark.parametrize("platform", ["node", "browser", "edge"])
def test_platform_is_only_a_hint(python_run: PythonRun, platform: str) -> None:
    for stack in [*python_run.stacks.values(), python_run.uncaught, python_run.syntax_error]:
        assert parse_stack(stack, platform) == parse_stack(stack, "python")


# Independent of the parser: every `File` line of a traceback, whichever exception it belongs to.
PRINTED_FRAME = re.compile(r'File "(.+)", line (\d+)(?:, in (.+))?$', re.MULTILINE)


@pytest.mark.parametrize("name", ["plain", "chained", "group", "recursion"])
def test_traceback_cut_anywhere_gives_only_printed_frames(python_run: PythonRun, name: str) -> None:
    """Python prints the innermost frame last, so a cut loses the innermost frames and what is left
    is the outer end of the stack, or an earlier exception of the chain: printed frames all the
    same, never made-up ones. Only the innermost may be misread, as the line that was cut."""
    stack = python_run.stacks[name]
    printed = {
        StackFrame(path, int(line), None, function or "")
        for path, line, function in PRINTED_FRAME.findall(stack)
    }
    for end in range(len(stack) + 1):
        frames = parse_stack(stack[:end], "python")
        assert set(frames[1:]) <= printed, stack[:end]
