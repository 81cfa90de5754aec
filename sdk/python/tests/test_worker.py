"""The delivery policy, through MockTransport: batching, the failure table, the counts."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from stackline_sdk import MockTransport, Request, Response, Stats, TransportError, _worker
from stackline_sdk._worker import MAX_BODY_BYTES, parse_retry_after

from support import (
    HANG_GUARD_SECONDS,
    FakeClock,
    MakeClient,
    Recorder,
    answer,
    next_attempt_at,
    within_hang_guard,
)


def wait_until(predicate: object, timeout: float = HANG_GUARD_SECONDS) -> bool:
    """Whether predicate() came true: polled until then, or until the hang guard gives up."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return bool(predicate())


def settled(stats: Stats) -> int:
    return stats.sent + stats.failed + stats.dropped


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def held_transport(recorder: Recorder) -> tuple[MockTransport, threading.Event, threading.Event]:
    """A transport whose first request waits for `release`; `entered` says it is waiting."""
    entered, release = threading.Event(), threading.Event()

    def send(request: Request) -> Response:
        if not entered.is_set():
            entered.set()
            release.wait(HANG_GUARD_SECONDS)
        return recorder(request)

    return MockTransport(send), entered, release


def test_events_go_in_batches_of_at_most_100(make_client: MakeClient, recorder: Recorder) -> None:
    transport, entered, release = held_transport(recorder)
    client = make_client(transport, max_queue_size=1000)
    client.capture_message("m0")
    assert entered.wait(HANG_GUARD_SECONDS)
    for i in range(1, 250):
        assert client.capture_message(f"m{i}") is not None
    release.set()
    assert client.flush(3)
    sizes = [len(json.loads(r.body)["events"]) for r in recorder.requests]
    assert sizes == [1, 100, 100, 49]
    assert [e["message"] for e in recorder.events()] == [f"m{i}" for i in range(250)]
    assert client.stats() == Stats(sent=250)


def test_a_body_stays_under_one_mebibyte(make_client: MakeClient, recorder: Recorder) -> None:
    transport, entered, release = held_transport(recorder)
    client = make_client(transport)
    client.capture_message("first")
    assert entered.wait(HANG_GUARD_SECONDS)
    for _ in range(20):
        # 128 KiB of stack text per event (captured exceptions need not be raised)
        client.capture_exception(raised(ValueError(("y" * 100 + "\n") * 2000)))
    release.set()
    assert client.flush(3)
    assert len(recorder.requests) >= 4
    assert all(len(r.body) <= MAX_BODY_BYTES for r in recorder.requests)
    assert max(len(r.body) for r in recorder.requests) > MAX_BODY_BYTES * 0.8
    assert len(recorder.events()) == 21
    assert client.stats().sent == 21


def test_400_on_a_batch_loses_only_the_bad_event(make_client: MakeClient) -> None:
    recorder = Recorder(lambda r: Response(400 if b"poison" in r.body else 200))
    transport, entered, release = held_transport(recorder)
    client = make_client(transport)
    client.capture_message("first")
    assert entered.wait(HANG_GUARD_SECONDS)
    for message in ("a", "poison", "b"):
        client.capture_message(message)
    release.set()
    assert client.flush(2)
    assert client.stats() == Stats(sent=3, failed=1)
    batches = [[e["message"] for e in json.loads(r.body)["events"]] for r in recorder.requests]
    assert batches == [["first"], ["a", "poison", "b"], ["a"], ["poison"], ["b"]]


def test_413_fails_that_event(make_client: MakeClient) -> None:
    client = make_client(MockTransport(answer(413)))
    client.capture_message("big")
    assert client.flush(2)
    assert client.stats() == Stats(failed=1)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_warns_once_and_disables(
    status: int, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(answer(status))
    client = make_client(MockTransport(recorder))
    with caplog.at_level(logging.WARNING, "stackline_sdk"):
        client.capture_message("one")
        assert client.flush(2)
        for _ in range(5):
            assert client.capture_message("more") is None
        # The worker logs once it has let go of the queue's lock, just after
        # flush() is released.
        assert wait_until(lambda: refused(caplog.records))
    assert len(recorder.requests) == 1
    assert not client.enabled
    assert client.stats() == Stats(failed=1, dropped=5, dropped_by={"disabled": 5}, disabled=True)
    assert len(refused(caplog.records)) == 1


def refused(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [
        r
        for r in records
        if r.levelno == logging.WARNING and "refused the ingest key" in r.getMessage()
    ]


def test_429_drops_and_sends_nothing_until_retry_after(make_client: MakeClient) -> None:
    recorder = Recorder(
        lambda r: (
            Response(429, {"Retry-After": "1"}) if len(recorder.requests) == 1 else Response(200)
        )
    )
    clock = FakeClock()
    client = make_client(MockTransport(recorder), clock=clock)
    client.capture_message("limited")
    assert client.flush(2)
    assert client.capture_message("during the window") is None
    assert client.stats() == Stats(dropped=2, dropped_by={"rate_limited": 2})
    clock.advance(client, 0.999)
    assert client.capture_message("at the end of the window") is None
    clock.advance(client, 0.001)
    assert client.capture_message("after") is not None
    assert client.flush(2)
    assert client.stats() == Stats(sent=1, dropped=3, dropped_by={"rate_limited": 3})
    assert len(recorder.requests) == 2


def test_429_without_retry_after_waits_a_minute(make_client: MakeClient) -> None:
    clock = FakeClock()
    client = make_client(MockTransport(answer(429)), clock=clock)
    client.capture_message("m")
    assert client.flush(2)
    clock.advance(client, 59.999)
    assert client.capture_message("still limited") is None
    clock.advance(client, 0.001)
    assert client.capture_message("the minute is over") is not None


def test_queued_events_are_dropped_once_rate_limited(make_client: MakeClient) -> None:
    transport, entered, release = held_transport(
        Recorder(lambda r: Response(429, {"retry-after": "30"}))
    )
    client = make_client(transport)
    client.capture_message("in flight")
    assert entered.wait(HANG_GUARD_SECONDS)
    for _ in range(4):
        assert client.capture_message("queued behind") is not None
    release.set()
    assert client.flush(2)
    stats = client.stats()
    assert stats.sent == 0
    assert stats.dropped == 5
    assert stats == Stats(dropped=5, dropped_by={"rate_limited": 5})


def test_5xx_is_retried_three_times_then_fails(make_client: MakeClient) -> None:
    recorder = Recorder(answer(500))
    client = make_client(MockTransport(recorder))
    client.capture_message("m")
    assert client.flush(3)
    assert len(recorder.requests) == 4
    assert client.stats() == Stats(failed=1)


def test_5xx_then_success(make_client: MakeClient) -> None:
    recorder = Recorder(lambda r: Response(502 if len(recorder.requests) < 3 else 200))
    client = make_client(MockTransport(recorder))
    client.capture_message("m")
    assert client.flush(3)
    assert len(recorder.requests) == 3
    assert client.stats() == Stats(sent=1)


def test_503_waits_for_retry_after(make_client: MakeClient) -> None:
    recorder = Recorder(
        lambda r: (
            Response(503, {"Retry-After": "1"}) if len(recorder.requests) == 1 else Response(200)
        )
    )
    clock = FakeClock()
    client = make_client(MockTransport(recorder), clock=clock)  # a backoff of milliseconds
    client.capture_message("m")
    # The retry is set for Retry-After's second, though the backoff alone would be sooner.
    assert wait_until(lambda: next_attempt_at(client) == clock.now + 1.0)
    clock.advance(client, 1.0)
    assert client.flush(3)
    assert client.stats() == Stats(sent=1)
    assert len(recorder.requests) == 2


def test_network_errors_retry_with_growing_backoff_until_it_works(make_client: MakeClient) -> None:
    def network(request: Request) -> Response:
        if len(recorder.requests) <= 5:
            raise TransportError("connection refused")
        return Response(200)

    recorder = Recorder(network)
    clock = FakeClock()
    client = make_client(
        MockTransport(recorder), backoff=_worker.Backoff(initial=1, maximum=10), clock=clock
    )
    client.capture_message("m")
    delays = []
    for failures in range(1, 6):
        # Once the attempt has failed, a retry is set for later than now.
        assert wait_until(
            lambda n=failures: len(recorder.requests) == n and next_attempt_at(client) > clock.now
        )
        delays.append(next_attempt_at(client) - clock.now)
        clock.advance(client, delays[-1])
    assert client.flush(5)
    assert len(recorder.requests) == 6
    assert client.stats() == Stats(sent=1)
    # initial * 2**(n-1), at most `maximum`, jittered into [0.5, 1) of that.
    for failures, delay in enumerate(delays, start=1):
        nominal = min(10, 2 ** (failures - 1))
        assert 0.5 * nominal <= delay < nominal, (failures, delays)


def test_any_exception_from_a_transport_counts_as_a_network_error(make_client: MakeClient) -> None:
    attempts: list[int] = []

    def buggy(request: Request) -> Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise KeyError("bug in a custom transport")
        return Response(200)

    client = make_client(MockTransport(buggy))
    client.capture_message("m")
    assert client.flush(2)
    assert client.stats() == Stats(sent=1)


def test_network_down_keeps_at_most_the_bounded_queue(make_client: MakeClient) -> None:
    def down(request: Request) -> Response:
        raise TransportError("down")

    client = make_client(MockTransport(down), max_queue_size=100)
    ids = [client.capture_message(f"m{i}") for i in range(150)]
    assert sum(i is not None for i in ids) == 100
    assert client.stats() == Stats(dropped=50, queued=100, dropped_by={"queue_full": 50})
    assert client.flush(0.2) is False
    client.close(0.2)
    assert client.stats() == Stats(
        dropped=150, queued=0, dropped_by={"queue_full": 50, "shutdown": 100}
    )


def test_flush_and_close_do_not_wait_for_a_retry_past_their_deadline(
    make_client: MakeClient,
) -> None:
    attempts: list[Request] = []

    def down(request: Request) -> Response:
        attempts.append(request)
        raise TransportError("down")

    # The retry after the first failure is 3 to 6 hours away: after the deadlines of the
    # hour-long flush and close below, which therefore give up at once, within the hang guard.
    client = make_client(
        MockTransport(down), backoff=_worker.Backoff(initial=20_000, maximum=20_000)
    )
    client.capture_message("m")
    assert wait_until(lambda: next_attempt_at(client) > 0)
    assert within_hang_guard(lambda: client.flush(3600)) is False
    within_hang_guard(lambda: client.close(3600))
    assert client.stats() == Stats(dropped=1, dropped_by={"shutdown": 1})
    assert len(attempts) == 1


def test_close_waits_for_a_request_in_flight(make_client: MakeClient, recorder: Recorder) -> None:
    transport, entered, release = held_transport(recorder)
    client = make_client(transport)
    client.capture_message("in flight")
    assert entered.wait(HANG_GUARD_SECONDS)
    closing = threading.Thread(target=client.close, args=(HANG_GUARD_SECONDS,))
    closing.start()
    assert wait_until(lambda: client._worker._closed)  # close() is waiting on the request
    release.set()
    closing.join(HANG_GUARD_SECONDS)
    assert not closing.is_alive()
    assert client.stats() == Stats(sent=1)


def test_close_gives_up_on_a_request_unanswered_at_its_deadline(make_client: MakeClient) -> None:
    release = threading.Event()
    recorder = Recorder(lambda r: (release.wait(HANG_GUARD_SECONDS), Response(200))[1])
    client = make_client(MockTransport(recorder))
    client.capture_message("stuck")
    assert wait_until(lambda: len(recorder.requests) == 1)
    within_hang_guard(lambda: client.close(0.3))
    assert client.stats() == Stats(dropped=1, dropped_by={"shutdown": 1})
    # The late answer must not be counted twice: once the worker has had it, nothing changed.
    worker_thread = client._worker._thread
    assert worker_thread is not None
    release.set()
    worker_thread.join(HANG_GUARD_SECONDS)
    assert not worker_thread.is_alive()
    assert client.stats() == Stats(dropped=1, dropped_by={"shutdown": 1})


def test_the_worker_survives_its_own_bugs(
    make_client: MakeClient, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_encode = _worker.encode

    def flaky_encode(event: object) -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bug")
        return real_encode(event)  # type: ignore[arg-type]

    monkeypatch.setattr(_worker, "encode", flaky_encode)
    client = make_client()
    client.capture_message("lost to the bug")
    assert client.flush(2)
    client.capture_message("fine")
    assert client.flush(2)
    assert client.stats() == Stats(sent=1, dropped=1, dropped_by={"too_large": 1})


def test_counts_always_add_up(make_client: MakeClient) -> None:
    statuses = iter([200, 500, 429, 200, 400, 503, 200] * 50)
    client = make_client(
        MockTransport(lambda r: Response(next(statuses, 200), {"retry-after": "0"})),
        max_queue_size=10,
    )
    captured = 0
    for i in range(300):
        client.capture_message(f"m{i}")
        captured += 1
        stats = client.stats()
        assert stats.captured == settled(stats) + stats.queued == captured
        assert stats.queued <= 10
    assert client.flush(5)
    stats = client.stats()
    assert settled(stats) == captured
    assert stats.queued == 0
    assert sum(stats.dropped_by.values()) == stats.dropped


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), (None, None), ("inf", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == 30.0
    assert parse_retry_after(header, now=now.timestamp() + 60) == 0.0  # passed already
