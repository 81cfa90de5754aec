"""A WSGI app behind Stackline's middleware, served by wsgiref: one request fails with a 500."""

import dataclasses
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import stackline_sdk

stackline_sdk.init()


def checkout(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    basket: dict[str, int] = {}
    return [str(basket[os.environ["APP_ORDER"]]).encode()]  # the line Stackline must show


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


app = stackline_sdk.StacklineWSGIMiddleware(checkout)
with make_server("127.0.0.1", 0, app, handler_class=QuietHandler) as server:
    serving = threading.Thread(target=server.handle_request)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/checkout?token=s3cret&page=2"
    try:
        urllib.request.urlopen(url, data=b"", timeout=10)
    except urllib.error.HTTPError as error:
        print(json.dumps({"status": error.code}))
    serving.join()
stackline_sdk.flush(10)
print(json.dumps(dataclasses.asdict(stackline_sdk.stats())))
