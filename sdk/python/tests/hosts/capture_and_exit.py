"""A host app for the fault-injection tests: reports errors, does its work, exits.

    python capture_and_exit.py ENDPOINT [--count N] [--pause] [--fast-retries]

At exit it prints one JSON line: the SDK's stats (read after the SDK's own
exit flush) and the threads its transport sent from, which must never include
the app's own.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import threading
from typing import Any

KEY = "slk_" + "A1b2C3d4E5" * 4 + "xy"
sent_from: set[str] = set()


def report() -> None:
    # Registered before init(), so it runs after the SDK's exit handler.
    print(
        json.dumps(
            {
                "stats": dataclasses.asdict(stackline_sdk.stats()),
                "sent_from_the_app_thread": "app" in sent_from,
                "sent_from": sorted(sent_from),
            }
        ),
        flush=True,
    )


atexit.register(report)

import stackline_sdk  # noqa: E402 - after the atexit registration, on purpose
from stackline_sdk import _worker  # noqa: E402

_send = stackline_sdk.HTTPTransport.send


def send_noting_the_thread(self: stackline_sdk.HTTPTransport, request: Any) -> Any:
    app = threading.current_thread() is threading.main_thread()
    sent_from.add("app" if app else threading.current_thread().name)
    return _send(self, request)


stackline_sdk.HTTPTransport.send = send_noting_the_thread  # type: ignore[method-assign]


def failing_order(number: int) -> None:
    raise RuntimeError(f"order {number} failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--pause", action="store_true", help="flush after the first error")
    parser.add_argument("--fast-retries", action="store_true")
    args = parser.parse_args()
    if args.fast_retries:
        _worker.DEFAULT_BACKOFF = _worker.Backoff(initial=0.01, maximum=0.05)
    stackline_sdk.init(ingest_key=KEY, endpoint=args.endpoint, timeout=1.0, shutdown_timeout=1.0)
    for number in range(args.count):
        try:
            failing_order(number)
        except RuntimeError:
            stackline_sdk.capture_exception()
        if args.pause and number == 0:
            stackline_sdk.flush(1.0)


if __name__ == "__main__":
    main()
