"""What the ingest API accepts: sdk/schema/ingest-event.schema.json, which the gateway's own
models generate (tools/gen_ingest_schema.py, checked current by `make lint`), plus the few rules
a JSON Schema does not state.

Every body the SDK sends in these tests, to the in-memory recorder or to the fault server, is
checked here (support.py), so an SDK change the gateway would refuse fails the test that made
it, and so does a gateway change the SDK does not follow. The tests stay standalone: they need
the schema file, not the gateway's code or its dependencies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "ingest-event.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
DEFINITIONS: dict[str, Any] = SCHEMA["$defs"]

# Validates a whole body, {"events": [...]}, with the formats (uuid) checked too.
_BATCH = Draft202012Validator(
    {**SCHEMA, "$ref": "#/$defs/IngestBatch"},
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)

# The gateway's body limit (413): a rule of the HTTP endpoint, not of the event.
MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH: int = DEFINITIONS["IngestBatch"]["properties"]["events"]["maxItems"]
# RFC 3339 with an offset. The schema's "date-time" format is checked only where an optional
# package is installed, so this SDK's promise is checked here, always.
_AWARE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def problems(body: bytes) -> list[str]:
    """Why the gateway would refuse this request body, or what the SDK promises that it breaks;
    empty when neither."""
    if len(body) > MAX_BODY_BYTES:
        return [f"a body of {len(body)} bytes, past the gateway's {MAX_BODY_BYTES}"]
    try:
        parsed = json.loads(body.decode("utf-8"))  # strict: invalid UTF-8 is refused
    except ValueError as exc:
        return [f"not JSON in UTF-8: {exc}"]
    found = [f"{error.json_path}: {error.message[:200]}" for error in _BATCH.iter_errors(parsed)]
    if found:
        return found
    # JSON may escape a lone surrogate; the gateway cannot decode one into text.
    found += [
        f"a lone surrogate in {text[:60]!r}"
        for text in _strings(parsed)
        if any("\ud800" <= c <= "\udfff" for c in text)
    ]
    for index, event in enumerate(parsed["events"]):
        # The schema lets these go; this SDK always sends them.
        if event.get("event_id") is None:
            found.append(f"$.events[{index}]: no event_id")
        if not _AWARE.fullmatch(event.get("timestamp") or ""):
            found.append(f"$.events[{index}]: timestamp {event.get('timestamp')!r}")
        if event.get("exception") is None and event.get("message") is None:
            found.append(f"$.events[{index}]: neither an exception nor a message")
        if event["platform"] != "python":
            found.append(f"$.events[{index}]: platform {event['platform']!r}")
    return found


def ingestible_events(body: bytes) -> list[dict[str, Any]]:
    """The events of one request body, after checking the gateway would take all of it."""
    found = problems(body)
    assert not found, found
    events: list[dict[str, Any]] = json.loads(body)["events"]
    return events
