"""A project's own scrubbing settings, set through PATCH /api/projects/{id}, change what is
stored of its events: each setting's effect, seen on the stored event through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import Account, ProjectWithKey, create_project, node_event, sign_in

_MESSAGE = "charge failed for mona@example.com, customer_id=4711, ref cust_204861"


async def _stored(gateway: httpx.AsyncClient, account: Account, project: ProjectWithKey) -> Any:
    event = node_event(message=_MESSAGE, tags={"iban": "DE44500105175407324931", "tier": "gold"})
    sent = await gateway.post("/api/ingest", json=event, headers=project.headers)
    assert sent.status_code == 200, sent.text
    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    (incident,) = listed.json()["incidents"]
    detail = await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)
    return detail.json()["latest_event"]


async def test_each_setting_changes_what_is_stored(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    defaults = await create_project(gateway, account)
    custom = await create_project(gateway, account)
    patched = await gateway.patch(
        f"/api/projects/{custom.id}",
        json={
            "scrub_keep_emails": True,
            "scrub_fields": ["Customer-ID", "IBAN"],
            "scrub_patterns": [r"cust_\d{6}"],
        },
        headers=account.headers,
    )
    assert patched.status_code == 200, patched.text
    project = patched.json()["project"]
    # Field names are kept as scrubbing compares them.
    assert (project["scrub_keep_emails"], project["scrub_fields"], project["scrub_patterns"]) == (
        True,
        ["customer_id", "iban"],
        [r"cust_\d{6}"],
    )
    shown = await gateway.get(f"/api/projects/{custom.id}", headers=account.headers)
    assert shown.json()["project"]["scrub_fields"] == ["customer_id", "iban"]

    plain = await _stored(gateway, account, defaults)
    # The message is stored twice, as the incident's and as the stack's first line.
    assert plain["raw_stack"].split("\n")[0] == (
        "TypeError: charge failed for [Filtered], customer_id=4711, ref cust_204861"
    )
    assert plain["context"]["tags"]["iban"] == "DE44500105175407324931"
    assert plain["context"]["scrubbed"] == {"email": 2}

    own = await _stored(gateway, account, custom)
    # The address is kept; the extra field is filtered in text and as a tag; the pattern too.
    assert own["raw_stack"].split("\n")[0] == (
        "TypeError: charge failed for mona@example.com, customer_id=[Filtered], ref [Filtered]"
    )
    assert own["context"]["tags"] == {"iban": "[Filtered]", "tier": "gold"}
    assert own["context"]["scrubbed"] == {"pattern": 2, "secret_field": 3}


async def test_settings_can_be_cleared(gateway: httpx.AsyncClient) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    url = f"/api/projects/{project.id}"
    await gateway.patch(url, json={"scrub_fields": ["iban"]}, headers=account.headers)
    # Absent leaves a setting as it is; an empty list clears it.
    kept = await gateway.patch(url, json={"name": "Renamed"}, headers=account.headers)
    assert kept.json()["project"]["scrub_fields"] == ["iban"]
    cleared = await gateway.patch(url, json={"scrub_fields": []}, headers=account.headers)
    assert cleared.json()["project"]["scrub_fields"] == []


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"scrub_patterns": ["(a+)+$"]}, "scrub_patterns", "groups are not allowed"),
        ({"scrub_patterns": ["a|b"]}, "scrub_patterns", "alternation is not allowed"),
        ({"scrub_patterns": [r"(\w)\1"]}, "scrub_patterns", "groups are not allowed"),
        ({"scrub_patterns": [r"\bword"]}, "scrub_patterns", r"\b"),
        ({"scrub_patterns": ["[a-"]}, "scrub_patterns", "unclosed"),
        ({"scrub_patterns": ["x*"]}, "scrub_patterns", "matches the empty string"),
        ({"scrub_patterns": ["a{1,999}"]}, "scrub_patterns", "m <= n <= 256"),
        ({"scrub_patterns": ["[z-a]"]}, "scrub_patterns", "does not compile"),
        ({"scrub_patterns": ["a" * 201]}, "scrub_patterns", "200"),
        ({"scrub_patterns": [f"p{n}" for n in range(21)]}, "scrub_patterns", "20"),
        ({"scrub_fields": [f"f{n}" for n in range(51)]}, "scrub_fields", "50"),
        ({"scrub_fields": ["  "]}, "scrub_fields", "printable"),
        ({"scrub_fields": ["a\u0007b"]}, "scrub_fields", "printable"),
        ({"scrub_keep_emails": "maybe"}, "scrub_keep_emails", ""),
        # Not read as false: the schema says boolean, and 0 is not one.
        ({"scrub_keep_emails": 0}, "scrub_keep_emails", "boolean"),
    ],
)
async def test_bad_settings_are_refused_with_what_is_wrong(
    gateway: httpx.AsyncClient, body: dict[str, Any], field: str, says: str
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    refused = await gateway.patch(f"/api/projects/{project.id}", json=body, headers=account.headers)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["field"].startswith(field)
    assert says in error["message"]
    # The rule in words, never the printable-text pattern's hundreds of ranges.
    assert len(error["message"]) < 200
    unchanged = await gateway.get(f"/api/projects/{project.id}", headers=account.headers)
    assert unchanged.json()["project"]["scrub_patterns"] == []
