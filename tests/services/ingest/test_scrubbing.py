"""Server-side scrubbing: what an old SDK, a Sentry SDK or curl sends unscrubbed is stored with
`[Filtered]` in place of secrets and personal data, counted on the event, and grouped as before."""

from __future__ import annotations

import re
import uuid

import httpx
import orjson
import pytest
from stackline.ingest.v1 import ingest_pb2

from services.ingest.events import finish, parse
from services.ingest.scrubbing import FILTERED, Scrubber, ScrubRules, is_secret_field
from stackline_infra.db.types import utcnow
from tests.support.api import create_project, node_event, sign_in

CARD = "4111 1111 1111 1111"  # a test Visa number: passes the Luhn check
NOT_A_CARD = "4111 1111 1111 1112"  # one digit off: fails it


@pytest.mark.parametrize(
    ("text", "scrubbed", "rule"),
    [
        ("Authorization: Bearer abcdef123456", "Authorization: [Filtered]", "secret_field"),
        ("sent Bearer abcdef1234567890", "sent Bearer [Filtered]", "bearer"),
        ("GET /api?token=abc123&page=2", "GET /api?token=[Filtered]&page=2", "secret_field"),
        ('{"password": "hunter2"}', '{"password": "[Filtered]"}', "secret_field"),
        ("x-api-key=k3y", "x-api-key=[Filtered]", "secret_field"),
        (
            "postgres://app:hunter2@db:5432/shop",
            "postgres://app:[Filtered]@db:5432/shop",
            "url_password",
        ),
        (f"paid with {CARD}", "paid with [Filtered]", "credit_card"),
        ("card 4111-1111-1111-1111 declined", "card [Filtered] declined", "credit_card"),
        ("no user alice.o@example.co.uk", "no user [Filtered]", "email"),
        ("from 203.0.113.9 via proxy", "from [Filtered] via proxy", "ip"),
        ("peer 2001:db8::7 left", "peer [Filtered] left", "ip"),
        ("peer 2001:0db8:0000:0000:0000:ff00:0042:8329", "peer [Filtered]", "ip"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "jwt [Filtered]", "token"),
        ("leaked ghp_" + "a" * 36, "leaked [Filtered]", "token"),
        ("key AKIAIOSFODNN7EXAMPLE leaked", "key [Filtered] leaked", "token"),
        ("slk_" + "A1b2" * 10 + "zz here", "[Filtered] here", "token"),
        (
            "k=-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----!",
            "k=[Filtered]!",
            "private_key",
        ),
    ],
)
def test_secrets_and_personal_data_become_filtered(text: str, scrubbed: str, rule: str) -> None:
    scrubber = Scrubber()
    assert scrubber.text(text) == scrubbed
    assert scrubber.counts == {rule: 1}


def test_a_line_counts_what_was_replaced_not_what_was_only_looked_at() -> None:
    """Cards and addresses are replaced only when they pass a check: on one line, a kept match
    counts nothing and the replaced ones count one each, the first time and when remembered."""
    line = f"{NOT_A_CARD} then {CARD}; 127.0.0.1 and 203.0.113.9, 198.51.100.23"
    expected = f"{NOT_A_CARD} then [Filtered]; 127.0.0.1 and [Filtered], [Filtered]"
    for _ in range(2):
        scrubber = Scrubber()
        assert scrubber.text(line) == expected
        assert scrubber.text(f"{line}\n{line}") == f"{expected}\n{expected}"
        assert scrubber.counts == {"credit_card": 3, "ip": 6}


@pytest.mark.parametrize(
    "text",
    [
        NOT_A_CARD,
        "sent at 1732530000123 (ms)",  # a Unix time in milliseconds is no card
        "connect ECONNREFUSED 127.0.0.1:5432",  # loopback names no one
        "listening on 0.0.0.0:8080 and [::1]:8080",
        "    at getUser (/var/task/src/users.js:42:17)",
        "/app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/lodash.js",
        "at 10:30:00 in Foo::bar",
        "author: Mona, auth flow done",
        "Unexpected token } in JSON at position 4",
        "Chrome/120.0.6099.109 Safari/537.36",
        "password=[Filtered]",  # scrubbed by the SDK already: counted once, there
    ],
)
def test_what_only_looks_like_a_secret_is_kept(text: str) -> None:
    scrubber = Scrubber()
    assert scrubber.text(text) == text
    assert not scrubber.counts


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("X-Api-Key", True),
        ("db_password", True),
        ("Set-Cookie", True),
        ("session_id", True),
        ("auth", True),
        ("Authorization", True),
        ("author", False),
        ("region", False),
        ("user_agent", False),
    ],
)
def test_fields_named_for_secrets(name: str, secret: bool) -> None:
    assert is_secret_field(name) is secret


def test_a_project_may_keep_emails_and_name_its_own_fields_and_patterns() -> None:
    rules = ScrubRules(
        keep_emails=True,
        secret_fields=frozenset({"customer_ref"}),
        patterns=(re.compile(r"ORD-\d{6}"),),
    )
    scrubber = Scrubber(rules)
    assert scrubber.text("order ORD-123456 for mona@example.com") == (
        "order [Filtered] for mona@example.com"
    )
    assert scrubber.field("customer_ref", "c-42") == FILTERED
    assert scrubber.counts == {"pattern": 1, "secret_field": 1}


def _leaky_event() -> ingest_pb2.Event:
    stack = (
        "Error: login failed for mona@example.com with password=hunter2\n"
        "    at login (https://shop.example.com/app.js?token=s3cr3t:10:5)\n"
        "    at handle (/var/task/src/auth.js:42:17)"
    )
    return ingest_pb2.Event(
        project_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        platform="node",
        deploy_root="/var/task",
        exception=ingest_pb2.ExceptionInfo(
            type="Error",
            message="login failed for mona@example.com with password=hunter2",
            stack=stack,
            cause=ingest_pb2.ExceptionInfo(
                type="Error", message=f"charge of {CARD} refused", stack=""
            ),
        ),
        request=ingest_pb2.RequestInfo(
            method="POST", url="https://shop.example.com/login?api_key=k3y&next=/"
        ),
        tags={"client_ip": "198.51.100.23", "session_token": "abc", "region": "iad1"},
        breadcrumbs=[
            ingest_pb2.Breadcrumb(category="http", message="POST /pay card=" + CARD),
            ingest_pb2.Breadcrumb(category="auth", message="Authorization: Basic bW9uYTpwdw=="),
        ],
    )


def test_an_event_is_stored_scrubbed_everywhere_and_grouped_as_before() -> None:
    event = _leaky_event()
    now = utcnow()
    stored = finish(parse(event, now))
    unscrubbed = finish(parse(event, now), scrubbing=None)

    everything = orjson.dumps(
        [
            stored.message,
            stored.raw_stack,
            stored.frames,
            stored.causes,
            stored.context,
            stored.title,
        ]
    ).decode()
    for secret in (
        "mona@example.com",
        "hunter2",
        "s3cr3t",
        "k3y",
        CARD,
        "198.51.100.23",
        "bW9uYTpwdw==",
        '"abc"',
    ):
        assert secret not in everything, secret
    assert stored.message == "login failed for [Filtered] with password=[Filtered]"
    assert stored.context["tags"] == {
        "client_ip": FILTERED,
        "session_token": FILTERED,
        "region": "iad1",
    }
    assert stored.context["request"]["url"] == (
        "https://shop.example.com/login?api_key=[Filtered]&next=/"
    )
    assert stored.context["scrubbed"] == {
        "credit_card": 3,
        "email": 2,
        "ip": 1,
        "secret_field": 7,
    }
    # Grouping saw the event as it was sent: the incident is the one it always was.
    assert stored.fingerprints == unscrubbed.fingerprints
    assert [f["file"] for f in stored.frames] == [f["file"] for f in unscrubbed.frames]


async def test_an_event_sent_with_curl_is_scrubbed_before_it_is_stored(
    gateway: httpx.AsyncClient,
) -> None:
    account = await sign_in(gateway)
    project = await create_project(gateway, account)
    event = node_event(
        message="no account for mona@example.com",
        tags={"api_key": "k3y-123"},
        request={"method": "GET", "url": "https://shop.example.com/?password=hunter2"},
    )
    sent = await gateway.post("/api/ingest", json=event, headers=project.headers)
    assert sent.status_code == 200, sent.text

    listed = await gateway.get(
        "/api/incidents", params={"repo": project.repo}, headers=account.headers
    )
    [incident] = listed.json()["incidents"]
    assert "mona@example.com" not in orjson.dumps(incident).decode()
    detail = (await gateway.get(f"/api/incidents/{incident['id']}", headers=account.headers)).json()
    latest = detail["latest_event"]
    assert "no account for [Filtered]" in latest["raw_stack"]
    assert latest["context"]["tags"] == {"api_key": FILTERED}
    assert latest["context"]["request"]["url"] == "https://shop.example.com/?password=[Filtered]"
    assert latest["context"]["scrubbed"] == {"email": 2, "secret_field": 2}
    body = orjson.dumps(detail).decode()
    for secret in ("mona@example.com", "k3y-123", "hunter2"):
        assert secret not in body


def test_a_projects_own_field_names_are_found_in_text_however_written() -> None:
    scrubber = Scrubber(ScrubRules(secret_fields=frozenset({"customer_id"})))
    assert scrubber.text("customer_id=4711 customer-id: 4712 CustomerId=4713 customers=9") == (
        "customer_id=[Filtered] customer-id: [Filtered] CustomerId=[Filtered] customers=9"
    )
    assert scrubber.counts == {"secret_field": 3}
