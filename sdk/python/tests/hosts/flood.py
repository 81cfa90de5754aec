"""A host app raising and reporting a flood of errors, to check the SDK's memory stays bounded.

    python flood.py ENDPOINT [--rate 10000] [--seconds 10]

Raises rate/100 errors every 10 ms tick, seconds*100 ticks in all: `rate` errors a second, or
fewer on a machine too busy to keep up (a late tick is not made up by a bigger one). Prints one
JSON line:
errors raised, resident memory sampled every 100 ticks, the largest queue seen, and the SDK's
stats after close().
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import stackline_sdk

KEY = "slk_" + "A1b2C3d4E5" * 4 + "xy"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def load_order(number: int) -> None:
    validate_order({"id": number, "items": []})


def validate_order(order: dict[str, object]) -> None:
    if not order["items"]:
        raise ValueError(f"order {order['id']} has no items")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    stackline_sdk.init(ingest_key=KEY, endpoint=args.endpoint)
    stackline_sdk.set_tag("test", "flood")
    per_tick, tick = args.rate // 100, 0.01
    raised, max_queued, samples = 0, 0, []
    next_tick = time.monotonic()
    for n in range(int(args.seconds / tick)):
        for _ in range(per_tick):
            try:
                load_order(raised)
            except ValueError:
                stackline_sdk.capture_exception()
            raised += 1
        max_queued = max(max_queued, stackline_sdk.stats().queued)
        if n % 100 == 0:
            samples.append(rss_bytes())
        next_tick += tick
        while time.monotonic() < next_tick:  # the rest of the tick: the app's other work
            time.sleep(0.001)
    samples.append(rss_bytes())
    stackline_sdk.close(5)
    print(
        json.dumps(
            {
                "raised": raised,
                "rss": samples,
                "max_queued": max_queued,
                "stats": dataclasses.asdict(stackline_sdk.stats()),
            }
        )
    )


if __name__ == "__main__":
    main()
