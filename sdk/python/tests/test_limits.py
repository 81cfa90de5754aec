"""The largest event the SDK can be made to build is still one the ingest API accepts.

Every input is past its limit: what the SDK sends must be cut or left out to
fit, never something the server answers 400 or 413 to (see ingest_contract).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import pytest

import stackline_sdk
from stackline_sdk import Event, Hint, StacklineWSGIMiddleware, Stats, _event, _worker

from ingest_contract import MAX_BODY_BYTES, ingestible_events
from support import Recorder, init_recorded

SHA = "0123456789abcdef0123456789abcdef01234567"
LONG = 5000


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def _capture_through_a_request(text: str, tags: dict[str, str]) -> None:
    """An exception with a huge type name, message and cause, raised inside a request
    with a huge method and URL, captured with too many tags and a huge fingerprint."""
    huge_type = type("E" * 1000, (Exception,), {})
    # Many lines of `text`: the message is cut to 8 KiB, the traceback keeps more.
    message = (text * 1000 + "\n") * 100
    error = _raised(huge_type(message), cause=_raised(ValueError(message)))

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # A request's scope starts with no breadcrumbs: they are added while serving it.
        for _ in range(150):
            stackline_sdk.add_breadcrumb(text * LONG, category="c" * LONG, level="l" * LONG)
        stackline_sdk.capture_exception(error, tags=tags, fingerprint="f" * LONG)
        return [b""]

    environ = {
        "REQUEST_METHOD": "M" * 100,
        "wsgi.url_scheme": "https",
        "HTTP_HOST": "h" * LONG,
        "PATH_INFO": "/" + "p" * LONG,
        "QUERY_STRING": "q=" + "v" * LONG,
    }
    list(StacklineWSGIMiddleware(app)(environ, lambda *_: None))


def _fill_every_limit(recorder: Recorder, text: str) -> None:
    init_recorded(
        recorder,
        environment="e" * LONG,
        release="r" * LONG,
        deploy_root="/" + "d" * LONG,
        commit_sha=SHA,
        tags={f"init-{i}-" + "k" * 100: "v" * LONG for i in range(60)},
    )
    for i in range(60):
        stackline_sdk.set_tag(f"scope-{i}-" + "k" * 100, "v" * LONG)
    _capture_through_a_request(text, {f"call-{i}-" + "k" * 100: "v" * LONG for i in range(60)})


def test_the_largest_event_of_plain_text_is_sent_whole_within_every_limit(
    recorder: Recorder,
) -> None:
    _fill_every_limit(recorder, "x")
    assert stackline_sdk.flush(5)
    [request] = recorder.requests
    [event] = ingestible_events(request.body)
    assert stackline_sdk.stats() == Stats(sent=1)
    # Cut to the limits, not below them: every limit is reached.
    assert len(event["tags"]) == 50
    assert {len(key) for key in event["tags"]} == {64}
    assert {len(value) for value in event["tags"].values()} == {256}
    assert len(event["breadcrumbs"]) == 100
    assert {len(crumb["message"]) for crumb in event["breadcrumbs"]} == {1024}
    assert {len(crumb["category"]) for crumb in event["breadcrumbs"]} == {64}
    assert len(event["environment"]) == 64
    assert len(event["release"]) == 200
    assert len(event["fingerprint"]) == 256
    assert len(event["exception"]["type"]) == 256
    assert len(event["exception"]["message"]) == _event.MAX_MESSAGE
    assert len(event["exception"]["stack"]) > 100_000
    assert event["exception"]["cause"]["type"] == "ValueError"
    assert len(event["request"]["method"]) == 16
    assert len(event["request"]["url"]) == 2048
    # A deploy root cut short would map frames to the wrong files: it is left out.
    assert "deploy_root" not in event
    assert event["commit_sha"] == SHA


@pytest.mark.parametrize(
    "text",
    [
        "\x01",  # JSON escapes it to six bytes: \u0001
        "\U0001f600",  # four bytes of UTF-8, one character
    ],
    ids=["escaped", "wide"],
)
def test_an_event_over_a_mebibyte_in_bytes_is_shortened_to_fit(
    recorder: Recorder, text: str
) -> None:
    _fill_every_limit(recorder, text)
    assert stackline_sdk.flush(5)
    [request] = recorder.requests
    # Within the limits in characters, over 1 MiB in bytes: shortened, then sent.
    assert len(request.body) <= MAX_BODY_BYTES
    [event] = ingestible_events(request.body)
    assert stackline_sdk.stats() == Stats(sent=1)
    assert "breadcrumbs" not in event  # they go first
    # What locates the error stays: the type and the traceback, cut in the middle.
    assert len(event["exception"]["type"]) == 256
    stack = event["exception"]["stack"]
    assert stack.startswith("Traceback (most recent call last):")
    assert "characters cut by stackline-sdk" in stack
    assert len(stack) > 30_000
    assert len(event["tags"]) == 50


def test_an_event_that_cannot_be_shortened_enough_is_dropped_as_too_large(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No real event is this large (see the test above): pretend the limit is small.
    monkeypatch.setattr(_worker, "MAX_EVENT_BYTES", 2000)
    init_recorded(recorder)
    stackline_sdk.capture_message("m" * 5000)  # shortened to fit: sent
    # Tags are not shortened: 50 of 320 characters cannot fit in 2000 bytes.
    stackline_sdk.capture_message("m", tags={f"{i:064}": "v" * 256 for i in range(50)})
    assert stackline_sdk.flush(2)
    [event] = ingestible_events(recorder.requests[0].body)
    assert event["message"].startswith("m")
    stats = stackline_sdk.stats()
    assert stats == Stats(sent=1, dropped=1, dropped_by={"too_large": 1})
    assert asdict(stats)["captured"] == 2


def test_whatever_before_send_sets_is_put_within_the_limits(recorder: Recorder) -> None:
    def before_send(event: Event, hint: Hint) -> Any:
        return {
            "event_id": "not a uuid",
            "timestamp": "yesterday",
            "platform": "cobol",
            "exception": {"type": "", "message": "m" * LONG, "cause": {"stack": 42}},
            "message": "x" * 100_000,
            "level": "loud",
            "commit_sha": "not-a-sha",
            "environment": "e" * LONG,
            "deploy_root": "/" + "d" * LONG,
            "release": "r" * LONG,
            "runtime": {"name": "n" * LONG, "version": "v" * LONG},
            "sdk": {"name": "n" * LONG},
            "request": {"method": "M" * LONG, "url": "u" * LONG, "headers": {"cookie": "c"}},
            "tags": {f"{i}" + "k" * LONG: "v" * LONG for i in range(100)},
            "breadcrumbs": [
                {"timestamp": "noon", "category": "c" * LONG, "message": "m" * LONG, "level": 3}
            ]
            * 200,
            "fingerprint": "f" * LONG,
            "user": {"email": "unknown fields are refused"},
        }

    init_recorded(recorder, before_send=before_send)
    original = stackline_sdk.capture_message("m")
    assert stackline_sdk.flush(2)
    [event] = ingestible_events(recorder.requests[0].body)
    # The SDK's identity fields are its own; the hook cannot break them.
    assert event["event_id"] == original
    assert event["platform"] == "python"
    assert event["sdk"]["name"] == "stackline-python"
    assert event["exception"]["type"] == "Exception"
    assert "commit_sha" not in event
    assert "deploy_root" not in event
    assert {crumb["timestamp"] for crumb in event["breadcrumbs"]} == {event["timestamp"]}


def test_an_exception_type_with_an_empty_name_is_sent_with_one(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.capture_exception(_raised(type("", (Exception,), {"__module__": "__main__"})()))
    assert stackline_sdk.flush(2)
    [event] = ingestible_events(recorder.requests[0].body)
    assert event["exception"]["type"] == "Exception"


def test_a_working_directory_past_the_limit_is_not_sent_as_deploy_root(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.getcwd", lambda: "/" + "d" * 1024)
    # No project above the program: the working directory is the root.
    monkeypatch.setattr("stackline_sdk._deployment._entry_files", lambda _caller: [])
    init_recorded(recorder)
    stackline_sdk.capture_message("m")
    assert stackline_sdk.flush(2)
    [event] = ingestible_events(recorder.requests[0].body)
    assert "deploy_root" not in event
