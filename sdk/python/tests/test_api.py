"""The module-level API: init() in its failure modes, before_send, flush, close, stats."""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import asdict
from typing import Any

import pytest

import stackline_sdk
from stackline_sdk import Event, Hint, Stats
from stackline_sdk._integrations import _logging

from support import KEY, Recorder, init_recorded


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "stackline_sdk" and r.levelno == logging.WARNING
    ]


def test_before_init_everything_is_a_no_op() -> None:
    assert stackline_sdk.capture_exception(ValueError("x")) is None
    assert stackline_sdk.capture_message("x") is None
    stackline_sdk.set_tag("a", "b")
    stackline_sdk.add_breadcrumb("crumb")
    assert stackline_sdk.flush(0.1) is True
    stackline_sdk.close()
    assert stackline_sdk.stats() == Stats()


def test_missing_key_warns_once_and_disables(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, recorder: Recorder
) -> None:
    monkeypatch.delenv("STACKLINE_INGEST_KEY", raising=False)
    hooks_before = (sys.excepthook, threading.excepthook)
    with caplog.at_level(logging.WARNING, "stackline_sdk"):
        client = init_recorded(recorder, ingest_key=None)
        for _ in range(3):
            assert stackline_sdk.capture_exception(ValueError("x")) is None
        assert stackline_sdk.capture_message("m") is None
    assert len(warnings_of(caplog)) == 1
    assert "no ingest key" in warnings_of(caplog)[0]
    assert not client.enabled
    assert stackline_sdk.stats() == Stats(dropped=4, dropped_by={"disabled": 4}, disabled=True)
    assert stackline_sdk.flush(0.1)
    assert recorder.requests == []
    # Nothing was hooked into a process that reports nowhere.
    assert (sys.excepthook, threading.excepthook) == hooks_before
    assert _logging._original_call_handlers is None


def test_malformed_key_warns_without_showing_it(
    caplog: pytest.LogCaptureFixture, recorder: Recorder
) -> None:
    with caplog.at_level(logging.WARNING, "stackline_sdk"):
        client = init_recorded(recorder, ingest_key="slk_live_TYPO12345")
    [warning] = warnings_of(caplog)
    assert "ingest key is malformed" in warning
    assert "TYPO" not in caplog.text
    assert not client.enabled


def test_key_is_trimmed(recorder: Recorder) -> None:
    assert init_recorded(recorder, ingest_key=f"  {KEY}\n").enabled


def test_invalid_endpoint_disables(caplog: pytest.LogCaptureFixture, recorder: Recorder) -> None:
    with caplog.at_level(logging.WARNING, "stackline_sdk"):
        client = init_recorded(recorder, endpoint="ftp://nope")
    assert not client.enabled
    assert "not an http(s) URL" in warnings_of(caplog)[0]


def test_no_endpoint_disables_unless_a_transport_says_where_events_go(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, recorder: Recorder
) -> None:
    monkeypatch.delenv("STACKLINE_ENDPOINT", raising=False)
    with caplog.at_level(logging.WARNING, "stackline_sdk"):
        client = stackline_sdk.init(ingest_key=KEY)
    # Stackline runs where its user deploys it: there is no default to send to.
    assert not client.enabled
    assert warnings_of(caplog) == [
        "stackline_sdk: no endpoint (pass endpoint= to init() or set STACKLINE_ENDPOINT); "
        "error reporting is disabled"
    ]
    assert init_recorded(recorder).enabled
    monkeypatch.setenv("STACKLINE_ENDPOINT", "http://stackline.test")
    assert stackline_sdk.init(ingest_key=KEY).enabled


def test_the_environment_names_are_the_javascript_sdks(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    for name, value in {
        "STACKLINE_INGEST_KEY": KEY,
        "STACKLINE_ENDPOINT": "http://stackline.test",
        "STACKLINE_ENVIRONMENT": "staging",
        "STACKLINE_RELEASE": "shop@1.2.3",
        "STACKLINE_COMMIT_SHA": "ab" * 20,
    }.items():
        monkeypatch.setenv(name, value)
    client = stackline_sdk.init()
    assert client.enabled
    assert (client.options.endpoint, client.options.environment) == (
        "http://stackline.test",
        "staging",
    )
    assert (client.options.release, client.options.commit_sha) == ("shop@1.2.3", "ab" * 20)


def test_stats_have_the_javascript_sdks_fields(recorder: Recorder) -> None:
    init_recorded(recorder, before_send=lambda event, hint: None)
    stackline_sdk.capture_message("dropped by before_send")
    stats = asdict(stackline_sdk.stats())
    # getStats() in sdk/js returns these keys, with droppedBy for dropped_by.
    assert list(stats) == [
        "captured", "sent", "failed", "dropped", "queued", "dropped_by", "disabled"
    ]  # fmt: skip
    assert stats["dropped_by"] == {
        "queue_full": 0,
        "rate_limited": 0,
        "disabled": 0,
        "before_send": 1,
        "too_large": 0,
        "shutdown": 0,
        "sample_rate": 0,
        "ignored": 0,
    }
    assert (stats["captured"], stats["dropped"]) == (1, 1)


def test_nonsense_arguments_do_not_stop_init(recorder: Recorder) -> None:
    bad: Any = object()
    client = init_recorded(
        recorder,
        environment=42,
        release=bad,
        tags=[1, 2],
        before_send="not callable",
        max_queue_size="many",
        timeout=float("nan"),
        shutdown_timeout=-5,
    )
    assert client.enabled
    assert client.options.max_queue_size == 100
    assert client.options.timeout == 5.0
    assert client.options.shutdown_timeout == 0.0
    assert client.options.environment == "42"
    assert client.options.before_send is None


def test_before_send_can_edit(recorder: Recorder) -> None:
    hints: list[Hint] = []

    def before_send(event: Event, hint: Hint) -> Event:
        hints.append(hint)
        event["tags"] = {"edited": "yes"}
        event["exception"]["message"] = "[redacted]"
        return event

    init_recorded(recorder, before_send=before_send)
    error = ValueError("card 4242")
    stackline_sdk.capture_exception(error)
    assert stackline_sdk.flush(2)
    [event] = recorder.events()
    assert event["tags"] == {"edited": "yes"}
    assert event["exception"]["message"] == "[redacted]"
    assert hints == [{"exception": error}]


def test_before_send_can_drop(recorder: Recorder) -> None:
    init_recorded(recorder, before_send=lambda event, hint: None)
    assert stackline_sdk.capture_message("m") is None
    assert stackline_sdk.flush(1)
    assert recorder.requests == []
    assert stackline_sdk.stats() == Stats(dropped=1, dropped_by={"before_send": 1})


def test_before_send_that_raises_drops_the_event(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def before_send(event: Event, hint: Hint) -> Event:
        raise RuntimeError("scrubber bug")

    init_recorded(recorder, before_send=before_send)
    with caplog.at_level(logging.DEBUG, "stackline_sdk"):
        assert stackline_sdk.capture_message("secret") is None
        assert stackline_sdk.capture_message("secret") is None
    assert stackline_sdk.flush(1)
    assert recorder.requests == []
    assert stackline_sdk.stats() == Stats(dropped=2, dropped_by={"before_send": 2})
    assert len(warnings_of(caplog)) == 1


def test_before_send_output_is_put_back_in_shape(recorder: Recorder) -> None:
    def before_send(event: Event, hint: Hint) -> Any:
        out: dict[str, Any] = dict(event)
        out["user"] = {"email": "a@b.c"}  # unknown to the API: would be a 400
        out["tags"] = {1: 2.5, "ok": None}
        out["level"] = "WARN"
        return out

    init_recorded(recorder, before_send=before_send)
    stackline_sdk.capture_message("m")
    assert stackline_sdk.flush(2)
    [event] = recorder.events()
    assert "user" not in event
    assert event["tags"] == {"1": "2.5", "ok": "None"}
    assert event["level"] == "warning"


def test_capture_inside_before_send_does_not_recurse(recorder: Recorder) -> None:
    inner: list[str | None] = []

    def before_send(event: Event, hint: Hint) -> Event:
        inner.append(stackline_sdk.capture_message("from the hook"))
        logging.getLogger("app").error("logged from the hook")
        return event

    init_recorded(recorder, before_send=before_send)
    stackline_sdk.capture_message("outer")
    assert stackline_sdk.flush(2)
    assert inner == [None]
    assert [e["message"] for e in recorder.events()] == ["outer"]


def test_close_flushes_and_later_captures_are_dropped(recorder: Recorder) -> None:
    client = init_recorded(recorder)
    stackline_sdk.capture_message("before")
    stackline_sdk.close(2)
    assert not client.enabled
    assert [e["message"] for e in recorder.events()] == ["before"]
    assert stackline_sdk.capture_message("after") is None
    assert stackline_sdk.stats() == Stats(sent=1, dropped=1, dropped_by={"shutdown": 1})


def test_init_again_replaces_the_client(recorder: Recorder) -> None:
    first = init_recorded(recorder)
    second_recorder = Recorder()
    second = init_recorded(second_recorder, environment="second")
    assert first is not second
    assert not first.enabled
    stackline_sdk.capture_message("m")
    assert stackline_sdk.flush(2)
    assert second_recorder.events()[0]["environment"] == "second"
