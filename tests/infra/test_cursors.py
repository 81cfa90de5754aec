"""Paging cursors: opaque to clients, but held by them between releases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from stackline_infra import cursors
from stackline_infra.errors import InvalidArgument

# Golden: a cursor as Stackline 0.1.0 returned it, for the row seen at 10:00:00.123456 UTC on
# 2026-11-25 with this id. An editor or a script may hold one across an upgrade; a new release
# that cannot page on from it breaks them.
ISSUED_CURSOR = (
    "WyIyMDI2LTExLTI1VDEwOjAwOjAwLjEyMzQ1NiswMDowMCIsIjAxOWFiY2RlLTAxMjMtNzQ1Ni04YWJjLWRlZjAx"
    "MjM0NTY3OCJd"
)
ISSUED_POSITION = (
    datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC),
    uuid.UUID("019abcde-0123-7456-8abc-def012345678"),
)


def test_a_cursor_issued_before_still_decodes() -> None:
    assert cursors.decode(ISSUED_CURSOR) == ISSUED_POSITION


def test_a_cursor_round_trips() -> None:
    assert cursors.decode(cursors.encode(*ISSUED_POSITION)) == ISSUED_POSITION


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "WyJ4IiwgInkiXQ",  # ["x", "y"]
        "WyIyMDI2LTExLTI1VDEwOjAwOjAwIiwiMDE5YWJjZGUtMDEyMy03NDU2LThhYmMtZGVmMDEyMzQ1Njc4Il0",
    ],
    ids=["not base64", "not a position", "a time without a zone"],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        cursors.decode(cursor)
    assert refused.value.field == "cursor"
