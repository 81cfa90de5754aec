"""Grouping rules on hand-made frames; on real stacks in stacks/test_golden_fingerprints.py."""

from __future__ import annotations

import pytest

from services.ingest import grouping
from stackline_contract.frames import FrameJSON


def _frame(file: str | None, function: str, line: int, *, in_app: bool = True) -> FrameJSON:
    return {"file": file, "function": function, "line": line, "column": 1, "in_app": in_app}


def _frames(*pairs: tuple[str, str, int]) -> list[FrameJSON]:
    return [_frame(f, fn, line) for f, fn, line in pairs]


def test_a_moved_line_keeps_the_fingerprint() -> None:
    before = grouping.fingerprint_v1("TypeError", "x", _frames(("src/a.ts", "getUser", 42)))
    after = grouping.fingerprint_v1("TypeError", "y", _frames(("src/a.ts", "getUser", 57)))
    assert before == after


def test_another_exception_type_in_the_same_function_is_another_incident() -> None:
    frames = _frames(("src/a.ts", "getUser", 42))
    assert grouping.fingerprint_v1("TypeError", "x", frames) != grouping.fingerprint_v1(
        "RangeError", "x", frames
    )


def test_frames_outside_the_app_do_not_count() -> None:
    app = _frames(("src/a.ts", "getUser", 42))
    vendor = [_frame(None, "Layer.handle", 9, in_app=False)]
    assert grouping.fingerprint_v1("E", "m", app) == grouping.fingerprint_v1("E", "m", app + vendor)


def test_without_a_stack_the_message_groups_with_variable_parts_blanked() -> None:
    a = grouping.fingerprint_v1(
        "Error", "user 4411 (a@b.io) not found at 2026-11-25T10:00:00Z from 10.1.2.3", []
    )
    b = grouping.fingerprint_v1(
        "Error", "user 98 (c@d.org) not found at 2026-01-02T11:12:13Z from 192.168.0.1", []
    )
    c = grouping.fingerprint_v1("Error", "order 98 not found", [])
    assert a == b
    assert a != c


def test_an_sdk_fingerprint_wins() -> None:
    frames = _frames(("src/a.ts", "f", 1))
    assert grouping.fingerprint_v1("A", "x", frames, "checkout") == grouping.fingerprint_v1(
        "B", "y", [], "checkout"
    )


def test_titles_name_the_exception_and_the_culprit() -> None:
    assert (
        grouping.title("TypeError", "boom", {"file": "src/a.ts", "line": 42})
        == "TypeError in src/a.ts:42"
    )
    assert grouping.title("ValueError", "bad value\nmore", None) == "ValueError: bad value"
    assert grouping.title("Error", "", None) == "Error"


@pytest.mark.parametrize(
    ("printed", "key"),
    [
        ("parseConfig", "parseConfig"),
        ("Object.parseConfig", "parseConfig"),
        ("Object.parseConfig [as load]", "parseConfig"),
        ("async parseConfig", "parseConfig"),
        ("async Object.parseConfig", "parseConfig"),
        ("Module.parseConfig", "parseConfig"),
        ("Function.parseConfig", "parseConfig"),
        ("Immediate.main", "main"),
        ("new Widget", "Widget"),
        ("new <anonymous>", ""),
        ("Object.<anonymous>", ""),
        ("<anonymous>", ""),
        ("", ""),
        # What names the function stays.
        ("Widget.render", "Widget.render"),
        ("async Widget.render", "Widget.render"),
        ("get size", "get size"),
        ("nested/</<", "nested/</<"),
    ],
)
def test_version_2_keys_functions_without_how_they_were_called(printed: str, key: str) -> None:
    assert grouping.function_key(printed) == key


def test_version_2_is_version_1_where_no_name_changes() -> None:
    frames = _frames(("src/a.ts", "getUser", 42), ("src/b.ts", "Widget.render", 7))
    keys = [(str(f["file"]), grouping.function_key(f["function"])) for f in frames]
    assert grouping.fingerprint_v2("E", "m", keys) == grouping.fingerprint_v1("E", "m", frames)
    assert grouping.fingerprint_v2("E", "m", [], "checkout") == grouping.fingerprint_v1(
        "E", "m", [], "checkout"
    )


def test_version_2_falls_back_on_the_causes_frames_then_on_the_message() -> None:
    nested = [("src/jobs.js", "sendEmail")]
    with_causes = grouping.fingerprint_v2("AggregateError", "2 jobs failed", [], "", nested)
    assert with_causes != grouping.fingerprint_v2("AggregateError", "2 jobs failed", [])
    assert with_causes == grouping.fingerprint_v2("AggregateError", "3 jobs failed", [], "", nested)
    # The thrown error's own frames win over its causes'.
    own = [("src/jobs.js", "runAll")]
    assert grouping.fingerprint_v2("E", "m", own, "", nested) == grouping.fingerprint_v2(
        "E", "m", own
    )
