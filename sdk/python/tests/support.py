"""Test helpers: a scriptable HTTP server on a real socket, and an in-memory recorder.

FaultServer speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) to
stand in for the ingest API, and can misbehave in each way the SDK must
survive: answer with any status, never answer, close the connection before or
in the middle of an answer, or answer with bytes that are not HTTP.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stackline_sdk
from stackline_sdk import Client, MockTransport, Request, Response
from stackline_sdk._worker import Backoff

from ingest_contract import problems

KEY = "slk_" + "A1b2C3d4E5" * 4 + "xy"
assert len(KEY) == 46

# Retries in milliseconds rather than seconds, so policy tests run fast.
FAST = Backoff(initial=0.01, maximum=0.05)

# The make_client fixture (conftest.py): a Client on a MockTransport.
MakeClient = Callable[..., Client]

HANG_GUARD_SECONDS = 30.0
"""How long a test waits for something that must happen before calling it a hang: far beyond
what a busy machine needs, so that reaching it means the thing never happens."""

T = TypeVar("T")

REFUSED: list[str] = []
"""Why the gateway would refuse bodies the SDK sent in this test, to the recorder or to a fault
server: the conftest fails the test unless it is empty (and empties it)."""


def _check_sent(body: bytes) -> None:
    """Notes what the ingest API would refuse in a body the SDK sent. Noted, not raised: an
    exception in the transport is one the SDK would swallow, as it swallows a network error."""
    REFUSED.extend(problems(body))


def within_hang_guard(call: Callable[[], T]) -> T:
    """call()'s result, or a failure if it has not returned within HANG_GUARD_SECONDS."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_SECONDS)
    assert not thread.is_alive(), f"still waiting after {HANG_GUARD_SECONDS:.0f} s: it hangs"
    if failure:
        raise failure[0]
    return outcome[0]


class FakeClock:
    """Monotonic seconds that move only when the test says: the worker's `clock`, so that a
    retry or a Retry-After window passes without waiting for it."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, client: Client, seconds: float) -> None:
        """Move on, and wake the client's worker: it is waiting for this clock, not for time."""
        self.now += seconds
        worker = client._worker
        with worker._cond:
            worker._cond.notify_all()


def next_attempt_at(client: Client) -> float:
    """When the worker will try again (on its clock), after a failure or a 5xx."""
    return client._worker._not_before


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        payload = json.loads(self.body)
        return list(payload["events"]) if "events" in payload else [payload]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"id": "x"}'
    # Close the connection after answering, without saying so: the client
    # finds out when it next uses the kept-alive connection.
    then_close: bool = False
    delay: float = 0.0  # seconds before answering


class Hang:
    """Read the request, then never answer."""


class Close:
    """Read the request, then close the connection without a word."""


@dataclass(frozen=True)
class Raw:
    """Write these bytes instead of an HTTP response, then close."""

    data: bytes


Action = Reply | Hang | Close | Raw
Behaviour = Callable[[Received], Action]


def always(action: Action) -> Behaviour:
    return lambda _request: action


def sequence(*actions: Action) -> Behaviour:
    """The given actions in turn, then the last one forever."""
    remaining = list(actions)

    def behaviour(_request: Received) -> Action:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return behaviour


class FaultServer:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.connections = 0
        self.closed_connections = 0  # closed by this server, as its Reply said or on a failure
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for request in self.received for event in request.events]

    def wait_for_requests(self, count: int) -> bool:
        return self.wait_until(lambda: len(self.received) >= count)

    def wait_until(self, predicate: Callable[[], bool]) -> bool:
        """Whether predicate() (called with the server's state locked) came true before the
        hang guard ran out."""
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return True
            time.sleep(0.005)
        return False

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            for sock in self._socks:
                sock.close()
        self._thread.join(2)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                _check_sent(request.body)
                with self._lock:
                    self.received.append(request)
                action = self.behaviour(request)
                if isinstance(action, Hang):
                    self._stop.wait()
                    return
                if isinstance(action, Close):
                    return
                if isinstance(action, Raw):
                    conn.sendall(action.data)
                    return
                if action.delay:
                    time.sleep(action.delay)
                head = [f"HTTP/1.1 {action.status} X", f"Content-Length: {len(action.body)}"]
                head += [f"{name}: {value}" for name, value in action.headers.items()]
                conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + action.body)
                if action.then_close:
                    return
        except (OSError, ValueError):  # the client went away, or sent no HTTP
            return
        finally:
            reader.close()
            conn.close()
            with self._lock:
                self.closed_connections += 1


def _read_request(reader: Any) -> Received | None:
    line = reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))
    return Received(method, path, headers, body)


@contextmanager
def fault_server(behaviour: Behaviour) -> Iterator[FaultServer]:
    server = FaultServer(behaviour)
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


class Recorder:
    """A MockTransport handler that keeps every request and answers as told."""

    def __init__(self, behaviour: Callable[[Request], Response] | None = None) -> None:
        self.requests: list[Request] = []
        self._behaviour = behaviour or (lambda _r: Response(200, {}, b'{"id":"x"}'))
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        _check_sent(request.body)
        with self._lock:
            self.requests.append(request)
        return self._behaviour(request)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            bodies = [json.loads(r.body) for r in self.requests]
        return [event for body in bodies for event in body["events"]]


def answer(status: int, headers: dict[str, str] | None = None) -> Callable[[Request], Response]:
    return lambda _request: Response(status, headers or {}, b"{}")


def init_recorded(recorder: Recorder, **options: Any) -> Client:
    """stackline_sdk.init() with the recorder as the network; no server_name tag unless asked,
    so that tests can compare tags whole."""
    options.setdefault("ingest_key", KEY)
    options.setdefault("server_name", "")
    return stackline_sdk.init(transport=MockTransport(recorder), **options)
