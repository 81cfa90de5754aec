"""Uncaught exceptions: sys.excepthook for the main thread, threading.excepthook for the others.

Each hook reports, then calls the hook it replaced, so the traceback still
reaches stderr and any hook installed before ours still runs.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from types import TracebackType
from typing import Any

from .._hub import get_client

_previous_sys: Any = None
_previous_threading: Any = None


def _report(exc: BaseException | None) -> None:
    client = get_client()
    # Ctrl-C is the user's wish, not a bug. SystemExit never reaches these hooks.
    if client is not None and exc is not None and not isinstance(exc, KeyboardInterrupt):
        client.capture_exception(exc)


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    with contextlib.suppress(Exception):
        _report(exc)
    (_previous_sys or sys.__excepthook__)(exc_type, exc, tb)


def _threading_hook(args: threading.ExceptHookArgs) -> None:
    with contextlib.suppress(Exception):
        _report(args.exc_value)
    (_previous_threading or threading.__excepthook__)(args)


def install() -> None:
    global _previous_sys, _previous_threading
    if sys.excepthook is not _sys_hook:
        _previous_sys = sys.excepthook
        sys.excepthook = _sys_hook
    if threading.excepthook is not _threading_hook:
        _previous_threading = threading.excepthook
        threading.excepthook = _threading_hook


def uninstall() -> None:
    global _previous_sys, _previous_threading
    if sys.excepthook is _sys_hook:
        sys.excepthook = _previous_sys or sys.__excepthook__
    if threading.excepthook is _threading_hook:
        threading.excepthook = _previous_threading or threading.__excepthook__
    _previous_sys = _previous_threading = None
