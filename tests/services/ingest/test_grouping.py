from __future__ import annotations

from typing import Any

from services.ingest import grouping


def _frames(*pairs: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"file": f, "function": fn, "line": line, "in_app": True} for f, fn, line in pairs]


def test_a_moved_line_keeps_the_fingerprint() -> None:
    before = grouping.fingerprint("TypeError", "x", _frames(("src/a.ts", "getUser", 42)))
    after = grouping.fingerprint("TypeError", "y", _frames(("src/a.ts", "getUser", 57)))
    assert before == after


def test_another_exception_type_in_the_same_function_is_another_incident() -> None:
    frames = _frames(("src/a.ts", "getUser", 42))
    assert grouping.fingerprint("TypeError", "x", frames) != grouping.fingerprint(
        "RangeError", "x", frames
    )


def test_frames_outside_the_app_do_not_count() -> None:
    app = _frames(("src/a.ts", "getUser", 42))
    vendor = [{"file": None, "function": "Layer.handle", "line": 9, "in_app": False}]
    assert grouping.fingerprint("E", "m", app) == grouping.fingerprint("E", "m", app + vendor)


def test_without_a_stack_the_message_groups_with_variable_parts_blanked() -> None:
    a = grouping.fingerprint(
        "Error", "user 4411 (a@b.io) not found at 2026-11-25T10:00:00Z from 10.1.2.3", []
    )
    b = grouping.fingerprint(
        "Error", "user 98 (c@d.org) not found at 2026-01-02T11:12:13Z from 192.168.0.1", []
    )
    c = grouping.fingerprint("Error", "order 98 not found", [])
    assert a == b
    assert a != c


def test_an_sdk_fingerprint_wins() -> None:
    frames = _frames(("src/a.ts", "f", 1))
    assert grouping.fingerprint("A", "x", frames, "checkout") == grouping.fingerprint(
        "B", "y", [], "checkout"
    )


def test_titles_name_the_exception_and_the_culprit() -> None:
    assert (
        grouping.title("TypeError", "boom", {"file": "src/a.ts", "line": 42})
        == "TypeError in src/a.ts:42"
    )
    assert grouping.title("ValueError", "bad value\nmore", None) == "ValueError: bad value"
    assert grouping.title("Error", "", None) == "Error"
