"""asyncio: exceptions that reach the event loop's exception handler (a task's
exception never retrieved, a failing callback) are reported, then passed on.

An event loop exists only once the app runs one, so init() installs this when
called inside a running loop; otherwise call install_asyncio_handler() from
the app's startup code (a FastAPI lifespan, the top of main()).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .._hub import get_client

logger = logging.getLogger("stackline_sdk")

_Handler = Any  # asyncio's own alias is private


def install_asyncio_handler(loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """Report exceptions from `loop` (the running loop by default). False when there is no loop."""
    try:
        if loop is None:
            loop = asyncio.get_running_loop()
        previous: _Handler = loop.get_exception_handler()
        if getattr(previous, "_stackline", False):
            return True

        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            with contextlib.suppress(Exception):
                exc = context.get("exception")
                client = get_client()
                if client is not None and isinstance(exc, Exception):
                    client.capture_exception(exc)
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        handler._stackline = True  # type: ignore[attr-defined]
        loop.set_exception_handler(handler)
        return True
    except RuntimeError:
        logger.debug("stackline_sdk: no running event loop; asyncio handler not installed")
        return False
    except Exception:
        logger.debug("stackline_sdk: installing the asyncio handler failed", exc_info=True)
        return False
