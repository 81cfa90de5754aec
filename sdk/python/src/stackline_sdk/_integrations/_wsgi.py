"""WSGI middleware (Flask, Django, any WSGI app): request errors are reported, then re-raised.

Errors raised while the app is called and while its response is iterated
(streaming responses) are both seen, inside the request's own scope.

Flask and Django turn a view's exception into a 500 response themselves, so
the exception never reaches a WSGI middleware; they log it instead (Flask's
app logger, Django's `django.request`), and the logging integration reports
it with this middleware's request data attached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

from .._event import MAX_METHOD, MAX_URL, truncate
from .._hub import get_client
from .._scope import Scope, current_scope, note_serves_requests, use_scope
from .._scrub import scrub_query
from .._types import RequestData

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def request_data(environ: Environ) -> RequestData:
    scheme = environ.get("wsgi.url_scheme") or "http"
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME") or ""
        port = str(environ.get("SERVER_PORT") or "")
        if port and port != {"http": "80", "https": "443"}.get(scheme):
            host = f"{host}:{port}"
    # PEP 3333 strings are bytes decoded as latin-1: encode back before quoting.
    path = str(environ.get("SCRIPT_NAME") or "") + str(environ.get("PATH_INFO") or "")
    path = quote(path.encode("latin-1", "replace"))
    url = f"{scheme}://{host}{path}"
    query = environ.get("QUERY_STRING")
    if query:
        url += "?" + scrub_query(str(query))
    method = truncate(str(environ.get("REQUEST_METHOD") or "GET"), MAX_METHOD)
    return {"method": method, "url": truncate(url, MAX_URL)}


def _report(exc: BaseException) -> None:
    client = get_client()
    if client is not None:
        client.capture_exception(exc)


class StacklineWSGIMiddleware:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        note_serves_requests()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        scope = current_scope().for_request()
        with contextlib.suppress(Exception):  # a malformed environ is the server's problem
            scope.request = request_data(environ)
        with use_scope(scope):
            try:
                result = self.app(environ, start_response)
            except Exception as exc:
                _report(exc)
                raise
        return _ScopedResponse(result, scope)


class _ScopedResponse:
    """The app's response iterable, iterated and closed inside the request's scope."""

    def __init__(self, result: Iterable[bytes], scope: Scope) -> None:
        self._result = result
        self._scope = scope
        self._iterator: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with use_scope(self._scope):
            try:
                if self._iterator is None:
                    self._iterator = iter(self._result)
                return next(self._iterator)
            except StopIteration:
                raise
            except Exception as exc:
                _report(exc)
                raise

    def close(self) -> None:
        # PEP 3333: the server calls close() if the iterable has one; pass it on.
        close = getattr(self._result, "close", None)
        if close is None:
            return
        with use_scope(self._scope):
            try:
                close()
            except Exception as exc:
                _report(exc)
                raise
