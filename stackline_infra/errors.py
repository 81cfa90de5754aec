"""The one error hierarchy: each expected failure carries its gRPC code and HTTP status.

Services raise these; the gRPC server interceptor turns them into statuses
(stackline_infra.grpc_server) and the gateway turns statuses back into HTTP
answers (from_rpc_error). Anything else is a bug: it is logged and surfaces as
INTERNAL / 500 with a generic message.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

# Trailing metadata that carries the parts of an error a status code cannot.
CODE_KEY = "stackline-error-code"
FIELD_KEY = "stackline-error-field"
RETRY_AFTER_KEY = "stackline-retry-after"


class StacklineError(Exception):
    code = "internal"
    grpc_status = grpc.StatusCode.INTERNAL
    http_status = 500

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs = [(CODE_KEY, self.code)]
        if self.field:
            pairs.append((FIELD_KEY, self.field))
        if self.retry_after is not None:
            pairs.append((RETRY_AFTER_KEY, str(self.retry_after)))
        return tuple(pairs)


class InvalidArgument(StacklineError):
    code = "invalid_argument"
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class Unauthenticated(StacklineError):
    code = "unauthenticated"
    grpc_status = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDenied(StacklineError):
    code = "forbidden"
    grpc_status = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class NotFound(StacklineError):
    code = "not_found"
    grpc_status = grpc.StatusCode.NOT_FOUND
    http_status = 404


class Conflict(StacklineError):
    code = "conflict"
    grpc_status = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409


class FailedPrecondition(StacklineError):
    code = "failed_precondition"
    grpc_status = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 400


class AuthorizationPending(FailedPrecondition):
    """A device sign-in the user has not answered yet (RFC 8628)."""

    code = "authorization_pending"


class SlowDown(FailedPrecondition):
    """A device sign-in polled too often (RFC 8628)."""

    code = "slow_down"


class ExpiredToken(InvalidArgument):
    code = "expired_token"


class AccessDenied(PermissionDenied):
    code = "access_denied"


class PayloadTooLarge(StacklineError):
    code = "payload_too_large"
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 413


class RateLimited(StacklineError):
    code = "rate_limited"
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


class Unavailable(StacklineError):
    code = "unavailable"
    grpc_status = grpc.StatusCode.UNAVAILABLE
    http_status = 503


def _subclasses(cls: type[StacklineError]) -> Iterable[type[StacklineError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


_BY_CODE: dict[str, type[StacklineError]] = {cls.code: cls for cls in _subclasses(StacklineError)}
_BY_STATUS: dict[grpc.StatusCode, type[StacklineError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    # A service that did not answer in time is, to the caller, unavailable.
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
}

# Seconds a client should wait before retrying a 503 when the service gave no figure.
DEFAULT_RETRY_AFTER = 5


def from_rpc_error(error: grpc.aio.AioRpcError) -> StacklineError:
    """The StacklineError a failed call stands for; INTERNAL for anything unexpected."""
    trailing = dict(error.trailing_metadata() or ())
    code = trailing.get(CODE_KEY)
    cls = _BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None:
        cls = _BY_STATUS.get(error.code(), StacklineError)
    if cls is StacklineError:
        # Never pass an internal failure's text on to a client.
        return StacklineError("internal error")
    field = trailing.get(FIELD_KEY)
    retry_after: int | None = None
    raw_retry_after = trailing.get(RETRY_AFTER_KEY)
    if isinstance(raw_retry_after, str) and raw_retry_after.isdigit():
        retry_after = int(raw_retry_after)
    elif cls is Unavailable:
        retry_after = DEFAULT_RETRY_AFTER
    return cls(
        error.details() or cls.code,
        field=field if isinstance(field, str) else None,
        retry_after=retry_after,
    )
