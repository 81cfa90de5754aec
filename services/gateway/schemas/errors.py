"""The error body every failed request gets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    # Stable and machine-readable: "invalid_argument", "unauthenticated", "not_found", ...
    code: str
    message: str
    # The request field at fault, as `events[3].platform`, when there is one.
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


_DESCRIPTIONS = {
    400: "Invalid request; `field` names what is wrong.",
    401: "Missing, malformed, expired or unknown credential.",
    403: "The credential is valid but revoked, or the request was refused.",
    404: "No such resource, or not yours.",
    409: "Conflicts with an existing resource.",
    413: "Request body over its limit (1 MiB; source maps 50 MiB, and their parse budget).",
    429: "Rate limited (per ingest key, per user, or bad credentials from one address);"
    " retry after `Retry-After` seconds.",
    500: "Internal error.",
    503: "A service or the database is unreachable; retry after `Retry-After` seconds.",
}


# What any operation can answer, whatever it does: a body over the limit (BodyLimitMiddleware
# counts every request's), a rate limit, a bug, a service down.
ALWAYS = (413, 429, 500, 503)
# What any operation that takes an access token can answer besides: a missing or bad token, and
# 404 for a token whose account has since been deleted (its user is "no such user").
WITH_ACCESS_TOKEN = (401, 404)
_DELETED_ACCOUNT = " Also the answer to a valid access token whose account has been deleted."


def documented_errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for the error statuses a route can answer; ALWAYS's too."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in sorted({*statuses, *ALWAYS})
    }


def document_common_errors(operation: dict[str, Any], *, access_token: bool) -> None:
    """Adds to an operation of the OpenAPI document the statuses every operation can answer (and
    every operation that takes an access token), so that no route lists them by hand."""
    responses = operation.setdefault("responses", {})
    for status in (*ALWAYS, *(WITH_ACCESS_TOKEN if access_token else ())):
        entry = responses.setdefault(
            str(status),
            {
                "description": _DESCRIPTIONS[status],
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                },
            },
        )
        if access_token and status == 404 and _DELETED_ACCOUNT not in entry["description"]:
            entry["description"] += _DELETED_ACCOUNT
