"""POST /api/ingest: events from the SDKs, acknowledged only once committed."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from stackline.ingest.v1 import ingest_pb2

from services.gateway.dependencies import GatewayState, resolve_ingest_key
from services.gateway.errors import describe_validation_error
from services.gateway.metrics import INGEST_EVENTS
from services.gateway.responses import json_response
from services.gateway.schemas.errors import documented_errors
from services.gateway.schemas.ingest import (
    ExceptionIn,
    IngestAccepted,
    IngestBatch,
    IngestBatchAccepted,
    IngestEvent,
)
from stackline_contract.events import MAX_CAUSE_DEPTH
from stackline_infra.errors import InvalidArgument, PermissionDenied

router = APIRouter(tags=["ingest"])


def _exception(source: ExceptionIn, target: ingest_pb2.ExceptionInfo, depth: int = 0) -> None:
    target.type = source.type
    target.message = source.message
    target.stack = source.stack
    if source.cause is not None and depth < MAX_CAUSE_DEPTH:
        _exception(source.cause, target.cause, depth + 1)


def _to_proto(event: IngestEvent, project_id: str, field_prefix: str) -> ingest_pb2.Event:
    if event.exception is None and not event.message:
        raise InvalidArgument(
            "an event needs an exception or a message", field=f"{field_prefix}exception"
        )
    message = ingest_pb2.Event(
        project_id=project_id,
        event_id=str(event.event_id or uuid.uuid4()),
        platform=event.platform,
        message=event.message or "",
        level=event.level or "",
        commit_sha=event.commit_sha or "",
        environment=event.environment or "",
        deploy_root=event.deploy_root or "",
        release=event.release or "",
        tags=event.tags,
        fingerprint=event.fingerprint or "",
    )
    if event.timestamp is not None:
        message.timestamp.FromDatetime(event.timestamp)
    if event.exception is not None:
        _exception(event.exception, message.exception)
    if event.runtime is not None:
        message.runtime.name, message.runtime.version = event.runtime.name, event.runtime.version
    if event.sdk is not None:
        message.sdk.name, message.sdk.version = event.sdk.name, event.sdk.version
    if event.request is not None:
        message.request.method, message.request.url = event.request.method, event.request.url
    message.breadcrumbs.extend(
        ingest_pb2.Breadcrumb(
            timestamp=crumb.timestamp or "",
            category=crumb.category,
            message=crumb.message,
            level=crumb.level,
        )
        for crumb in event.breadcrumbs
    )
    return message


def _looks_like_batch(body: bytes) -> bool:
    # SDKs send `{"events": [...]}` compactly; anything else is tried as one
    # event first, and a wrong guess only costs a second validation.
    return body.lstrip()[:12].replace(b" ", b"").startswith(b'{"events"')


def _validated(body: bytes, project_id: str, as_batch: bool) -> list[ingest_pb2.Event]:
    if as_batch:
        batch = IngestBatch.model_validate_json(body)
        return [_to_proto(e, project_id, f"events[{i}].") for i, e in enumerate(batch.events)]
    return [_to_proto(IngestEvent.model_validate_json(body), project_id, "")]


def _parse(body: bytes, project_id: str) -> tuple[list[ingest_pb2.Event], bool]:
    """The body's events as protos, and whether it was a batch.

    Parsed and validated in one pass by pydantic's own JSON parser, which also
    refuses invalid UTF-8, lone surrogates and absurd nesting.
    """
    as_batch = _looks_like_batch(body)
    try:
        return _validated(body, project_id, as_batch), as_batch
    except ValidationError as exc:
        if _is_not_json(exc):
            raise InvalidArgument(f"body is not valid JSON: {exc.errors()[0]['msg']}") from None
        if not _wrong_shape(exc, as_batch):
            raise describe_validation_error(exc.errors()) from None
    try:
        return _validated(body, project_id, not as_batch), not as_batch
    except ValidationError as exc:
        raise describe_validation_error(exc.errors()) from None


def _is_not_json(exc: ValidationError) -> bool:
    return exc.errors()[0]["type"] == "json_invalid"


def _wrong_shape(exc: ValidationError, tried_batch: bool) -> bool:
    """Whether the errors say the body is the other shape, not a bad instance of this one."""
    locations = {error["loc"][:1] for error in exc.errors()}
    if tried_batch:
        return ("events",) in locations and any(
            e["type"] == "missing" and e["loc"] == ("events",) for e in exc.errors()
        )
    return ("events",) in locations and any(e["type"] == "extra_forbidden" for e in exc.errors())


@router.post(
    "/api/ingest",
    summary="Send one event, or a batch of up to 100",
    responses=documented_errors(400, 401, 403, 413, 429),
    response_model=IngestAccepted | IngestBatchAccepted,
    openapi_extra={
        "security": [{"IngestKey": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/IngestEvent"},
                            {"$ref": "#/components/schemas/IngestBatch"},
                        ]
                    }
                }
            },
        },
    },
)
async def ingest(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    key = await resolve_ingest_key(request, state)
    events, is_batch = _parse(await request.body(), key.project_id)
    await state.limits.ingest(key.key_id, len(events))
    results = await state.batcher.submit(events)
    for index, result in enumerate(results):
        if result.HasField("rejection"):
            INGEST_EVENTS.labels("rejected").inc()
            if result.rejection.code == PermissionDenied.code:
                state.ingest_keys.forget(key)
                raise PermissionDenied(result.rejection.message)
            prefix = f"events[{index}]." if is_batch else ""
            raise InvalidArgument(result.rejection.message, field=prefix + result.rejection.field)
    INGEST_EVENTS.labels("accepted").inc(len(results))
    # Built by hand: this is the hot path, and the shape is the response model's.
    if is_batch:
        return json_response({"ids": [r.event_id for r in results]})
    return json_response({"id": results[0].event_id})
