"""What an event looks like on the wire: the contract's fields, and nothing else."""

from __future__ import annotations

import gc
import json
import re
import sys
import threading
import traceback
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import stackline_sdk
from stackline_sdk import (
    Event,
    ExceptionData,
    Hint,
    MockTransport,
    Request,
    Response,
    TransportError,
    _event,
)

from ingest_contract import DEFINITIONS
from support import HANG_GUARD_SECONDS, MakeClient, Recorder, init_recorded

# The fields the ingest API takes on an event.
CONTRACT_FIELDS = set(DEFINITIONS["IngestEvent"]["properties"])
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class CheckoutError(Exception):
    pass


def fail_deep(depth: int) -> None:
    if depth == 0:
        raise CheckoutError("card declined")
    fail_deep(depth - 1)


def rendered(exc: BaseException) -> ExceptionData:
    return _event.exception_data(exc)


def sent(recorder: Recorder) -> list[dict[str, Any]]:
    assert stackline_sdk.flush(2)
    return recorder.events()


def test_exception_event_carries_the_contract_fields(recorder: Recorder) -> None:
    init_recorded(
        recorder,
        environment="staging",
        commit_sha="A" * 40,
        release="1.2.3",
        deploy_root="/srv/app",
    )
    try:
        fail_deep(3)
    except CheckoutError as exc:
        event_id = stackline_sdk.capture_exception()
        expected_stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    [event] = sent(recorder)
    assert set(event) <= CONTRACT_FIELDS
    assert event["event_id"] == event_id
    assert uuid.UUID(event["event_id"]).version == 4
    assert TIMESTAMP.fullmatch(event["timestamp"])
    assert event["platform"] == "python"
    assert event["exception"] == {
        "type": "test_event.CheckoutError",
        "message": "card declined",
        "stack": expected_stack,
    }
    assert event["commit_sha"] == "a" * 40
    assert event["environment"] == "staging"
    assert event["release"] == "1.2.3"
    assert event["deploy_root"] == "/srv/app"
    version = ".".join(str(part) for part in sys.version_info[:3])
    assert event["runtime"] == {"name": "python", "version": version}
    assert event["sdk"] == {"name": "stackline-python", "version": stackline_sdk.__version__}
    assert "message" not in event
    assert "level" not in event


def test_request_goes_to_the_ingest_path_with_the_key(recorder: Recorder) -> None:
    init_recorded(recorder, endpoint="https://ingest.example.com/base/")
    stackline_sdk.capture_message("hello")
    sent(recorder)
    [request] = recorder.requests
    assert request.url == "https://ingest.example.com/base/api/ingest"
    assert request.headers["Authorization"].startswith("Bearer slk_")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body)["events"][0]["message"] == "hello"


def lookup_both(first: dict[str, int], second: dict[str, int]) -> int:
    return first["k"] + second["k"]  # two failure points on one line: two caret columns


def failure(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("did not fail")


def test_the_stack_is_what_python_prints_without_the_marker_lines() -> None:
    # The text is rendered on the worker thread, where 3.11's ^^^^ markers would take an
    # ast.parse() that can break the app's own parsing in another thread (gh-106905).
    failures = [
        failure(lambda: fail_deep(3)),
        failure(lambda: fail_deep(3)),
        failure(lambda: fail_deep(2)),
        failure(lambda: lookup_both({}, {"k": 1})),
        failure(lambda: lookup_both({"k": 1}, {})),
        failure(lambda: lookup_both({}, {"k": 1})),
    ]
    for exc in failures:
        printed = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        expected = "".join(
            line for line in printed.splitlines(keepends=True) if line.strip(" ^~\n")
        )
        assert rendered(exc)["stack"] == expected


def test_builtin_types_are_unqualified(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.capture_exception(KeyError("id"))
    [event] = sent(recorder)
    assert event["exception"]["type"] == "KeyError"
    assert event["exception"]["message"] == "'id'"


def test_explicit_cause_is_in_the_stack_and_given_alone() -> None:
    try:
        try:
            fail_deep(1)
        except CheckoutError as inner:
            raise RuntimeError("order failed") from inner
    except RuntimeError as exc:
        data = rendered(exc)
    assert "The above exception was the direct cause of the following exception" in data["stack"]
    assert data["stack"].count("Traceback (most recent call last)") == 2
    cause = data["cause"]
    assert cause["type"] == "test_event.CheckoutError"
    assert cause["message"] == "card declined"
    assert cause["stack"].startswith("Traceback (most recent call last)")
    assert "direct cause" not in cause["stack"]
    assert "cause" not in cause


def test_implicit_context_counts_as_cause_unless_suppressed() -> None:
    try:
        try:
            {"sku": 1}["missing"]
        except KeyError:
            raise ValueError("while handling") from None
    except ValueError as exc:
        suppressed = rendered(exc)
    assert "cause" not in suppressed
    try:
        try:
            {"sku": 1}["missing"]
        except KeyError:
            raise ValueError("while handling")  # noqa: B904 - the implicit chain is the point
    except ValueError as exc:
        data = rendered(exc)
    assert data["cause"]["type"] == "KeyError"
    assert "During handling of the above exception" in data["stack"]


def test_exception_whose_str_raises_is_still_reported() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    try:
        raise Broken
    except Broken as exc:
        data = rendered(exc)
    assert data["message"] == "<exception str() failed>"
    assert "Broken" in data["stack"]
    assert "raise Broken" in data["stack"]


def test_a_giant_message_is_shortened_in_the_stack_too() -> None:
    try:
        raise ValueError("x" * (_event.MAX_STACK * 2))
    except ValueError as exc:
        data = rendered(exc)
    stack = data["stack"]
    assert len(stack) <= _event.MAX_STACK
    assert stack.startswith("Traceback (most recent call last):\n")
    assert stack.endswith("\nValueError: " + "x" * (_event.MAX_MESSAGE - 15) + "...\n")
    assert len(data["message"]) == _event.MAX_MESSAGE


def test_an_oversized_stack_keeps_its_start_and_its_end() -> None:
    lines = "\n".join(f"line {i}" for i in range(40_000))
    try:
        raise ValueError(lines)
    except ValueError as exc:
        stack = rendered(exc)["stack"]
    assert len(stack) <= _event.MAX_STACK
    assert stack.startswith("Traceback (most recent call last):\n")
    assert "characters cut by stackline-sdk" in stack
    assert "ValueError: line 0\nline 1\n" in stack
    assert stack.endswith("\nline 39999\n")


def test_message_event(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.capture_message("disk almost full", "WARN")
    stackline_sdk.capture_message("plain")
    warning, plain = sent(recorder)
    assert set(warning) <= CONTRACT_FIELDS
    assert "exception" not in warning
    assert (warning["message"], warning["level"]) == ("disk almost full", "warning")
    assert plain["level"] == "info"


def test_a_value_that_is_no_exception_is_reported_by_its_type(recorder: Recorder) -> None:
    init_recorded(recorder)
    assert stackline_sdk.capture_exception(None) is None  # nothing being handled
    assert stackline_sdk.capture_exception({"weird": 1}) is not None
    assert stackline_sdk.capture_exception("") is not None
    weird, empty = sent(recorder)
    assert weird["exception"] == {
        "type": "dict",
        "message": "{'weird': 1}",
        "stack": "dict: {'weird': 1}",
    }
    assert empty["exception"] == {"type": "str", "message": "", "stack": "str"}
    assert "message" not in weird


def test_exc_info_tuple_is_accepted(recorder: Recorder) -> None:
    init_recorded(recorder)
    try:
        fail_deep(0)
    except CheckoutError:
        stackline_sdk.capture_exception(sys.exc_info())
    [event] = sent(recorder)
    assert event["exception"]["type"] == "test_event.CheckoutError"


def test_tags_layer_init_then_scope_then_call(recorder: Recorder) -> None:
    init_recorded(recorder, tags={"region": "iad1", "team": "core"})
    stackline_sdk.set_tag("team", "payments")
    stackline_sdk.set_tags({"shard": 7})
    stackline_sdk.capture_message("m", tags={"shard": "8", "extra": None})
    [event] = sent(recorder)
    assert event["tags"] == {"region": "iad1", "team": "payments", "shard": "8", "extra": "None"}


def test_tag_limits(recorder: Recorder) -> None:
    init_recorded(recorder)
    for i in range(_event.MAX_TAGS + 10):
        stackline_sdk.set_tag(f"k{i}", "v")
    stackline_sdk.set_tag("k0", "x" * 1000)
    stackline_sdk.set_tag("", "ignored")
    stackline_sdk.capture_message("m")
    [event] = sent(recorder)
    assert len(event["tags"]) == _event.MAX_TAGS
    assert len(event["tags"]["k0"]) == _event.MAX_TAG_VALUE
    assert "" not in event["tags"]


def test_tags_from_init_scope_and_call_together_stay_within_fifty(recorder: Recorder) -> None:
    init_recorded(recorder, tags={f"init{i}": "i" for i in range(50)})
    stackline_sdk.set_tags({f"scope{i}": "s" for i in range(50)})
    stackline_sdk.capture_message("m", tags={"init0": "changed", "call": "c"})
    [event] = sent(recorder)
    # The API refuses more than 50: the first 50 keys stay, and a later source
    # still changes the value of a key it shares.
    assert len(event["tags"]) == 50
    assert set(event["tags"]) == {f"init{i}" for i in range(50)}
    assert event["tags"]["init0"] == "changed"


def test_breadcrumbs_keep_the_last_hundred(recorder: Recorder) -> None:
    init_recorded(recorder)
    for i in range(150):
        stackline_sdk.add_breadcrumb(f"step {i}", category="flow", level="debug")
    stackline_sdk.capture_message("m")
    [event] = sent(recorder)
    crumbs = event["breadcrumbs"]
    assert len(crumbs) == 100
    assert crumbs[0]["message"] == "step 50"
    assert crumbs[-1] == {
        "timestamp": crumbs[-1]["timestamp"],
        "category": "flow",
        "message": "step 149",
        "level": "debug",
    }
    assert TIMESTAMP.fullmatch(crumbs[-1]["timestamp"])


def test_max_breadcrumbs_option(recorder: Recorder) -> None:
    init_recorded(recorder, max_breadcrumbs=2)
    for i in range(5):
        stackline_sdk.add_breadcrumb(str(i))
    stackline_sdk.capture_message("m")
    [event] = sent(recorder)
    assert [c["message"] for c in event["breadcrumbs"]] == ["3", "4"]


def test_fingerprint_is_sent_when_given(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.capture_message("a", fingerprint="checkout-timeouts")
    stackline_sdk.capture_message("b")
    first, second = sent(recorder)
    assert first["fingerprint"] == "checkout-timeouts"
    assert "fingerprint" not in second


def test_an_exception_is_reported_once(recorder: Recorder) -> None:
    init_recorded(recorder)
    exc = CheckoutError("once")
    first = stackline_sdk.capture_exception(exc)
    assert first is not None
    assert stackline_sdk.capture_exception(exc) is None
    assert len(sent(recorder)) == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [("error", "error"), ("CRITICAL", "fatal"), (40, "error"), (5, "debug"), ("bogus", "info")],
)
def test_levels(given: object, expected: str) -> None:
    assert _event.normalize_level(given) == expected


class Resource:
    """Stands for something an app's frame holds: a big buffer, an open file."""


def test_a_queued_event_holds_none_of_the_apps_objects_once_rendered(
    make_client: MakeClient,
) -> None:
    tried = threading.Event()

    def down(request: Request) -> Response:
        tried.set()
        raise TransportError("down")

    client = make_client(MockTransport(down))

    def handler() -> weakref.ref[Resource]:
        resource = Resource()
        try:
            fail_deep(2)
        except CheckoutError as exc:
            client.capture_exception(exc)
        return weakref.ref(resource)

    ref = handler()
    # The worker rendered the event before its first try; from then on only its bytes wait.
    assert tried.wait(HANG_GUARD_SECONDS)
    gc.collect()
    assert client.stats().queued == 1
    assert ref() is None  # the frame that held it is gone, though its event waits


def test_the_stack_is_rendered_on_the_worker_as_it_was_when_captured(
    make_client: MakeClient, recorder: Recorder
) -> None:
    # The capturing thread only takes the traceback; the worker renders it later, after the
    # exception went further up the app's stack (which adds frames to its __traceback__).
    release = threading.Event()

    def send(request: Request) -> Response:
        release.wait(HANG_GUARD_SECONDS)
        return recorder(request)

    client = make_client(MockTransport(send))
    client.capture_message("occupies the worker")

    printed: list[str] = []

    def capture_then_reraise() -> None:
        try:
            fail_deep(1)
        except CheckoutError as exc:
            client.capture_exception(exc)
            printed.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            raise

    with pytest.raises(CheckoutError):
        capture_then_reraise()
    queued = client._worker._queue[-1].event
    assert queued is not None
    assert "exception" not in queued, "rendered on the app's thread"
    release.set()
    assert client.flush(HANG_GUARD_SECONDS)
    [_, event] = recorder.events()
    stack = event["exception"]["stack"]
    assert "in test_the_stack_is_rendered_on_the_worker" not in stack, "a frame added later"
    assert stack == "".join(
        line for line in printed[0].splitlines(keepends=True) if line.strip(" ^~\n")
    )


def test_before_send_sees_the_whole_stack(recorder: Recorder) -> None:
    stacks: list[str] = []

    def before_send(event: Event, hint: Hint) -> Event:
        stacks.append(event["exception"]["stack"])
        return event

    init_recorded(recorder, before_send=before_send)
    try:
        fail_deep(0)
    except CheckoutError:
        stackline_sdk.capture_exception()
    [event] = sent(recorder)
    assert stacks == [event["exception"]["stack"]]
    assert stacks[0].startswith("Traceback (most recent call last):")
