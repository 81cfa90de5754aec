"""The module-level API: init() and the calls an app makes, all on the current client.

None of these raise. Before init(), or after an init() that disabled
reporting, they do nothing (and stats() counts what was dropped).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence

from . import _hub
from ._client import Client
from ._integrations import _asyncio, _excepthook, _threading
from ._integrations import _logging as _logging_integration
from ._options import Options, resolve
from ._scope import current_scope
from ._transport import Transport
from ._types import BeforeBreadcrumb, BeforeSend
from ._worker import Stats

logger = logging.getLogger("stackline_sdk")

_atexit_registered = False


def init(
    ingest_key: str | None = None,
    *,
    endpoint: str | None = None,
    environment: str | None = None,
    commit_sha: str | None = None,
    release: str | None = None,
    deploy_root: str | None = None,
    tags: Mapping[str, object] | None = None,
    before_send: BeforeSend | None = None,
    max_breadcrumbs: int = 100,
    max_queue_size: int = 100,
    timeout: float = 5.0,
    shutdown_timeout: float = 2.0,
    transport: Transport | None = None,
    capture_uncaught: bool = True,
    capture_logging: bool = True,
    breadcrumbs_outside_requests: bool | None = None,
    sample_rate: float = 1.0,
    ignore_errors: Sequence[type[BaseException] | str | re.Pattern[str]] = (),
    before_breadcrumb: BeforeBreadcrumb | None = None,
    server_name: str | None = None,
    send_default_pii: bool = False,
    enabled: bool = True,
    debug: bool = False,
) -> Client:
    """Start reporting. Unset arguments come from the environment (STACKLINE_INGEST_KEY,
    STACKLINE_ENDPOINT, the host's commit variables), read here and only here.

    Without a valid key, or without an endpoint (unless `transport` is given), this
    logs one warning and returns a disabled client: the app runs on, unreported.

    Log records become breadcrumbs of the request they were written in. Records
    outside any request are kept on the process scope while the process serves no
    requests through the middleware (a script, a worker); in a web app they are
    dropped unless `breadcrumbs_outside_requests=True`.
    """
    if debug:
        _debug_logging()
    try:
        if not enabled:
            raise _Disabled
        options = resolve(
            os.environ,
            ingest_key=ingest_key,
            endpoint=endpoint,
            has_transport=transport is not None,
            environment=environment,
            commit_sha=commit_sha,
            release=release,
            deploy_root=deploy_root,
            tags=tags,
            before_send=before_send,
            max_breadcrumbs=max_breadcrumbs,
            max_queue_size=max_queue_size,
            timeout=timeout,
            shutdown_timeout=shutdown_timeout,
            breadcrumbs_outside_requests=breadcrumbs_outside_requests,
            caller=_caller_file(),
            sample_rate=sample_rate,
            ignore_errors=ignore_errors,
            before_breadcrumb=before_breadcrumb,
            server_name=server_name,
            send_default_pii=send_default_pii,
        )
        client = Client(options, transport=transport)
    except _Disabled:
        client = Client(Options())
    except Exception:
        logger.warning("stackline_sdk: init failed; error reporting is disabled", exc_info=True)
        client = Client(Options())

    previous = _hub.swap_client(client)
    if previous is not None:
        # Let the old client drain on its own thread: init must not wait on the network.
        previous._close_in_background()
    _install(client.enabled and capture_uncaught, client.enabled and capture_logging)
    _install_threading(client.enabled)
    _register_atexit()
    return client


class _Disabled(Exception):
    """init(enabled=False): a client that drops everything, without a word."""


def _debug_logging() -> None:
    """debug=True: the SDK's own log (what it sends, drops and retries) on stderr."""
    own = logging.getLogger("stackline_sdk")
    own.setLevel(logging.DEBUG)
    if not own.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[stackline] %(levelname)s %(message)s"))
        own.addHandler(handler)


def _caller_file() -> str | None:
    """The file of the code that called init(): under gunicorn or uvicorn, the app's module."""
    try:
        return sys._getframe(2).f_code.co_filename
    except (ValueError, AttributeError):
        return None


def _install(uncaught: bool, logs: bool) -> None:
    try:
        if uncaught:
            _excepthook.install()
            _asyncio.install_asyncio_handler()  # only if init() runs inside a loop
        else:
            _excepthook.uninstall()
        if logs:
            _logging_integration.install()
        else:
            _logging_integration.uninstall()
    except Exception:
        logger.debug("stackline_sdk: installing the integrations failed", exc_info=True)


def _install_threading(enabled: bool) -> None:
    try:
        if enabled:
            _threading.install()
        else:
            _threading.uninstall()
    except Exception:
        logger.debug("stackline_sdk: installing the threading integration failed", exc_info=True)


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True


def _at_exit() -> None:
    client = _hub.get_client()
    if client is not None:
        client.close()


def capture_exception(
    error: object = None,
    *,
    tags: Mapping[str, object] | None = None,
    fingerprint: str | None = None,
) -> str | None:
    """Report `error` (an exception or exc_info tuple; by default the one being
    handled). Returns the event id, or None when nothing was queued."""
    client = _hub.get_client()
    if client is None:
        return None
    return client.capture_exception(error, tags=tags, fingerprint=fingerprint)


def capture_message(
    message: object,
    level: str = "info",
    *,
    tags: Mapping[str, object] | None = None,
    fingerprint: str | None = None,
) -> str | None:
    """Report a message at `level` (fatal, error, warning, info, debug)."""
    client = _hub.get_client()
    if client is None:
        return None
    return client.capture_message(message, level, tags=tags, fingerprint=fingerprint)


def set_tag(key: str, value: object) -> None:
    """Tag the events of the current scope: the request's, or the process's outside one."""
    try:
        current_scope().set_tag(key, value)
    except Exception:
        logger.debug("stackline_sdk: set_tag failed", exc_info=True)


def set_tags(tags: Mapping[str, object]) -> None:
    try:
        current_scope().set_tags(tags)
    except Exception:
        logger.debug("stackline_sdk: set_tags failed", exc_info=True)


def add_breadcrumb(message: str, *, category: str = "default", level: str = "info") -> None:
    """Record something that happened; the last 100 go with the next event of this scope."""
    try:
        client = _hub.get_client()
        if client is None:
            current_scope().add_breadcrumb(message, category, level)
        else:
            client.add_breadcrumb(current_scope(), message, category, level)
    except Exception:
        logger.debug("stackline_sdk: add_breadcrumb failed", exc_info=True)


def set_user(user: Mapping[str, object] | None) -> None:
    """The user the current request serves: `user.id` on its events; `email`, `ip_address`
    and `username` only with init(send_default_pii=True). None forgets it."""
    try:
        client = _hub.get_client()
        pii = client is not None and client.options.send_default_pii
        keys = ("id", "email", "ip_address", "username") if pii else ("id",)
        values = {k: v for k, v in (user or {}).items() if k in keys and v not in (None, "")}
        current_scope().set_data("user", values or None)
    except Exception:
        logger.debug("stackline_sdk: set_user failed", exc_info=True)


def set_context(name: str, context: Mapping[str, object] | None) -> None:
    """Named data on the current scope's events, sent as tags `name.key`. None forgets it."""
    try:
        current_scope().set_data(str(name), dict(context) if context else None)
    except Exception:
        logger.debug("stackline_sdk: set_context failed", exc_info=True)


def set_extra(key: str, value: object) -> None:
    """One value on the current scope's events, sent as the tag `extra.key`."""
    try:
        scope = current_scope()
        extra: dict[str, object] = {
            k[len("extra.") :]: v for k, v in scope.data.items() if k.startswith("extra.")
        }
        extra[str(key)] = value
        scope.set_data("extra", extra)
    except Exception:
        logger.debug("stackline_sdk: set_extra failed", exc_info=True)


def flush(timeout: float | None = None) -> bool:
    """Wait up to `timeout` seconds (default: shutdown_timeout) for queued events to be sent."""
    client = _hub.get_client()
    return True if client is None else client.flush(timeout)


def close(timeout: float | None = None) -> None:
    """Flush, then stop reporting. Runs by itself at interpreter exit."""
    client = _hub.get_client()
    if client is not None:
        client.close(timeout)


def stats() -> Stats:
    """Counts of events sent, failed, dropped and still queued."""
    client = _hub.get_client()
    return Stats() if client is None else client.stats()
