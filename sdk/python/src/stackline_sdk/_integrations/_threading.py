"""Threads a request starts carry its scope: their breadcrumbs and errors are the request's.

Context variables do not cross into a new thread by themselves. Thread.start is
wrapped (as sentry-python's threading integration does) so that a thread
started inside a request or job runs in that scope; ThreadPoolExecutor.submit
likewise runs each task in the scope of its submitter. The executor's own
worker threads are left alone: they outlive the request that happened to start
them and serve others after it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import thread as futures_thread
from typing import Any

from .._scope import isolated_scope, use_scope

_original_start: Callable[[threading.Thread], None] | None = None
_original_submit: Callable[..., Any] | None = None


def _in_scope(fn: Callable[..., Any]) -> Callable[..., Any]:
    scope = isolated_scope()
    if scope is None:
        return fn

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with use_scope(scope):
            return fn(*args, **kwargs)

    return run


def _start(self: threading.Thread) -> None:
    assert _original_start is not None
    if getattr(self, "_target", None) is not futures_thread._worker:
        self.run = _in_scope(self.run)  # type: ignore[method-assign]
    _original_start(self)


def _submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    assert _original_submit is not None
    return _original_submit(self, _in_scope(fn), *args, **kwargs)


def install() -> None:
    global _original_start, _original_submit
    if _original_start is None:
        _original_start = threading.Thread.start
        threading.Thread.start = _start  # type: ignore[method-assign]
    if _original_submit is None:
        _original_submit = futures_thread.ThreadPoolExecutor.submit
        futures_thread.ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]


def uninstall() -> None:
    global _original_start, _original_submit
    if _original_start is not None and threading.Thread.start is _start:
        threading.Thread.start = _original_start  # type: ignore[method-assign,assignment]
    _original_start = None
    if _original_submit is not None and futures_thread.ThreadPoolExecutor.submit is _submit:
        futures_thread.ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
    _original_submit = None
