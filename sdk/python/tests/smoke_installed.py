"""Run by `make smoke` inside a fresh virtualenv that has only the built wheel.

Checks the wheel imports with no dependencies, that init() works, and that an
event reaches a local HTTP server over the real transport.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stackline_sdk

received: list[dict[str, object]] = []


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        received.extend(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["events"])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    assert "site-packages" in (stackline_sdk.__file__ or ""), stackline_sdk.__file__
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    stackline_sdk.init(ingest_key="slk_" + "x" * 42, endpoint=endpoint, commit_sha="a" * 40)
    try:
        {"sku": 1}["missing"]
    except KeyError:
        stackline_sdk.capture_exception()
    assert stackline_sdk.flush(5), stackline_sdk.stats()
    stats = stackline_sdk.stats()
    assert stats.sent == 1, stats
    [event] = received
    assert event["platform"] == "python"
    print(f"ok: stackline-sdk {stackline_sdk.__version__} on Python {sys.version.split()[0]}")
    server.shutdown()


if __name__ == "__main__":
    main()
