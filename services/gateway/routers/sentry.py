"""Sentry's ingest routes: apps instrumented with a Sentry SDK report here with their DSN changed.

`POST /api/<project>/envelope/` and the older `POST /api/<project>/store/`. Events go the way
of `POST /api/ingest` (same key cache, limits, batcher, answered after commit); every other
item is acknowledged and dropped, so that SDKs neither retry it nor log an error.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter as Tally
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from prometheus_client import Counter
from stackline.ingest.v1 import ingest_pb2

from services.gateway.credentials import ResolvedKey
from services.gateway.dependencies import GatewayState, client_ip
from services.gateway.errors import error_response
from services.gateway.metrics import INGEST_EVENTS
from services.gateway.responses import json_response
from services.gateway.schemas.errors import documented_errors
from services.gateway.sentry_envelope import (
    Envelope,
    auth_header_key,
    decompressed,
    dsn,
    json_object,
    parse_dsn,
    parse_envelope,
    project_number,
)
from services.gateway.sentry_events import UnsupportedPlatform, to_ingest_event
from stackline_infra.errors import (
    InvalidArgument,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["sentry"])

ENVELOPE_PATH = "/api/{project_id}/envelope/"
STORE_PATH = "/api/{project_id}/store/"

ProjectInPath = Annotated[
    str, Path(description="The project's number, as its DSN ends, or the project's id.")
]

# The item types Sentry's protocol names; anything else is counted as "other", so that a
# client cannot create metric series at will.
_KNOWN_TYPES = frozenset(
    {
        "event",
        "transaction",
        "span",
        "session",
        "sessions",
        "client_report",
        "attachment",
        "profile",
        "profile_chunk",
        "replay_event",
        "replay_recording",
        "replay_video",
        "check_in",
        "statsd",
        "metric_meta",
        "user_report",
        "feedback",
        "log",
        "otel_log",
        "trace_metric",
        "security",
    }
)
# One envelope carries one event in Sentry's protocol; a few more are read, no more.
_MAX_EVENTS = 100

SENTRY_ITEMS = Counter(
    "stackline_gateway_sentry_items_total",
    "Items of Sentry envelopes and store requests, by item type and outcome (stored, dropped, "
    "rejected, rate_limited).",
    ["type", "outcome"],
)


def sentry_dsn(request: Request, public_key: str, project_id: str) -> str:
    """The DSN of a key's public part, at the gateway's public address."""
    state: GatewayState = request.app.state.gateway
    return dsn(public_key, project_id, state.settings.public_url or str(request.base_url))


def _credential(request: Request, envelope: Envelope | None) -> str:
    """The key, from X-Sentry-Auth, the `sentry_key` query parameter, or the envelope's DSN."""
    header = request.headers.get("x-sentry-auth") or request.headers.get("authorization", "")
    key = auth_header_key(header) if header else None
    if key:
        return key
    key = request.query_params.get("sentry_key")
    if key:
        return key
    if envelope is not None:
        dsn = envelope.headers.get("dsn")
        parts = parse_dsn(dsn) if isinstance(dsn, str) else None
        if parts is not None:
            return parts.public_key
    return ""


async def _resolve(request: Request, state: GatewayState, key: str) -> ResolvedKey:
    address = client_ip(request, state.settings.trusted_proxy_hops)
    try:
        if not key:
            raise Unauthenticated(
                "missing credentials: send X-Sentry-Auth, ?sentry_key= or a DSN in the envelope"
            )
        # A DSN names a key's public part (slp_), or, in DSNs handed out before keys had
        # one, the ingest key itself (slk_): both keep working.
        return await state.ingest_keys.resolve(key.strip(), public=True)
    except (Unauthenticated, PermissionDenied) as exc:
        # Why, never the key itself.
        log.info("refused a Sentry key from %s: %s", address, exc.message)
        await state.limits.count_failure(address)
        raise


def _check_project(project: str, key: ResolvedKey) -> None:
    if project not in (project_number(key.project_id), key.project_id):
        raise PermissionDenied("this key belongs to another project than the one in the path")


def _envelope_event_id(envelope: Envelope) -> str | None:
    value = envelope.headers.get("event_id")
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _item_type(kind: str) -> str:
    return kind if kind in _KNOWN_TYPES else "other"


def _event(payload: dict[str, Any], key: ResolvedKey, event_id: str | None) -> ingest_pb2.Event:
    try:
        return to_ingest_event(payload, key.project_id, event_id)
    except InvalidArgument:
        SENTRY_ITEMS.labels("event", "rejected").inc()
        raise


async def _store(state: GatewayState, key: ResolvedKey, events: list[ingest_pb2.Event]) -> None:
    try:
        await state.limits.ingest(key.key_id, len(events))
    except RateLimited:
        SENTRY_ITEMS.labels("event", "rate_limited").inc(len(events))
        raise
    results = await state.batcher.submit(events)
    for result in results:
        if result.HasField("rejection"):
            INGEST_EVENTS.labels("rejected").inc()
            SENTRY_ITEMS.labels("event", "rejected").inc()
            if result.rejection.code == PermissionDenied.code:
                state.ingest_keys.forget(key)
                raise PermissionDenied(result.rejection.message)
            raise InvalidArgument(result.rejection.message, field=result.rejection.field)
    INGEST_EVENTS.labels("accepted").inc(len(results))
    SENTRY_ITEMS.labels("event", "stored").inc(len(results))


def _rate_limited(exc: RateLimited) -> Response:
    """429 as Sentry's own server answers it: `X-Sentry-Rate-Limits: seconds::key` (every
    category, for this key) beside Retry-After, which is what the SDKs back off by."""
    response = error_response(exc)
    response.headers["X-Sentry-Rate-Limits"] = f"{exc.retry_after or 60}::key"
    return response


async def _body(request: Request, state: GatewayState) -> bytes:
    return decompressed(
        await request.body(),
        request.headers.get("content-encoding", ""),
        state.settings.max_body_bytes,
    )


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Stored (events) or acknowledged and dropped (every other item)",
        "content": {"application/json": {"example": {"id": "fc6d8c0c43fc4630ad850ee518f1b9d0"}}},
    },
    **documented_errors(400, 401, 403, 404, 413, 429),
}


@router.post(
    ENVELOPE_PATH,
    summary="Sentry SDKs' envelope endpoint: events are stored, other items dropped",
    responses=_RESPONSES,
    openapi_extra={
        "security": [{"SentryKey": []}, {"SentryKeyQuery": []}],
        "requestBody": {
            "required": True,
            "content": {"application/x-sentry-envelope": {"schema": {"type": "string"}}},
        },
    },
)
async def envelope(project_id: ProjectInPath, request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    try:
        key_text = _credential(request, None)
        key = await _resolve(request, state, key_text) if key_text else None
        try:
            parsed = parse_envelope(await _body(request, state))
        except InvalidArgument:
            if key is None:  # no credential anywhere: nothing to say to a stranger but that
                await _resolve(request, state, "")
            raise
        if key is None:
            key = await _resolve(request, state, _credential(request, parsed))
        _check_project(project_id, key)
        event_id = _envelope_event_id(parsed)
        events: list[ingest_pb2.Event] = []
        dropped: Tally[str] = Tally()
        for index, item in enumerate(parsed.items):
            if item.type != "event" or len(events) == _MAX_EVENTS:
                dropped[_item_type(item.type)] += 1
                continue
            payload = json_object(item.payload, f"item {index + 1} (event)")
            try:
                # The envelope's id is its one event's; a second event makes its own.
                events.append(_event(payload, key, None if events else event_id))
            except UnsupportedPlatform:
                dropped["event"] += 1
        for kind, count in dropped.items():
            SENTRY_ITEMS.labels(kind, "dropped").inc(count)
        if events:
            await _store(state, key, events)
            return json_response({"id": uuid.UUID(events[0].event_id).hex})
        return json_response({"id": uuid.UUID(event_id).hex} if event_id else {})
    except RateLimited as exc:
        return _rate_limited(exc)


@router.post(
    STORE_PATH,
    summary="Sentry's older store endpoint: one event as JSON",
    responses=_RESPONSES,
    openapi_extra={
        "security": [{"SentryKey": []}, {"SentryKeyQuery": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def store(project_id: ProjectInPath, request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    try:
        key = await _resolve(request, state, _credential(request, None))
        _check_project(project_id, key)
        payload = json_object(await _body(request, state), "the event")
        try:
            event = _event(payload, key, None)
        except UnsupportedPlatform:
            SENTRY_ITEMS.labels("event", "dropped").inc()
            return json_response({})
        await _store(state, key, [event])
        return json_response({"id": uuid.UUID(event.event_id).hex})
    except RateLimited as exc:
        return _rate_limited(exc)
