"""A host app raising and reporting errors at a fixed rate, to check the SDK's memory stays bounded.

    python flood.py ENDPOINT [--rate 10000] [--seconds 10]

Prints one JSON line: errors raised, seconds taken, resident memory sampled
once a second, the largest queue seen, and the SDK's stats after close().
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
    started = time.monotonic()
    next_sample = started
    for n in range(int(args.seconds / tick)):
        for _ in range(per_tick):
            try:
                load_order(raised)
            except ValueError:
                stackline_sdk.capture_exception()
            raised += 1
        max_queued = max(max_queued, stackline_sdk.stats().queued)
        now = time.monotonic()
        if now >= next_sample:
            samples.append(rss_bytes())
            next_sample += 1.0
        # Keep the rate: sleep until this tick's slot ends (never to catch up by bursting).
        delay = started + (n + 1) * tick - now
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - started
    samples.append(rss_bytes())
    stackline_sdk.close(5)
    print(
        json.dumps(
            {
                "raised": raised,
                "seconds": elapsed,
                "rss": samples,
                "max_queued": max_queued,
                "stats": dataclasses.asdict(stackline_sdk.stats()),
            }
        )
    )


if __name__ == "__main__":
    main()
