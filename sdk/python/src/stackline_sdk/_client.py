"""The client: turns a capture call into an event and hands it to the worker.

Capturing runs on the app's thread, so it does no I/O, takes one short lock
(the queue's) and catches everything: a capture call returns the event id, or
None when the event was dropped or could not be built, and never raises.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import ParamSpec

from ._event import (
    MAX_MESSAGE,
    MAX_SHORT,
    breadcrumb,
    clean,
    clean_tags,
    conform,
    conform_breadcrumb,
    exception_data,
    exception_text,
    is_marked,
    mark,
    new_event,
    normalize_level,
    safe_str,
    truncate,
    type_name,
)
from ._options import Options
from ._scope import Scope, current_scope
from ._scrub import scrub_text
from ._transport import HTTPTransport, Transport
from ._types import Breadcrumb, Event, ExceptionData, Hint, RequestData
from ._version import VERSION
from ._worker import Backoff, Stats, Worker

logger = logging.getLogger("stackline_sdk")

SDK_NAME = "stackline-python"

# Set while this thread is inside a capture call: a before_send hook or a log
# handler that captures in turn is ignored instead of recursing.
_local = threading.local()

_P = ParamSpec("_P")


def _capture_call(capture: Callable[_P, str | None]) -> Callable[_P, str | None]:
    """A public capture method: never re-entered on one thread, never raising into the host."""

    @functools.wraps(capture)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> str | None:
        if getattr(_local, "busy", False):
            return None
        _local.busy = True
        try:
            return capture(*args, **kwargs)
        except Exception:
            logger.debug("stackline_sdk: %s failed", capture.__name__, exc_info=True)
            return None
        finally:
            _local.busy = False

    return guarded


def _python_version() -> str:
    info = sys.version_info
    return f"{info.major}.{info.minor}.{info.micro}"


def _exception_of(error: object) -> BaseException | None:
    if error is None:
        return sys.exc_info()[1]
    if isinstance(error, BaseException):
        return error
    if isinstance(error, tuple) and len(error) == 3 and isinstance(error[1], BaseException):
        return error[1]  # an exc_info tuple
    return None


class Client:
    def __init__(
        self,
        options: Options,
        *,
        transport: Transport | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.options = options
        headers = {
            "Authorization": f"Bearer {options.ingest_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"{SDK_NAME}/{VERSION}",
        }
        self._worker = Worker(
            transport if transport is not None else HTTPTransport(timeout=options.timeout),
            options.ingest_url,
            headers,
            max_queue_size=options.max_queue_size,
            backoff=backoff,
            enabled=options.ingest_key is not None,
            clock=clock,
        )
        self._python = _python_version()
        self._warned_hook = False

    @property
    def enabled(self) -> bool:
        return self._worker.refusal() not in ("disabled", "shutdown")

    @_capture_call
    def capture_exception(
        self,
        error: object = None,
        *,
        tags: Mapping[str, object] | None = None,
        fingerprint: str | None = None,
        message: str | None = None,
    ) -> str | None:
        """Report an exception (the one being handled when `error` is None); `message`, if
        given, is the event's message too (the line of `logger.exception("...")`)."""
        exc = _exception_of(error)
        if exc is not None:
            return self._capture_exception(exc, tags, fingerprint, message)
        if error is None:
            return None  # nothing is being handled
        return self._capture_value(error, tags, fingerprint)

    def _capture_exception(
        self,
        exc: BaseException,
        tags: Mapping[str, object] | None,
        fingerprint: object,
        message: str | None = None,
    ) -> str | None:
        if is_marked(exc):
            return None  # already reported, by a hook further down the stack
        mark(exc)
        refusal = self._refusal() or ("ignored" if self._ignored(exc) else None)
        if refusal is not None:
            self._worker.record_drop(refusal)
            return None
        # Only what cannot wait: the traceback as it is now (the exception may travel
        # further up and grow it) and its text. The rest is done on the worker.
        tb, text = exc.__traceback__, exception_text(exc)

        line = None if message is None else safe_str(message)

        def describe(event: Event) -> None:
            event["exception"] = exception_data(exc, tb, text)
            if line is not None:
                event["message"] = truncate(scrub_text(line), MAX_MESSAGE)
                event["level"] = "error"

        return self._dispatch(new_event({}), {"exception": exc}, tags, fingerprint, describe)

    def _capture_value(
        self, value: object, tags: Mapping[str, object] | None, fingerprint: object
    ) -> str | None:
        """Something raised-like that is no exception (`capture_exception("oops")`): as the
        JavaScript SDK does, an exception named after its type, with a one-line stack
        (a made-up traceback would point into the SDK, not at the bug)."""
        refusal = self._worker.refusal()
        if refusal is not None:
            self._worker.record_drop(refusal)
            return None
        kind = type_name(type(value))
        message = truncate(scrub_text(safe_str(value)), MAX_MESSAGE)
        data: ExceptionData = {
            "type": kind,
            "message": message,
            "stack": f"{kind}: {message}" if message else kind,
        }
        return self._dispatch(new_event({"exception": data}), {}, tags, fingerprint)

    @_capture_call
    def capture_message(
        self,
        message: object,
        level: object = "info",
        *,
        tags: Mapping[str, object] | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        """Report a message at `level` (debug, info, warning, error or fatal)."""
        refusal = self._refusal()
        if refusal is not None:
            self._worker.record_drop(refusal)
            return None
        event = new_event(
            {
                "message": truncate(scrub_text(safe_str(message)), MAX_MESSAGE),
                "level": normalize_level(level),
            }
        )
        return self._dispatch(event, {}, tags, fingerprint)

    def _refusal(self) -> str | None:
        """Why a new event is refused before it is built, if it is."""
        refusal = self._worker.refusal()
        rate = self.options.sample_rate
        # Sampling, not a secret: the module's generator is the right one.
        if refusal is None and rate < 1.0 and random.random() >= rate:  # noqa: S311
            return "sample_rate"
        return refusal

    def _ignored(self, exc: BaseException) -> bool:
        """Whether ignore_errors names this exception: a class (or a base), a type name, or a
        pattern found in "Type: message"."""
        kind = type(exc)
        name = type_name(kind)
        text: str | None = None
        for rule in self.options.ignore_errors:
            if isinstance(rule, type):
                if isinstance(exc, rule):
                    return True
            elif isinstance(rule, str):
                if rule in (name, kind.__name__):
                    return True
            elif isinstance(rule, re.Pattern):
                text = text or f"{name}: {exception_text(exc)}"
                if rule.search(text):
                    return True
        return False

    def add_breadcrumb(
        self, scope: Scope, message: object, category: object, level: object
    ) -> None:
        """Record a breadcrumb on `scope`, through before_breadcrumb if there is one."""
        crumb: Breadcrumb | None = breadcrumb(message, category, level)
        hook = self.options.before_breadcrumb
        if hook is not None:
            try:
                crumb = hook(crumb)  # type: ignore[arg-type]
            except Exception:
                self._warn_hook(
                    "stackline_sdk: before_breadcrumb raised; the breadcrumb was dropped",
                    exc_info=True,
                )
                return
            if crumb is None:
                return
            crumb = conform_breadcrumb(crumb)
        if crumb is not None:
            scope.breadcrumbs.append(crumb)

    def _dispatch(
        self,
        event: Event,
        hint: Hint,
        tags: Mapping[str, object] | None,
        fingerprint: object,
        describe: Callable[[Event], None] | None = None,
    ) -> str | None:
        """Queue the event; what it takes from the scope is copied now, and the event is
        completed (`describe`, scope data, limits) on the worker thread, unless a
        before_send hook needs the whole event here and now."""
        scope = current_scope()
        request = scope.request
        scope_tags = {**scope.data, **scope.tags}
        crumbs = list(scope.breadcrumbs) if self.options.max_breadcrumbs else []
        extra_tags = clean_tags(tags) if tags else None

        def finish(ev: Event) -> Event:
            if describe is not None:
                describe(ev)
            self._complete(
                ev,
                request=request,
                scope_tags=scope_tags,
                crumbs=crumbs,
                extra_tags=extra_tags,
                fingerprint=fingerprint,
            )
            return ev

        if self.options.before_send is None:
            return event.get("event_id") if self._worker.submit(event, finish) else None
        shaped = self._before_send(finish(event), hint)
        if shaped is None:
            return None
        if self._worker.submit(shaped):
            return shaped.get("event_id")
        return None

    def _complete(
        self,
        event: Event,
        *,
        request: RequestData | None,
        scope_tags: dict[str, str],
        crumbs: list[Breadcrumb],
        extra_tags: dict[str, str] | None,
        fingerprint: object,
    ) -> None:
        options = self.options
        if options.commit_sha is not None:
            event["commit_sha"] = options.commit_sha
        event["environment"] = options.environment
        if options.deploy_root is not None:
            event["deploy_root"] = options.deploy_root
        if options.release is not None:
            event["release"] = options.release
        event["runtime"] = {"name": "python", "version": self._python}
        event["sdk"] = {"name": SDK_NAME, "version": VERSION}
        if request is not None:
            event["request"] = {"method": request["method"], "url": request["url"]}
        # Later sources win for a key they share; a new key goes in only while
        # there are fewer than 50 (the API refuses more).
        own = {"server_name": options.server_name} if options.server_name else {}
        merged = clean_tags(scope_tags, clean_tags(options.tags, own))
        if extra_tags:
            clean_tags(extra_tags, merged)
        if merged:
            event["tags"] = merged
        if crumbs:
            event["breadcrumbs"] = crumbs[-options.max_breadcrumbs :]
        if fingerprint is not None:
            event["fingerprint"] = clean(fingerprint, MAX_SHORT)

    def _before_send(self, event: Event, hint: Hint) -> Event | None:
        assert self.options.before_send is not None
        # Kept aside: the hook may delete them from the event it is given.
        identity: Event = {
            "event_id": event["event_id"],
            "timestamp": event["timestamp"],
            "platform": event["platform"],
            "runtime": event["runtime"],
            "sdk": event["sdk"],
        }
        try:
            result = self.options.before_send(event, hint)
        except Exception:
            # Fail closed: before_send is where apps scrub, and sending what a
            # broken scrubber was meant to clean would leak it.
            self._warn_hook(
                "stackline_sdk: before_send raised; the event was dropped", exc_info=True
            )
            self._worker.record_drop("before_send")
            return None
        if result is None:
            self._worker.record_drop("before_send")
            return None
        shaped = conform(result, identity)
        if shaped is None:
            self._warn_hook(
                "stackline_sdk: before_send returned a %s, not an event; dropped",
                type(result).__name__,
            )
            self._worker.record_drop("before_send")
        return shaped

    def _warn_hook(self, message: str, *args: object, exc_info: bool = False) -> None:
        # One warning, then quiet: a hook that fails once fails for every event.
        if self._warned_hook:
            logger.debug(message, *args, exc_info=exc_info)
        else:
            self._warned_hook = True
            logger.warning(message, *args, exc_info=exc_info)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is settled, up to `timeout` seconds
        (shutdown_timeout by default). True if nothing is left."""
        try:
            return self._worker.flush(self._timeout(timeout))
        except Exception:
            logger.debug("stackline_sdk: flush failed", exc_info=True)
            return False

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued for up to `timeout` seconds, then stop; later
        captures are dropped."""
        try:
            self._worker.close(self._timeout(timeout))
        except Exception:
            logger.debug("stackline_sdk: close failed", exc_info=True)

    def _close_in_background(self) -> None:
        try:
            self._worker.close(self.options.shutdown_timeout, wait=False)
        except Exception:
            logger.debug("stackline_sdk: close failed", exc_info=True)

    def stats(self) -> Stats:
        try:
            return self._worker.stats()
        except Exception:
            return Stats()

    def _timeout(self, timeout: float | None) -> float:
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0:
            return float(timeout)
        return self.options.shutdown_timeout
