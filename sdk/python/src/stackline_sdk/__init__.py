"""Stackline's Python SDK: reports errors, with the deployed commit, to Stackline.

    import stackline_sdk
    stackline_sdk.init(ingest_key="slk_...")

Everything public is here; the modules beneath are private.
"""

from ._api import (
    add_breadcrumb,
    capture_exception,
    capture_message,
    close,
    flush,
    init,
    set_context,
    set_extra,
    set_tag,
    set_tags,
    set_user,
    stats,
)
from ._client import Client
from ._integrations._asgi import StacklineASGIMiddleware
from ._integrations._asyncio import install_asyncio_handler
from ._integrations._logging import LoggingHandler
from ._integrations._wsgi import StacklineWSGIMiddleware
from ._scope import isolation_scope
from ._transport import HTTPTransport, MockTransport, Request, Response, Transport, TransportError
from ._types import BeforeSend, Breadcrumb, Event, ExceptionData, Hint, Level, RequestData
from ._version import VERSION as __version__
from ._worker import Stats

__all__ = [
    "BeforeSend",
    "Breadcrumb",
    "Client",
    "Event",
    "ExceptionData",
    "HTTPTransport",
    "Hint",
    "Level",
    "LoggingHandler",
    "MockTransport",
    "Request",
    "RequestData",
    "Response",
    "StacklineASGIMiddleware",
    "StacklineWSGIMiddleware",
    "Stats",
    "Transport",
    "TransportError",
    "__version__",
    "add_breadcrumb",
    "capture_exception",
    "capture_message",
    "close",
    "flush",
    "init",
    "install_asyncio_handler",
    "isolation_scope",
    "set_context",
    "set_extra",
    "set_tag",
    "set_tags",
    "set_user",
    "stats",
]
