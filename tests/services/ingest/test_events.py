from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from stackline.ingest.v1 import ingest_pb2

from services.ingest.events import MAX_STACK_CHARS, prepare
from stackline_infra.db.types import utcnow
from stackline_infra.errors import InvalidArgument

NODE_STACK = (
    "TypeError: boom\n"
    "    at getUser (/var/task/src/users.js:42:17)\n"
    "    at Layer.handle (/var/task/node_modules/express/lib/router/layer.js:95:5)"
)


def _event(**fields: object) -> ingest_pb2.Event:
    base: dict[str, object] = {
        "project_id": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "platform": "node",
        "deploy_root": "/var/task",
        "exception": ingest_pb2.ExceptionInfo(type="TypeError", message="boom", stack=NODE_STACK),
    }
    base.update(fields)
    return ingest_pb2.Event(**base)  # type: ignore[arg-type]


def test_frames_culprit_title_and_context() -> None:
    event = _event(commit_sha="ABCDEF1", environment="production", tags={"region": "iad1"})
    event.runtime.name, event.runtime.version = "node", "20.11.1"
    prepared = prepare(event, utcnow())
    assert prepared.culprit == {
        "file": "src/users.js",
        "line": 42,
        "column": 17,
        "function": "getUser",
    }
    assert prepared.title == "TypeError in src/users.js:42"
    assert [f["in_app"] for f in prepared.frames] == [True, False]
    assert prepared.commit_sha == "abcdef1"
    assert prepared.context == {
        "runtime": {"name": "node", "version": "20.11.1"},
        "tags": {"region": "iad1"},
        "deploy_root": "/var/task",
    }


def test_nul_characters_are_replaced_not_refused() -> None:
    event = _event(exception=ingest_pb2.ExceptionInfo(type="Error", message="a\x00b", stack=""))
    assert prepare(event, utcnow()).message == "a\ufffdb"


def test_huge_stacks_keep_the_innermost_end() -> None:
    node = _event(
        exception=ingest_pb2.ExceptionInfo(type="E", stack="S" + "x" * MAX_STACK_CHARS + "E")
    )
    assert prepare(node, utcnow()).raw_stack.startswith("S")
    python = _event(
        platform="python",
        exception=ingest_pb2.ExceptionInfo(type="E", stack="S" + "x" * MAX_STACK_CHARS + "E"),
    )
    assert prepare(python, utcnow()).raw_stack.endswith("E")


def test_a_clock_far_ahead_is_not_believed() -> None:
    now = utcnow()
    event = _event()
    event.timestamp.FromDatetime(now + timedelta(days=3))
    assert prepare(event, now).occurred_at == now


def test_a_message_event_without_an_exception() -> None:
    event = ingest_pb2.Event(
        project_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        platform="python",
        message="cache miss storm",
    )
    prepared = prepare(event, utcnow())
    assert (prepared.exception_type, prepared.title, prepared.frames) == (
        "Message",
        "Message: cache miss storm",
        [],
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"project_id": "nope"}, "project_id"),
        ({"event_id": "nope"}, "event_id"),
        ({"platform": "cobol"}, "platform"),
        ({"commit_sha": "not-hex"}, "commit_sha"),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        prepare(_event(**fields), utcnow())
    assert refused.value.field == field


def test_frames_survive_a_message_longer_than_what_is_stored() -> None:
    message = "x" * (MAX_STACK_CHARS + 10)
    stack = f"Error: {message}\n    at handler (/var/task/src/api.js:7:3)"
    prepared = prepare(
        _event(exception=ingest_pb2.ExceptionInfo(type="Error", stack=stack)), utcnow()
    )
    assert len(prepared.raw_stack) == MAX_STACK_CHARS
    assert prepared.culprit == {"file": "src/api.js", "line": 7, "column": 3, "function": "handler"}
