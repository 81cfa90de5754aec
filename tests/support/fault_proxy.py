"""An HTTP proxy in front of the gateway that the tests switch between ways of failing.

`pass` forwards every request. `down` closes connections at once, as a dead host does;
`hang` holds them without answering; `error500`, `html` and `shape` answer what a broken
gateway, a login page of a proxy, or a server of another version would. `revoked` forwards
with the access and refresh tokens spoiled, so that the real gateway answers its real 401s,
as it does for a session that has ended.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

MODES = ("pass", "down", "hang", "error500", "html", "shape", "revoked")


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.mode = "pass"
        self._released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            hop_headers: ClassVar[set[str]] = {"connection", "keep-alive", "transfer-encoding"}

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                mode = proxy.mode
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if mode == "down":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "hang":
                    proxy._released.wait(120)
                    self.close_connection = True
                    return
                if mode == "error500":
                    self._answer(500, "text/plain", b"Internal Server Error")
                    return
                if mode == "html":
                    self._answer(
                        200, "text/html", b"<html><body>Sign in to the proxy</body></html>"
                    )
                    return
                if mode == "shape":
                    self._answer(200, "application/json", b'{"items": [], "version": 2}')
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in self.hop_headers
                }
                if mode == "revoked":
                    for name in list(headers):
                        if name.lower() == "authorization":
                            headers[name] = headers[name] + "spoiled"
                    if self.path.startswith("/api/auth/refresh") and body:
                        refresh = json.loads(body)
                        refresh["refresh_token"] = "slr_" + "0" * 43
                        body = json.dumps(refresh).encode()
                        headers = {
                            k: v for k, v in headers.items() if k.lower() != "content-length"
                        }
                        headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in self.hop_headers | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            def _answer(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        # Connections held by `hang` are let go when the mode changes.
        self._released.set()
        self._released = threading.Event()
        self.mode = mode

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
