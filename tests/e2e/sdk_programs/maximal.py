"""Every limit of an event overrun at once, in plain text and in characters JSON escapes to six
bytes (over 1 MiB until shortened): the gateway must take both events."""

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

import stackline_sdk

LONG = 5000


def tags(prefix: str) -> dict[str, str]:
    return {f"{prefix}-{i}-" + "k" * 100: "v" * LONG for i in range(60)}


def raised(text: str) -> BaseException:
    message = (text * 1000 + "\n") * 100
    try:
        try:
            raise ValueError(message)
        except ValueError as cause:
            raise type("E" * 1000, (Exception,), {})(message) from cause
    except Exception as error:
        return error


def capture_in_a_request(text: str) -> None:
    error = raised(text)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        stackline_sdk.capture_exception(error, tags=tags("call"), fingerprint="f" * LONG)
        return [b""]

    environ = {
        "REQUEST_METHOD": "M" * 100,
        "PATH_INFO": "/" + "p" * LONG,
        "QUERY_STRING": "q=" + text * LONG,
    }
    setup_testing_defaults(environ)
    list(stackline_sdk.StacklineWSGIMiddleware(app)(environ, lambda *args: None))


stackline_sdk.init(
    environment="e" * LONG,
    release="r" * LONG,
    deploy_root="/" + "d" * LONG,
    tags=tags("init"),
    capture_logging=False,
)
stackline_sdk.set_tags(tags("scope"))
for text in ("x", "\x01"):
    for _ in range(150):
        stackline_sdk.add_breadcrumb(
            text * LONG + "?token=x", category="c" * LONG, level="l" * LONG
        )
    capture_in_a_request(text)
stackline_sdk.flush(10)
print(json.dumps(dataclasses.asdict(stackline_sdk.stats())))
