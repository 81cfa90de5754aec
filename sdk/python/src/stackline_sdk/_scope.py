"""Tags, breadcrumbs and the current request: process-wide, or per request when isolated.

A request handled by the ASGI or WSGI middleware runs in a scope of its own (a
context variable, carried into the threads the request starts): it starts with
the process's tags and no breadcrumbs, so one request's tags and breadcrumbs,
and what the process logged between requests (access-log lines of other
requests), never show up on another request's events. Outside a request the
process scope applies.

There is no lock: the operations used (dict item assignment, dict and deque
copies, deque append) are atomic on CPython, and a lock here would have to be
re-made in a forked child.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ._event import (
    MAX_BREADCRUMBS,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    breadcrumb,
    clean,
    clean_tags,
)
from ._scrub import scrub_text
from ._types import Breadcrumb, RequestData


class Scope:
    __slots__ = ("breadcrumbs", "data", "request", "tags")

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        # set_user, set_context and set_extra, flattened to tags (`user.id`, `cart.items`).
        self.data: dict[str, str] = {}
        self.breadcrumbs: deque[Breadcrumb] = deque(maxlen=MAX_BREADCRUMBS)
        self.request: RequestData | None = None

    def fork(self) -> Scope:
        child = Scope()
        child.tags = dict(self.tags)
        child.data = dict(self.data)
        child.breadcrumbs = deque(self.breadcrumbs, maxlen=MAX_BREADCRUMBS)
        child.request = self.request
        return child

    def for_request(self) -> Scope:
        """A request's scope: this scope's tags, and breadcrumbs of its own only."""
        child = Scope()
        child.tags = dict(self.tags)
        child.data = dict(self.data)
        return child

    def set_tag(self, key: object, value: object) -> None:
        name = clean(key, MAX_TAG_KEY)
        if not name:
            return
        # A bounded number of keys; an existing key can always change.
        if name in self.tags or len(self.tags) < MAX_TAGS:
            self.tags[name] = clean(value, MAX_TAG_VALUE)

    def set_tags(self, tags: object) -> None:
        for key, value in clean_tags(tags).items():
            self.set_tag(key, value)

    def add_breadcrumb(self, message: object, category: object, level: object) -> None:
        self.breadcrumbs.append(breadcrumb(message, category, level))

    def set_data(self, prefix: str, values: dict[str, object] | None) -> None:
        """Replace every `prefix.*` entry with `values` (None forgets them)."""
        data = {k: v for k, v in self.data.items() if not k.startswith(prefix + ".")}
        for key, value in (values or {}).items():
            if value is not None and len(data) < MAX_TAGS:
                text = scrub_text(clean(value, MAX_TAG_VALUE))
                data[clean(f"{prefix}.{key}", MAX_TAG_KEY)] = clean(text, MAX_TAG_VALUE)
        self.data = data


_process_scope = Scope()
_isolated: ContextVar[Scope | None] = ContextVar("stackline_scope", default=None)


# Whether this process serves requests through the middleware: from then on, log
# records outside any request (a server's access log, between requests) are not
# kept as process breadcrumbs unless init(breadcrumbs_outside_requests=True).
_serves_requests = False


def current_scope() -> Scope:
    scope = _isolated.get()
    return _process_scope if scope is None else scope


def isolated_scope() -> Scope | None:
    """The scope of the request or job running now; None outside any."""
    return _isolated.get()


def note_serves_requests() -> None:
    global _serves_requests
    _serves_requests = True


def serves_requests() -> bool:
    return _serves_requests


@contextmanager
def request_scope() -> Iterator[Scope]:
    """Run a request with its own scope (see the module's docstring)."""
    with use_scope(current_scope().for_request()) as scope:
        yield scope


@contextmanager
def use_scope(scope: Scope) -> Iterator[Scope]:
    token = _isolated.set(scope)
    try:
        yield scope
    finally:
        _isolated.reset(token)


@contextmanager
def isolation_scope() -> Iterator[Scope]:
    """Run a block (a request, a job) with its own copy of the current tags and breadcrumbs."""
    with use_scope(current_scope().fork()) as scope:
        yield scope


def reset_process_scope() -> None:
    global _process_scope, _serves_requests
    _process_scope = Scope()
    _serves_requests = False
