"""The background worker: a bounded queue, one daemon thread, the delivery policy, the counts.

The app's threads only ever append to the queue (or count a drop when it is
full); the worker thread serialises, batches and sends. What each answer
means:

    2xx             sent
    400, 413        that event is refused: failed (a batch is first split so
                    that one bad event does not take the others with it)
    401, 403        the key is refused: failed, one warning, the SDK disables
                    (what is queued is dropped: disabled)
    429             dropped (rate_limited), and nothing is sent until
                    Retry-After has passed
    5xx             retried up to 3 times with backoff (and not before
                    Retry-After, when given), then failed
    no answer       kept in the queue and retried with exponential backoff and
                    jitter, for as long as the process runs

Every event the worker is handed ends in exactly one of sent, failed or
dropped; until then it counts as queued. Stats says what each means.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from ._event import safe_str, shorten
from ._transport import Request, Response, Transport
from ._types import Event

logger = logging.getLogger("stackline_sdk")

MAX_BATCH_EVENTS = 100
MAX_BODY_BYTES = 1024 * 1024
_BATCH_OPEN = b'{"events":['
_BATCH_CLOSE = b"]}"
# The largest event that fits in a request body on its own.
MAX_EVENT_BYTES = MAX_BODY_BYTES - len(_BATCH_OPEN) - len(_BATCH_CLOSE)
DEFAULT_RETRY_AFTER = 60.0

# Why events are dropped; the JavaScript SDK's getStats().droppedBy has the same.
DROP_REASONS = (
    "queue_full",
    "rate_limited",
    "disabled",
    "before_send",
    "too_large",
    "shutdown",
    "sample_rate",
    "ignored",
)


@dataclass(frozen=True)
class Stats:
    """What happened to the events captured since init(), as the README defines it.

    captured = sent + failed + dropped + queued, always. `sent`: the server
    took it. `failed`: the server answered and did not take it (400, 413, 401,
    403, another 4xx, or still a 5xx after 3 retries). `dropped`: let go without
    the server's final answer, counted by reason in `dropped_by` (every reason
    of DROP_REASONS is there, zeros included). `queued`: waiting or in flight.
    `disabled`: reporting stopped for want of a usable key (none or a malformed
    one, no endpoint, or a key the server refused); close() does not set it.
    """

    captured: int = field(init=False, default=0)
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    queued: int = 0
    dropped_by: Mapping[str, int] = field(default_factory=dict)
    disabled: bool = False

    def __post_init__(self) -> None:
        # Derived here, so that the sum holds for any Stats, and every reason is
        # a key, as in the JavaScript SDK's object.
        dropped_by = {reason: int(self.dropped_by.get(reason, 0)) for reason in DROP_REASONS}
        object.__setattr__(self, "dropped_by", dropped_by)
        object.__setattr__(self, "captured", self.sent + self.failed + self.dropped + self.queued)


@dataclass(frozen=True)
class Backoff:
    """Delays between retries: initial * 2**(n-1), at most `maximum`, times a
    random factor in [0.5, 1) so that many processes do not retry in step."""

    initial: float = 1.0
    maximum: float = 60.0
    max_server_retries: int = 3

    def delay(self, failures: int) -> float:
        base = min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto


DEFAULT_BACKOFF = Backoff()


# Completes an event on the worker thread: the traceback's text, scrubbing, the scope's data.
Finish = Callable[[Event], Event]


class _Item:
    __slots__ = ("attempts", "event", "finish", "payload", "solo")

    def __init__(self, event: Event, finish: Finish | None = None) -> None:
        self.event: Event | None = event
        self.finish = finish
        self.payload: bytes | None = None
        self.attempts = 0  # 5xx answers so far
        self.solo = False  # send alone: it was in a batch the server refused


def encode(event: Event) -> bytes:
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=safe_str)
    # Lone surrogates (from undecodable file names, say) are not UTF-8; the
    # server's JSON parser would refuse the whole body.
    return text.encode("utf-8", "replace")


def encode_within(event: Event, limit: int) -> bytes | None:
    """The event as JSON of at most `limit` bytes, shortened if need be; None if
    it cannot be made that small."""
    payload = encode(event)
    while len(payload) > limit:
        smaller = shorten(event)
        if smaller is None:
            return None
        event = smaller
        payload = encode(event)
    return payload


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (counted from `now`,
    seconds since the epoch, by default the present)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (
                time.time() if now is None else now
            )
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


class Worker:
    def __init__(
        self,
        transport: Transport,
        url: str,
        headers: Mapping[str, str],
        *,
        max_queue_size: int = 100,
        backoff: Backoff | None = None,
        enabled: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._transport = transport
        # What retries, Retry-After and the flush and close deadlines are counted on: monotonic
        # seconds; tests pass a clock they move themselves.
        self._clock = clock or time.monotonic
        self._url = url
        self._headers = dict(headers)
        self._max = max(1, max_queue_size)
        self._backoff = backoff or DEFAULT_BACKOFF
        self._disabled = not enabled
        self._closed = False  # no new events
        self._deadline: float | None = None  # when closing: give up at
        self._rate_limited_until = 0.0  # on the clock; nothing sent before
        self._not_before = 0.0  # on the clock; backoff after a failure
        self._failures = 0  # consecutive failed attempts, for the backoff
        self._warned: set[str] = set()
        self._logs: list[tuple[int, str, tuple[Any, ...]]] = []  # to log once unlocked
        self._init_state()
        _track(self)

    def _init_state(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._in_flight = 0
        self._abandoned = False
        self._thread: threading.Thread | None = None
        self._counts: Counter[str] = Counter()
        self._dropped_by: Counter[str] = Counter()

    def after_fork_in_child(self) -> None:
        # The parent sends what it had queued; the child starts empty, with a
        # fresh lock (another thread may have held the old one at fork time)
        # and no thread (only the forking thread survives a fork).
        self._init_state()

    # -- the app's side -------------------------------------------------------

    def refusal(self) -> str | None:
        """Why an event would be dropped right now, read without the lock.

        Lets capture skip building an event that has no room, which keeps a
        flood of errors cheap. submit() decides for real.
        """
        if self._disabled:
            return "disabled"
        if self._closed:
            return "shutdown"
        if self._clock() < self._rate_limited_until:
            return "rate_limited"
        if len(self._queue) + self._in_flight >= self._max:
            return "queue_full"
        return None

    def submit(self, event: Event, finish: Finish | None = None) -> bool:
        if self._pid != os.getpid():
            self.after_fork_in_child()
        with self._cond:
            reason = self.refusal()
            if reason is not None:
                self._drop_locked(reason, 1)
                return False
            self._queue.append(_Item(event, finish))
            if self._thread is None and not self._start_thread():
                self._queue.pop()
                self._drop_locked("shutdown", 1)
                return False
            self._cond.notify()
            return True

    def record_drop(self, reason: str, count: int = 1) -> None:
        with self._cond:
            self._drop_locked(reason, count)

    def stats(self) -> Stats:
        with self._cond:
            return Stats(
                sent=self._counts["sent"],
                failed=self._counts["failed"],
                dropped=self._counts["dropped"],
                queued=len(self._queue) + self._in_flight,
                dropped_by=dict(self._dropped_by),
                disabled=self._disabled,
            )

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued is settled; False when time ran out first."""
        deadline = self._clock() + max(0.0, timeout)
        with self._cond:
            while self._queue or self._in_flight:
                if self._thread is None and not self._start_thread():
                    return False
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                if not self._in_flight and self._not_before > deadline:
                    return False  # the next try comes after the deadline: don't wait for it
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float, *, wait: bool = True) -> None:
        """Stop taking events; send what is queued until `timeout`, then drop the rest."""
        deadline = self._clock() + max(0.0, timeout)
        with self._cond:
            self._closed = True
            self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)
            self._cond.notify_all()
            thread = self._thread
        if not wait:
            return
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - self._clock()))
        with self._cond:
            # Still waiting on a server past the deadline: give up on it. Should
            # the answer come later, it is not counted twice.
            if self._queue or self._in_flight:
                self._drop_locked("shutdown", len(self._queue) + self._in_flight)
                self._queue.clear()
                self._in_flight = 0
                self._abandoned = True
                self._cond.notify_all()
        self._transport_close()

    def _transport_close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # the worker may be inside send(); it is a daemon, let it be
        try:
            self._transport.close()
        except Exception:
            logger.debug("stackline_sdk: closing the transport failed", exc_info=True)

    # -- the worker thread ----------------------------------------------------

    def _start_thread(self) -> bool:
        thread = threading.Thread(target=self._run, name="stackline-worker", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down
            return False
        self._thread = thread
        return True

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._deliver(batch)
            except Exception:
                # A bug here must not kill the thread: the app would then queue
                # forever into a worker that never drains.
                logger.debug("stackline_sdk: delivery failed unexpectedly", exc_info=True)
                with self._cond:
                    self._settle_locked(self._in_flight, "failed")

    def _next_batch(self) -> list[_Item] | None:
        with self._cond:
            while True:
                if self._abandoned or self._pid != os.getpid():
                    return None
                now = self._clock()
                if self._deadline is not None and (not self._queue or now >= self._deadline):
                    self._drop_locked("shutdown", len(self._queue))
                    self._queue.clear()
                    self._cond.notify_all()
                    return None
                if not self._queue:
                    self._cond.wait()
                    continue
                if now < self._rate_limited_until:
                    self._drop_locked("rate_limited", len(self._queue))
                    self._queue.clear()
                    self._cond.notify_all()
                    continue
                if now < self._not_before:
                    if self._deadline is not None and self._not_before >= self._deadline:
                        # The next try would come after the deadline: stop now.
                        self._drop_locked("shutdown", len(self._queue))
                        self._queue.clear()
                        self._cond.notify_all()
                        return None
                    self._cond.wait(self._not_before - now)
                    continue
                batch = [self._queue.popleft()]
                # Events of a refused batch go back to the front, marked to be
                # sent one by one; everything else goes in batches.
                if not batch[0].solo:
                    while self._queue and len(batch) < MAX_BATCH_EVENTS:
                        batch.append(self._queue.popleft())
                self._in_flight = len(batch)
                return batch

    def _prepare(self, item: _Item) -> bool:
        """Serialise an event once, to fit a request body alone; False if it cannot."""
        if item.payload is not None:
            return True
        try:
            event = item.event or {}
            if item.finish is not None:
                event = item.finish(event)
            item.payload = encode_within(event, MAX_EVENT_BYTES)
        except Exception:
            logger.debug("stackline_sdk: could not serialise an event", exc_info=True)
        # Keep only the bytes while queued: no more frames or scope held alive.
        item.event = None
        item.finish = None
        # Hand the GIL back between events: the app's threads then wait for
        # one event's serialisation at most, not a switch interval (5 ms).
        time.sleep(0)
        return item.payload is not None

    def _deliver(self, batch: list[_Item]) -> None:
        unfit = [item for item in batch if not self._prepare(item)]
        if unfit:
            with self._cond:
                self._settle_locked(len(unfit), "dropped", "too_large")
            batch = [item for item in batch if item.payload is not None]
            if not batch:
                return
        # As many as fit in one body (one always does); the rest go back to the
        # queue's front.
        size = len(_BATCH_OPEN) + len(_BATCH_CLOSE)
        count = 0
        for item in batch:
            extra = len(item.payload or b"") + (1 if count else 0)
            if count and size + extra > MAX_BODY_BYTES:
                break
            size += extra
            count += 1
        batch, rest = batch[:count], batch[count:]
        if rest:
            with self._cond:
                self._requeue_locked(rest)
        body = _BATCH_OPEN + b",".join(item.payload or b"" for item in batch) + _BATCH_CLOSE
        request = Request(self._url, {**self._headers, "Content-Length": str(len(body))}, body)
        try:
            response = self._transport.send(request)
        except Exception as exc:
            self._on_network_error(batch, exc)
            return
        self._on_response(batch, response)

    def _on_network_error(self, batch: list[_Item], exc: Exception) -> None:
        logger.debug("stackline_sdk: sending failed, will retry: %s", exc)
        with self._cond:
            if self._abandoned:
                return
            self._failures += 1
            self._not_before = self._clock() + self._backoff.delay(self._failures)
            self._requeue_locked(batch)

    def _on_response(self, batch: list[_Item], response: Response) -> None:
        with self._cond:
            if not self._abandoned:
                self._settle_response_locked(batch, response)
            logs, self._logs = self._logs, []
        # Logged once the lock is released: the app's log handlers may be slow,
        # and app threads capturing meanwhile must not wait for them.
        for level, message, args in logs:
            logger.log(level, message, *args)

    def _settle_response_locked(self, batch: list[_Item], response: Response) -> None:
        status = response.status
        if 200 <= status < 300:
            self._failures = 0
            self._settle_locked(len(batch), "sent")
        elif status in (400, 413):
            self._refused_events_locked(batch, response)
        elif status in (401, 403):
            self._refused_key_locked(batch, response)
        elif status == 429:
            retry_after = parse_retry_after(response.header("retry-after"))
            wait = DEFAULT_RETRY_AFTER if retry_after is None else retry_after
            self._rate_limited_until = self._clock() + wait
            self._logs.append((logging.DEBUG, "stackline_sdk: rate limited for %.1f s", (wait,)))
            self._settle_locked(len(batch), "dropped", "rate_limited")
        elif status >= 500:
            self._server_error_locked(batch, response)
        else:
            self._warn_once(
                f"http_{status}",
                "stackline_sdk: unexpected answer %s from the server: %s",
                status,
                _error_text(response),
            )
            self._settle_locked(len(batch), "failed")

    def _refused_events_locked(self, batch: list[_Item], response: Response) -> None:
        if len(batch) > 1:
            # Which event was refused is not said: send each alone, so that
            # only the bad one is lost.
            for item in batch:
                item.solo = True
            self._requeue_locked(batch)
            return
        self._warn_once(
            f"http_{response.status}",
            "stackline_sdk: the server refused an event (%s): %s",
            response.status,
            _error_text(response),
        )
        self._settle_locked(1, "failed")

    def _refused_key_locked(self, batch: list[_Item], response: Response) -> None:
        self._warn_once(
            "unauthorized",
            "stackline_sdk: the server refused the ingest key (%s); "
            "error reporting is disabled: %s",
            response.status,
            _error_text(response),
        )
        self._settle_locked(len(batch), "failed")
        self._disabled = True
        self._drop_locked("disabled", len(self._queue))
        self._queue.clear()

    def _server_error_locked(self, batch: list[_Item], response: Response) -> None:
        self._failures += 1
        delay = self._backoff.delay(self._failures)
        retry_after = parse_retry_after(response.header("retry-after"))
        if retry_after is not None:
            delay = max(delay, retry_after)
        self._not_before = self._clock() + delay
        retry = []
        for item in batch:
            item.attempts += 1
            if item.attempts > self._backoff.max_server_retries:
                self._settle_locked(1, "failed")
            else:
                retry.append(item)
        if retry:
            self._requeue_locked(retry)

    # -- bookkeeping, with the lock held --------------------------------------

    def _requeue_locked(self, items: list[_Item]) -> None:
        if self._abandoned:
            return
        self._in_flight -= len(items)
        self._queue.extendleft(reversed(items))
        self._cond.notify_all()

    def _settle_locked(self, count: int, outcome: str, reason: str | None = None) -> None:
        """Count `count` in-flight events as sent, failed, or dropped for `reason`."""
        if self._abandoned:
            return
        self._in_flight -= count
        self._counts[outcome] += count
        if reason is not None:
            self._dropped_by[reason] += count
        self._cond.notify_all()

    def _drop_locked(self, reason: str, count: int) -> None:
        if count:
            self._counts["dropped"] += count
            self._dropped_by[reason] += count

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        self._logs.append((level, message, args))


def _error_text(response: Response) -> str:
    return response.body[:500].decode("utf-8", "replace") or "(no body)"


# -- fork safety -----------------------------------------------------------------

_workers: weakref.WeakSet[Worker] = weakref.WeakSet()
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    for worker in list(_workers):
        worker.after_fork_in_child()


def _track(worker: Worker) -> None:
    global _fork_hook_installed
    _workers.add(worker)
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True
