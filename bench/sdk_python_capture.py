"""What a capture call costs the app's thread, with the Python SDK sending for real.

    .venv/bin/python bench/sdk_python_capture.py [--samples 10000]

A local sink (a separate process, so it does not share this one's GIL)
answers every POST /api/ingest with 200. The SDK runs with its real
HTTPTransport, so its worker thread serialises and sends while the
app's thread is measured. Each capture is timed alone with perf_counter_ns;
it includes rendering the traceback text, which the SDK does on the capturing
thread.

Rows:
- capture_exception (an exception raised 10 frames deep) and capture_message,
  each in two patterns: one error every 2 ms, each after the thread sat idle
  (cold caches: how a sporadic error costs), and bursts of 50 back to back
  every 50 ms (hot caches, with the worker sending the burst alongside).
  Only captures that queued their event are timed; drops are reported.
- capture_exception while the queue is full: nothing can be delivered (the
  client points at a port where nothing listens), so each capture is counted
  and dropped, the flood case.
- raising and catching the same exception without the SDK, for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sdk" / "python" / "src"))

import stackline_sdk  # noqa: E402 - after the path set-up above

KEY = "slk_" + "0123456789" * 4 + "ab"
DEPTH = 10
MESSAGE = "cache miss rate above 50% for 5 minutes"

SINK = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm
    # holds the body until the client's delayed ACK, 40 ms per request.
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"id": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class CheckoutError(Exception):
    pass


def nested(depth: int) -> None:
    if depth == 0:
        raise CheckoutError("payment provider timed out after 3 retries")
    nested(depth - 1)


def capture_nested() -> object:
    try:
        nested(DEPTH)
    except CheckoutError as exc:
        return stackline_sdk.capture_exception(exc)
    return None


def capture_message() -> object:
    return stackline_sdk.capture_message(MESSAGE)


def raise_only() -> object:
    try:
        nested(DEPTH)
    except CheckoutError as exc:
        return exc
    return None


def measure(
    call: Callable[[], object],
    samples: int,
    *,
    burst: int = 1,
    every: float = 0.0,
    queued_only: bool = True,
) -> list[int]:
    """Nanoseconds per call: `samples` calls in bursts of `burst` back-to-back
    calls, a burst every `every` seconds (0: no pause). With queued_only, calls
    that returned None (their event was dropped) are left out."""
    times: list[int] = []
    next_at = time.perf_counter()
    for i in range(samples):
        started = time.perf_counter_ns()
        result = call()
        elapsed = time.perf_counter_ns() - started
        if result is not None or not queued_only:
            times.append(elapsed)
        if every and (i + 1) % burst == 0:
            next_at += every
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    return times


def summary(name: str, times: list[int]) -> dict[str, object]:
    ordered = sorted(times)
    return {
        "case": name,
        "samples": len(times),
        "median_us": round(statistics.median(ordered) / 1000, 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1] / 1000, 1),
        "max_us": round(ordered[-1] / 1000, 1),
    }


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10_000, help="calls per row")
    n = parser.parse_args().samples

    rows: list[tuple[str, list[int]]] = []
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        endpoint = f"http://127.0.0.1:{sink.stdout.readline().strip()}"
        stackline_sdk.init(ingest_key=KEY, endpoint=endpoint, capture_logging=False)
        stackline_sdk.set_tag("region", "bench")
        for i in range(20):
            stackline_sdk.add_breadcrumb(f"step {i}", category="bench")
        measure(capture_nested, 500, burst=10, every=0.01)  # warm up: linecache, the connection
        stackline_sdk.flush(5)
        for pattern, burst, every in (("one every 2 ms", 1, 0.002), ("bursts of 50", 50, 0.05)):
            for name, call in (
                ("capture_exception", capture_nested),
                ("capture_message", capture_message),
            ):
                rows.append((f"{name}, {pattern}", measure(call, n, burst=burst, every=every)))
                stackline_sdk.flush(5)
        stats = stackline_sdk.stats()

        stackline_sdk.init(
            ingest_key=KEY, endpoint=f"http://127.0.0.1:{closed_port()}", capture_logging=False
        )
        measure(capture_nested, 200)  # fills the queue
        full = measure(capture_nested, n, queued_only=False)
        assert stackline_sdk.stats().dropped_by["queue_full"] >= n
        rows.append(("capture_exception, queue full (dropped)", full))
        rows.append(("raise and catch, no SDK (baseline)", measure(raise_only, n)))
        stackline_sdk.close(0)
    finally:
        sink.terminate()
        sink.wait()

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, load average {os.getloadavg()}")
    print(f"python {platform.python_version()}, stackline-sdk {stackline_sdk.__version__}")
    print(
        f"traceback depth {DEPTH}; {stats.sent} events delivered to the sink,"
        f" {stats.dropped} dropped (queue full, not timed)\n"
    )
    print("| case | calls | median (µs) | p99 (µs) | max (µs) |")
    print("|---|---|---|---|---|")
    results = [summary(name, times) for name, times in rows]
    for row in results:
        print(
            f"| {row['case']} | {row['samples']} | {row['median_us']} | {row['p99_us']}"
            f" | {row['max_us']} |"
        )
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
