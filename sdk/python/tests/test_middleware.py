"""ASGI and WSGI middleware, driven by hand over the raw protocols (and by Starlette)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

import stackline_sdk
from stackline_sdk import StacklineASGIMiddleware, StacklineWSGIMiddleware
from stackline_sdk._scope import current_scope

from support import Recorder, init_recorded

Scope = MutableMapping[str, Any]


def http_scope(path: str, query: bytes = b"", method: str = "GET") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "https",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"shop.example"), (b"cookie", b"session=s3cr3t")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
    }


async def receive() -> MutableMapping[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Sent:
    def __init__(self) -> None:
        self.messages: list[MutableMapping[str, Any]] = []

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        self.messages.append(message)


async def shop(scope: Scope, receive: Any, send: Any) -> None:
    """A small ASGI app: /boom fails, /user/<n> tags the request then fails, others answer."""
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path.startswith("/user/"):
        stackline_sdk.set_tag("user", path.rsplit("/", 1)[1])
        stackline_sdk.add_breadcrumb(f"loaded {path}")
        # Yield: the other request, scheduled next, sets its own tag before this one fails.
        await asyncio.sleep(0)
        raise PermissionError(path)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def events_of(recorder: Recorder) -> list[dict[str, Any]]:
    assert stackline_sdk.flush(2)
    return recorder.events()


async def test_asgi_reports_and_reraises(recorder: Recorder) -> None:
    init_recorded(recorder)
    app = StacklineASGIMiddleware(shop)
    with pytest.raises(RuntimeError, match="boom"):
        await app(http_scope("/boom", b"q=1&access_token=abc", "POST"), receive, Sent())
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "RuntimeError"
    assert event["request"] == {
        "method": "POST",
        "url": "https://shop.example/boom?q=1&access_token=[Filtered]",
    }
    assert "s3cr3t" not in recorder.requests[0].body.decode()


async def test_asgi_success_passes_through(recorder: Recorder) -> None:
    init_recorded(recorder)
    sent = Sent()
    await StacklineASGIMiddleware(shop)(http_scope("/ok"), receive, sent)
    assert [m["type"] for m in sent.messages] == ["http.response.start", "http.response.body"]
    assert events_of(recorder) == []


async def test_asgi_requests_do_not_share_tags_or_breadcrumbs(recorder: Recorder) -> None:
    init_recorded(recorder)
    stackline_sdk.set_tag("service", "shop")
    app = StacklineASGIMiddleware(shop)
    results = await asyncio.gather(
        app(http_scope("/user/1"), receive, Sent()),
        app(http_scope("/user/2"), receive, Sent()),
        return_exceptions=True,
    )
    assert all(isinstance(r, PermissionError) for r in results)
    events = sorted(events_of(recorder), key=lambda e: e["tags"]["user"])
    assert [e["tags"] for e in events] == [
        {"service": "shop", "user": "1"},
        {"service": "shop", "user": "2"},
    ]
    assert [[c["message"] for c in e["breadcrumbs"]] for e in events] == [
        ["loaded /user/1"],
        ["loaded /user/2"],
    ]
    assert current_scope().tags == {"service": "shop"}  # the process scope is untouched
    assert not current_scope().breadcrumbs


async def test_asgi_lifespan_goes_straight_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)
        raise RuntimeError("lifespan failure is the server's to handle")

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    with pytest.raises(RuntimeError):
        await StacklineASGIMiddleware(app)(scope, receive, Sent())
    assert seen == [scope]


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_starlette_app(recorder: Recorder) -> None:
    starlette = pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    assert starlette

    def boom(request: Request) -> PlainTextResponse:
        raise ZeroDivisionError("division by zero in a view")

    def forbidden(request: Request) -> PlainTextResponse:
        raise HTTPException(403)

    app = Starlette(routes=[Route("/boom", boom), Route("/forbidden", forbidden)])
    app.add_middleware(StacklineASGIMiddleware)
    init_recorded(recorder)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom?password=hunter2").status_code == 500
        assert client.get("/forbidden").status_code == 403
        assert client.get("/missing").status_code == 404
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "ZeroDivisionError"
    assert event["request"] == {
        "method": "GET",
        "url": "http://testserver/boom?password=[Filtered]",
    }


# -- WSGI ----------------------------------------------------------------------------------


def environ_for(path: str, query: str = "") -> dict[str, Any]:
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "shop.example",
        "HTTP_AUTHORIZATION": "Bearer s3cr3t",
        "REQUEST_METHOD": "DELETE",
    }
    setup_testing_defaults(environ)
    return environ


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return lambda data: None


class Body:
    """A response iterable that fails after its first chunk, and records close()."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        stackline_sdk.set_tag("streaming", "yes")
        yield b"first"
        if self.fail:
            raise BrokenPipeError("stream broke")
        yield b"second"

    def close(self) -> None:
        self.closed = True


def test_wsgi_reports_and_reraises(recorder: Recorder) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise LookupError("no such order")

    init_recorded(recorder)
    with pytest.raises(LookupError):
        StacklineWSGIMiddleware(app)(environ_for("/orders/7", "sig=abc&page=2"), start_response)
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "LookupError"
    assert event["request"] == {
        "method": "DELETE",
        "url": "http://shop.example/orders/7?sig=[Filtered]&page=2",
    }
    assert "s3cr3t" not in recorder.requests[0].body.decode()


def test_wsgi_error_while_streaming(recorder: Recorder) -> None:
    body = Body(fail=True)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    init_recorded(recorder)
    result = StacklineWSGIMiddleware(app)(environ_for("/export"), start_response)
    iterator = iter(result)
    assert next(iterator) == b"first"
    with pytest.raises(BrokenPipeError):
        next(iterator)
    result.close()  # type: ignore[attr-defined]
    assert body.closed
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "BrokenPipeError"
    assert event["request"]["url"] == "http://shop.example/export"
    assert event["tags"] == {"streaming": "yes"}  # set while streaming, in the request's scope
    assert current_scope().tags == {}


def test_wsgi_success_passes_through(recorder: Recorder) -> None:
    body = Body(fail=False)
    init_recorded(recorder)
    result = StacklineWSGIMiddleware(lambda e, s: body)(environ_for("/"), start_response)
    assert list(result) == [b"first", b"second"]
    result.close()  # type: ignore[attr-defined]
    assert body.closed
    assert events_of(recorder) == []
