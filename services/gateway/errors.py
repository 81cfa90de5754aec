"""Every error the gateway answers, in one JSON shape: {"error": {"code", "message", "field"}}.

Expected failures arrive as StacklineError (raised here or mapped from a
service's gRPC status); anything else is a bug, logged, and answered with a
generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import grpc
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from services.gateway.responses import json_response
from services.gateway.schemas.errors import ErrorBody, ErrorResponse
from stackline_contract import github, text
from stackline_infra.errors import (
    InvalidArgument,
    NotFound,
    StacklineError,
    Unauthenticated,
    from_rpc_error,
)

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def _render(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, field=field))
    return json_response(body.model_dump(), status_code=status, headers=headers)


def error_response(error: StacklineError) -> Response:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return _render(error.http_status, error.code, error.message, error.field, headers)


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("body", "events", 3, "platform")` → `events[3].platform`."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part not in ("body", "query", "path", "header"):
            parts.append(f".{part}" if parts else part)
    return "".join(parts)


# The rule each shared pattern states, in words: the printable-text patterns are classes of
# hundreds of ranges, which would make an error message unreadable.
_PATTERN_RULES = {
    text.NAME_PATTERN: "must be printable characters, not only spaces",
    text.PRINTABLE_PATTERN: "must be printable characters (no control characters or line breaks)",
    text.REPOSITORY_FOLDER_PATTERN: (
        "must be a folder of the repository: relative, printable, no backslash, no .. segment"
    ),
    github.REPO_PATTERN: f"must be {github.REPO_RULE}",
    github.LOGIN_PATTERN: "must be a GitHub login",
}
_LONGEST_PATTERN_SHOWN = 80


def _pattern_rule(pattern: object) -> str:
    if isinstance(pattern, str):
        if pattern in _PATTERN_RULES:
            return _PATTERN_RULES[pattern]
        if len(pattern) <= _LONGEST_PATTERN_SHOWN:
            return f"must match {pattern}"
    return "is not in the form the API's schema gives"


def describe_validation_error(errors: list[Any]) -> InvalidArgument:
    first = errors[0]
    field = field_path(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        message = f"unknown field {field}"
    elif kind == "missing":
        message = f"{field} is required"
    elif kind == "string_pattern_mismatch":
        rule = _pattern_rule(first.get("ctx", {}).get("pattern"))
        message = f"{field} {rule}" if field else rule
    else:
        message = (
            f"{field}: {first.get('msg', 'invalid')}" if field else first.get("msg", "invalid")
        )
    return InvalidArgument(message, field=field or None)


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class AllowedMethods:
    """Every method an app's OpenAPI document has for a path, over all the routes that share it.

    Starlette answers a method no route of a path takes with the first matching route's methods
    in `Allow`, or none: routes that share a path (GET and PATCH of a project) are separate
    routes. RFC 9110 wants the resource's methods; the document lists them per path, as clients
    see them. Read once, at the first 405.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._paths: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def of(self, path: str) -> str | None:
        """`Allow` for a path, or None where the document has no such path."""
        if self._paths is None:
            self._paths = [
                (compile_path(template)[0], frozenset(m.upper() for m in item if m in _METHODS))
                for template, item in self._app.openapi()["paths"].items()
            ]
        methods = {m for pattern, allowed in self._paths if pattern.match(path) for m in allowed}
        return ", ".join(sorted(methods)) if methods else None


async def respond_to_error(request: Request, exc: Exception) -> Response:
    """The answer to an exception a route raised: its own status for expected
    failures, a logged, generic 500 for anything else."""
    if isinstance(exc, StacklineError):
        if exc.http_status >= 500:
            log.warning("answering %d: %s", exc.http_status, exc.message)
        return error_response(exc)
    if isinstance(exc, grpc.aio.AioRpcError):
        error = from_rpc_error(exc)
        if error.http_status >= 500:
            log.warning("service call failed: %s %s", exc.code().name, exc.details())
        return error_response(error)
    if isinstance(exc, RequestValidationError):
        return error_response(describe_validation_error(list(exc.errors())))
    if isinstance(exc, HTTPException):
        return _http_error(request, exc)
    return _unexpected(request, exc)


def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        return error_response(NotFound("no such endpoint"))
    if exc.status_code != 405:
        return _render(
            exc.status_code,
            _HTTP_CODES.get(exc.status_code, "error"),
            str(exc.detail),
            headers=exc.headers,
        )
    allowed: AllowedMethods = request.app.state.allowed_methods
    # Routes left out of the document (/docs, /openapi.json) keep Starlette's own methods, in the
    # same order (Starlette's come from a set).
    starlette = (exc.headers or {}).get("Allow", "")
    allow = allowed.of(request.url.path) or ", ".join(sorted(filter(None, starlette.split(", "))))
    return _render(
        405,
        _HTTP_CODES[405],
        f"{request.method} is not allowed here" + (f"; use {allow}" if allow else ""),
        headers={"Allow": allow} if allow else None,
    )


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ClientDisconnect):
        # The client went away mid-body (or was closed for sending too slowly): nobody is left
        # to answer, and nothing failed here. One line, not a traceback.
        log.info("client went away during %s %s", request.method, request.url.path)
        return Response(status_code=499)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(StacklineError("internal error"))


def install_error_handlers(app: FastAPI) -> None:
    app.state.allowed_methods = AllowedMethods(app)
    for kind in (StacklineError, grpc.aio.AioRpcError, RequestValidationError, HTTPException):
        app.add_exception_handler(kind, respond_to_error)
    # Starlette hands this one to its outermost layer: whatever nothing else caught.
    app.add_exception_handler(Exception, respond_to_error)
