"""Default scrubbing: no credentials in URLs, messages, stacks or breadcrumbs."""

from __future__ import annotations

import pytest

import stackline_sdk
from stackline_sdk._integrations._asgi import request_data
from stackline_sdk._scrub import scrub_text, scrub_url

from support import KEY, Recorder, init_recorded


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.io/p?q=shoes&page=2", "https://a.io/p?q=shoes&page=2"),
        (
            "https://a.io/cb?code=abc123&state=xyz&access_token=t0k",
            "https://a.io/cb?code=[Filtered]&state=xyz&access_token=[Filtered]",
        ),
        (
            "https://a.io/?API_KEY=1&apiKey=2&key=3",
            "https://a.io/?API_KEY=[Filtered]&apiKey=[Filtered]&key=[Filtered]",
        ),
        (
            "https://b.s3.amazonaws.com/f?X-Amz-Credential=c&X-Amz-Signature=s&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/f?X-Amz-Credential=[Filtered]&X-Amz-Signature=[Filtered]"
            "&X-Amz-Expires=60",
        ),
        ("https://user:hunter2@a.io/x#frag", "https://[Filtered]@a.io/x"),
        ("/relative?password=p&flag", "/relative?password=[Filtered]&flag"),
        ("https://a.io/?client%5Fsecret=s", "https://a.io/?client%5Fsecret=[Filtered]"),
    ],
)
def test_scrub_url(url: str, expected: str) -> None:
    assert scrub_url(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "could not connect to postgresql://app:s3cret@db:5432/shop",
            "could not connect to postgresql://[Filtered]@db:5432/shop",
        ),
        (
            "GET https://api.io/v1?token=abc&x=1 failed",
            "GET https://api.io/v1?token=[Filtered]&x=1 failed",
        ),
        ("headers={'Authorization': 'Bearer abc.def'}", "headers={'Authorization': '[Filtered]'}"),
        ("Cookie: session=1; theme=dark\nnext", "Cookie: [Filtered]\nnext"),
        ("sent bearer eyJhbGciOiJIUzI1NiJ9.e30.x to proxy", "sent bearer [Filtered] to proxy"),
        (f"bad key {KEY}!", "bad key [Filtered]!"),
        (
            "nothing secret at http://host:8080/path here",
            "nothing secret at http://host:8080/path here",
        ),
        ("a basic information message", "a basic information message"),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_secrets_are_scrubbed_from_the_event(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.add_breadcrumb("called https://x.io/?token=crumb-secret")
    try:
        raise ConnectionError("postgresql://app:pw-in-message@db/shop unreachable")
    except ConnectionError:
        stackline_sdk.capture_exception()
    assert stackline_sdk.flush(2)
    body = recorder.requests[0].body.decode()
    assert "pw-in-message" not in body
    assert "crumb-secret" not in body
    [event] = recorder.events()
    assert event["exception"]["message"] == "postgresql://[Filtered]@db/shop unreachable"
    assert "postgresql://[Filtered]@db/shop unreachable" in event["exception"]["stack"]


def test_request_data_keeps_no_headers_but_host() -> None:
    scope = {
        "type": "http",
        "scheme": "https",
        "method": "POST",
        "path": "/pay",
        "root_path": "",
        "query_string": b"amount=5&card_token=tok_123",
        "headers": [
            (b"host", b"shop.example"),
            (b"cookie", b"session=abc"),
            (b"authorization", b"Bearer xyz"),
        ],
        "server": ("10.0.0.1", 8000),
    }
    assert request_data(scope) == {
        "method": "POST",
        "url": "https://shop.example/pay?amount=5&card_token=[Filtered]",
    }
