"""What the ingest API accepts, restated as plain assertions.

Mirrors services/gateway/schemas/ingest.py and docs/api.md (the limits that
refuse with 400 or 413), so that the SDK's tests stay standalone: they need
neither the gateway's code nor its dependencies. tests/e2e/test_sdks.py sends
the same kind of maximal event to the real gateway, which keeps this honest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH = 100

FIELDS = {
    "event_id", "timestamp", "platform", "exception", "message", "level", "commit_sha",
    "environment", "deploy_root", "release", "runtime", "sdk", "request", "tags",
    "breadcrumbs", "fingerprint",
}  # fmt: skip
LEVELS = {"fatal", "error", "warning", "info", "debug"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# pydantic's AwareDatetime: RFC 3339 with a zone.
_AWARE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: object, limit: int | None = None, minimum: int = 0) -> None:
    assert isinstance(value, str), value
    assert not _SURROGATE.search(value), "lone surrogates are refused"
    assert minimum <= len(value), value
    if limit is not None:
        assert len(value) <= limit, (len(value), limit)


def _exception(exception: object) -> None:
    while exception is not None:
        assert isinstance(exception, Mapping)
        assert set(exception) <= {"type", "message", "stack", "cause"}
        _text(exception["type"], 256, minimum=1)
        _text(exception.get("message", ""))
        _text(exception.get("stack", ""))
        exception = exception.get("cause")


# Optional text fields of the event, and their limits.
_TEXTS = {
    "message": None,
    "environment": 64,
    "deploy_root": 1024,
    "release": 200,
    "fingerprint": 256,
}


def assert_ingestible(event: Mapping[str, Any]) -> None:
    """Fails unless the gateway would take this event (as parsed from the body)."""
    assert set(event) <= FIELDS, set(event) - FIELDS
    assert _UUID.fullmatch(event["event_id"])
    assert _AWARE.fullmatch(event["timestamp"])
    assert event["platform"] == "python"
    assert "exception" in event or "message" in event
    _exception(event.get("exception"))
    for key, limit in _TEXTS.items():
        if key in event:
            _text(event[key], limit)
    assert event.get("level", "info") in LEVELS
    assert _SHA.fullmatch(event.get("commit_sha", "0" * 40))
    for key in ("runtime", "sdk"):
        _object(event.get(key, {}), {"name": 64, "version": 64})
    _object(event.get("request", {}), {"method": 16, "url": 2048})
    _tags(event.get("tags", {}))
    _breadcrumbs(event.get("breadcrumbs", []))


def _object(value: object, limits: Mapping[str, int]) -> None:
    assert isinstance(value, Mapping)
    assert set(value) <= set(limits)
    for key, text in value.items():
        _text(text, limits[key])


def _tags(tags: object) -> None:
    assert isinstance(tags, Mapping)
    assert len(tags) <= 50
    for key, value in tags.items():
        _text(key, 64)
        _text(value, 256)


def _breadcrumbs(crumbs: object) -> None:
    assert isinstance(crumbs, list)
    assert len(crumbs) <= 100
    for crumb in crumbs:
        assert _AWARE.fullmatch(crumb.get("timestamp", "2026-01-01T00:00:00Z"))
        _object(
            {key: value for key, value in crumb.items() if key != "timestamp"},
            {"category": 64, "message": 1024, "level": 16},
        )


def ingestible_events(body: bytes) -> list[dict[str, Any]]:
    """The events of one request body, after checking the gateway would take all of it."""
    assert len(body) <= MAX_BODY_BYTES, len(body)
    parsed = json.loads(body.decode("utf-8"))  # strict: invalid UTF-8 is refused
    assert set(parsed) == {"events"}
    events: list[dict[str, Any]] = parsed["events"]
    assert 1 <= len(events) <= MAX_BATCH
    for event in events:
        assert_ingestible(event)
    return events
