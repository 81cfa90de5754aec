"""The SDK's limits are the ingest schema's (sdk/schema/ingest-event.schema.json, generated from
the gateway's models), read from the schema, so a change to one without the other fails here;
and the check every sent body goes through (ingest_contract) refuses what the gateway would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackline_sdk import _event, _worker

from ingest_contract import DEFINITIONS, MAX_BATCH, problems

EVENT = DEFINITIONS["IngestEvent"]["properties"]


def _string(schema: dict[str, Any]) -> dict[str, Any]:
    """The string branch of an optional field (`anyOf: [string, null]`), or the field itself."""
    [branch] = [b for b in schema.get("anyOf", [schema]) if b.get("type") == "string"]
    string: dict[str, Any] = branch
    return string


def _max_length(schema: dict[str, Any]) -> int:
    return int(_string(schema)["maxLength"])


def _fields(name: str) -> dict[str, Any]:
    properties: dict[str, Any] = DEFINITIONS[name]["properties"]
    return properties


SDK_AND_SCHEMA = {
    "tags per event": (_event.MAX_TAGS, EVENT["tags"]["maxProperties"]),
    "tag key": (_event.MAX_TAG_KEY, EVENT["tags"]["propertyNames"]["maxLength"]),
    "tag value": (_event.MAX_TAG_VALUE, EVENT["tags"]["additionalProperties"]["maxLength"]),
    "breadcrumbs per event": (_event.MAX_BREADCRUMBS, EVENT["breadcrumbs"]["maxItems"]),
    "breadcrumb message": (
        _event.MAX_BREADCRUMB_MESSAGE,
        _max_length(_fields("Breadcrumb")["message"]),
    ),
    "breadcrumb category": (_event.MAX_CATEGORY, _max_length(_fields("Breadcrumb")["category"])),
    "request url": (_event.MAX_URL, _max_length(_fields("RequestInfo")["url"])),
    "request method": (_event.MAX_METHOD, _max_length(_fields("RequestInfo")["method"])),
    "environment": (_event.MAX_ENVIRONMENT, _max_length(EVENT["environment"])),
    "release": (_event.MAX_RELEASE, _max_length(EVENT["release"])),
    "deploy root": (_event.MAX_DEPLOY_ROOT, _max_length(EVENT["deploy_root"])),
    "runtime and sdk name": (_event.MAX_NAME_VERSION, _max_length(_fields("NameVersion")["name"])),
    "runtime and sdk version": (
        _event.MAX_NAME_VERSION,
        _max_length(_fields("NameVersion")["version"]),
    ),
    "exception type": (_event.MAX_SHORT, _max_length(_fields("ExceptionIn")["type"])),
    "fingerprint": (_event.MAX_SHORT, _max_length(EVENT["fingerprint"])),
    "events per request": (_worker.MAX_BATCH_EVENTS, MAX_BATCH),
}  # fmt: skip


@pytest.mark.parametrize("limit", sorted(SDK_AND_SCHEMA))
def test_the_sdk_cuts_to_the_schemas_limit(limit: str) -> None:
    # Equal, not merely within: a lower SDK limit would throw away what the API keeps.
    sdk, schema = SDK_AND_SCHEMA[limit]
    assert sdk == schema, f"{limit}: the SDK cuts at {sdk}, the ingest API takes {schema}"


def test_the_sdk_sends_the_levels_the_schema_names() -> None:
    assert set(_event.LEVELS) == set(_string(EVENT["level"])["enum"])
    # A breadcrumb's level is one of them too.
    assert max(map(len, _event.LEVELS)) <= _max_length(_fields("Breadcrumb")["level"])


def _body(**fields: Any) -> bytes:
    event = {
        "event_id": "0b5e3d3a-54a1-4b8e-9d1c-2f6a1e0c9b7d",
        "timestamp": "2026-01-01T00:00:00Z",
        "platform": "python",
        "message": "m",
        **fields,
    }
    return json.dumps({"events": [event]}).encode()


def test_a_body_the_gateway_takes_passes() -> None:
    assert problems(_body()) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (_body(tags={f"k{i}": "v" for i in range(51)}), "$.events[0].tags"),
        (_body(breadcrumbs=[{"message": "m" * 1025}]), "$.events[0].breadcrumbs[0].message"),
        (_body(colour="red"), "Additional properties are not allowed"),
        (_body(event_id="not-a-uuid"), "$.events[0].event_id"),
        (_body(level="loud"), "$.events[0].level"),
        (_body(message=None), "neither an exception nor a message"),
        (_body(timestamp="2026-01-01T00:00:00"), "timestamp"),
        (_body(platform="node"), "platform 'node'"),
        (json.dumps({"events": []}).encode(), "$.events"),
        (b'{"events": [\xff]}', "not JSON in UTF-8"),
        (b'{"events":[{"platform":"python","message":"\\ud800"}]}', "lone surrogate"),
        (b" " * (1024 * 1024 + 1), "bytes, past the gateway's"),
    ],
)
def test_a_body_the_gateway_would_refuse_is_caught(body: bytes, problem: str) -> None:
    assert any(problem in found for found in problems(body)), problems(body)
