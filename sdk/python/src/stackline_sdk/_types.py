"""The shapes the SDK sends and hands to hooks: the ingest event, as types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypedDict

Level = Literal["fatal", "error", "warning", "info", "debug"]


class ExceptionData(TypedDict, total=False):
    type: str
    message: str
    # The full text of traceback.format_exception(); the server parses it.
    stack: str
    cause: ExceptionData


class Breadcrumb(TypedDict):
    timestamp: str
    category: str
    message: str
    level: str


class RequestData(TypedDict):
    method: str
    url: str


class NameVersion(TypedDict):
    name: str
    version: str


class Event(TypedDict, total=False):
    event_id: str
    timestamp: str
    platform: str
    exception: ExceptionData
    message: str
    level: str
    commit_sha: str
    environment: str
    deploy_root: str
    release: str
    runtime: NameVersion
    sdk: NameVersion
    request: RequestData
    tags: dict[str, str]
    breadcrumbs: list[Breadcrumb]
    fingerprint: str


class Hint(TypedDict, total=False):
    """What `before_send` gets besides the event: the exception object, when there is one."""

    exception: BaseException


BeforeSend = Callable[[Event, Hint], Event | None]
BeforeBreadcrumb = Callable[[Breadcrumb], Breadcrumb | None]
