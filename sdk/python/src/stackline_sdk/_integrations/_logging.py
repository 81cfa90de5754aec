"""logging: `logger.exception(...)` and ERROR records become events, INFO records breadcrumbs.

init() does not add a handler to the root logger: that would switch off
logging's last-resort stderr output and turn a later logging.basicConfig()
into a no-op, changing what the app prints. It wraps Logger.callHandlers
instead (as sentry-python does), so every record that the app's own logging
configuration lets through is also seen by one LoggingHandler, after the
app's handlers. Apps that configure logging by hand can add LoggingHandler
themselves and pass capture_logging=False.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from .._event import normalize_level
from .._hub import get_client
from .._scope import current_scope, isolated_scope, serves_requests

_OWN_LOGGER = "stackline_sdk"


class LoggingHandler(logging.Handler):
    """Reports records at `event_level` and up; keeps `breadcrumb_level` and up as breadcrumbs.

    A record with exception info is reported as that exception (and its
    message kept as a breadcrumb), one without as a message event.
    """

    def __init__(
        self, event_level: int = logging.ERROR, breadcrumb_level: int | None = logging.INFO
    ) -> None:
        lowest = event_level if breadcrumb_level is None else min(event_level, breadcrumb_level)
        super().__init__(level=lowest)
        self.event_level = event_level
        self.breadcrumb_level = breadcrumb_level

    def emit(self, record: logging.LogRecord) -> None:
        # Never logging.Handler.handleError: it prints to the app's stderr.
        with contextlib.suppress(Exception):
            self._emit(record)

    def _emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if name == _OWN_LOGGER or name.startswith(_OWN_LOGGER + "."):
            return  # the SDK's own warnings would otherwise report themselves
        client = get_client()
        if client is None:
            return
        message = record.getMessage()
        level = normalize_level(record.levelno)
        exc = record.exc_info[1] if record.exc_info else None
        if record.levelno >= self.event_level:
            tags = {"logger": name}
            if exc is not None:
                # The log line is the event's message, with the exception attached.
                client.capture_exception(exc, tags=tags, message=message)
            else:
                client.capture_message(message, level, tags=tags)
        elif self.breadcrumb_level is not None and record.levelno >= self.breadcrumb_level:
            scope = isolated_scope()
            if scope is None:
                keep = client.options.breadcrumbs_outside_requests
                if keep is False or (keep is None and serves_requests()):
                    return  # between requests: an access log's line of another request
                scope = current_scope()
            client.add_breadcrumb(scope, message, name, level)


_handler: LoggingHandler | None = None
_original_call_handlers: Callable[[logging.Logger, logging.LogRecord], None] | None = None


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    assert _original_call_handlers is not None
    try:
        _original_call_handlers(self, record)
    finally:
        handler = _handler
        if handler is not None and record.levelno >= handler.level:
            handler.handle(record)


def install(handler: LoggingHandler | None = None) -> None:
    global _handler, _original_call_handlers
    _handler = handler or LoggingHandler()
    if _original_call_handlers is None:
        _original_call_handlers = logging.Logger.callHandlers
        logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]


def uninstall() -> None:
    global _handler, _original_call_handlers
    if _original_call_handlers is not None and logging.Logger.callHandlers is _call_handlers:
        logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign,assignment]
    _original_call_handlers = None
    _handler = None
