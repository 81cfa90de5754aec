"""The error body every failed request gets."""

from __future__ import annotations

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
    403: "The credential is valid but revoked.",
    404: "No such resource, or not yours.",
    409: "Conflicts with an existing resource.",
    413: "Request body over 1 MiB.",
    429: "Rate limited (per ingest key, per user, or bad credentials from one address);"
    " retry after `Retry-After` seconds.",
    500: "Internal error.",
    503: "A service or the database is unreachable; retry after `Retry-After` seconds.",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for the error statuses a route can answer; 429, 500 and 503 always."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in sorted({*statuses, 429, 500, 503})
    }
