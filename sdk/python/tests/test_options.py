"""The Sentry-grade options: sample_rate, ignore_errors, before_breadcrumb, set_user (the id
unless send_default_pii), set_context / set_extra, server_name, enabled, debug."""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

import pytest

import stackline_sdk
from stackline_sdk import Breadcrumb

from support import KEY, Recorder, init_recorded


def sent(recorder: Recorder) -> list[dict[str, Any]]:
    assert stackline_sdk.flush(5)
    return recorder.events()


def test_sample_rate_zero_sends_nothing_and_counts_it(recorder: Recorder) -> None:
    init_recorded(recorder, sample_rate=0.0)
    for i in range(10):
        stackline_sdk.capture_exception(ValueError(i))
    assert sent(recorder) == []
    stats = stackline_sdk.stats()
    assert (stats.captured, stats.dropped_by["sample_rate"]) == (10, 10)


def test_sample_rate_half_keeps_some_and_drops_some(recorder: Recorder) -> None:
    init_recorded(recorder, sample_rate=0.5)
    for i in range(400):
        stackline_sdk.capture_message(f"m{i}")
        if i % 50 == 49:
            assert stackline_sdk.flush(5)  # stay under the queue's bound of 100
    stats = stackline_sdk.stats()
    assert stats.sent + stats.dropped_by["sample_rate"] == 400
    # 400 fair coin flips all landing one way: about 1 in 10^120.
    assert stats.sent > 0
    assert stats.dropped_by["sample_rate"] > 0


class PaymentDeclined(Exception):
    pass


class CardExpired(PaymentDeclined):
    pass


def test_ignore_errors_by_class_name_and_pattern(recorder: Recorder) -> None:
    init_recorded(
        recorder,
        ignore_errors=[PaymentDeclined, "ConnectionResetError", re.compile(r"^KeyError: .*cache")],
    )
    for exc in (
        CardExpired("expired"),  # a subclass of an ignored class
        ConnectionResetError("peer"),
        KeyError("cache-miss"),
        ValueError("a real bug"),
    ):
        stackline_sdk.capture_exception(exc)
    [event] = sent(recorder)
    assert event["exception"]["message"] == "a real bug"
    assert stackline_sdk.stats().dropped_by["ignored"] == 3


def test_before_breadcrumb_edits_or_drops(recorder: Recorder) -> None:
    def hook(crumb: Breadcrumb) -> Breadcrumb | None:
        if "health" in crumb["message"]:
            return None
        return {**crumb, "message": crumb["message"].upper()}

    init_recorded(recorder, before_breadcrumb=hook)
    stackline_sdk.add_breadcrumb("GET /health")
    stackline_sdk.add_breadcrumb("loaded cart")
    logging.getLogger("shop").warning("slow query")
    stackline_sdk.capture_message("m")
    [event] = sent(recorder)
    assert [c["message"] for c in event["breadcrumbs"]] == ["LOADED CART", "SLOW QUERY"]


def test_set_user_sends_the_id_only_unless_send_default_pii(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.set_user({"id": 42, "email": "alice@example.com", "ip_address": "203.0.113.9"})
    stackline_sdk.set_context("cart", {"items": 3, "link": "https://shop.example/c?token=S3CRET"})
    stackline_sdk.set_extra("attempt", 2)
    stackline_sdk.capture_message("with user")
    [event] = sent(recorder)
    tags = event["tags"]
    assert tags == {  # the defaults of init_recorded send no server_name
        "user.id": "42",
        "cart.items": "3",
        "cart.link": "https://shop.example/c?token=[Filtered]",
        "extra.attempt": "2",
    }
    assert b"alice" not in recorder.requests[0].body


def test_with_send_default_pii_the_email_and_ip_are_sent(recorder: Recorder) -> None:
    init_recorded(recorder, send_default_pii=True, server_name="web-1")
    stackline_sdk.set_user({"id": "u1", "email": "alice@example.com", "ip_address": "203.0.113.9"})
    stackline_sdk.capture_message("with pii")
    stackline_sdk.set_user(None)
    stackline_sdk.capture_message("forgotten")
    first, second = sent(recorder)
    assert first["tags"] == {
        "server_name": "web-1",
        "user.id": "u1",
        "user.email": "alice@example.com",
        "user.ip_address": "203.0.113.9",
    }
    assert second["tags"] == {"server_name": "web-1"}


def test_server_name_defaults_to_the_host_name(recorder: Recorder) -> None:
    stackline_sdk.init(
        ingest_key=KEY,
        transport=stackline_sdk.MockTransport(recorder),
    )
    stackline_sdk.capture_message("m")
    [event] = sent(recorder)
    assert event["tags"] == {"server_name": socket.gethostname()}


def test_enabled_false_sends_nothing_and_says_nothing(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    client = init_recorded(recorder, enabled=False)
    assert not client.enabled
    assert stackline_sdk.capture_exception(ValueError("x")) is None
    assert sent(recorder) == []
    assert not [r for r in caplog.records if r.name == "stackline_sdk"]


def test_debug_logs_what_the_sdk_does(recorder: Recorder) -> None:
    init_recorded(recorder, debug=True)
    own = logging.getLogger("stackline_sdk")
    try:
        assert own.level == logging.DEBUG
        assert own.handlers
    finally:
        own.setLevel(logging.NOTSET)
        for handler in list(own.handlers):
            own.removeHandler(handler)
