"""CPU per event of IngestService's event preparation, with and without server-side scrubbing.

Run from the repository root: .venv/bin/python -m bench.scrubbing_cpu [--events 2000] [--rounds 5]

The events are bench/ingest_load.py's (Node, 20 frames, ids in the message, tags, 4-8
breadcrumbs: 3.0-3.6 KB), once as an SDK that scrubs sends them and once with personal data and
secrets in the message, stack, request, tags and breadcrumbs. Each figure is the best of a few
rounds of this process's CPU time: other processes on a shared machine only ever slow a round
down. Parse and finish are what IngestService does per event before the database; the database
work per event is not here.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from stackline.ingest.v1 import ingest_pb2

from bench.ingest_load import make_event
from bench.parser_bench import cpu_model
from services.ingest.events import finish, parse
from services.ingest.scrubbing import DEFAULT_RULES, Scrubber, ScrubRules, forget_scrubbed_lines

PROJECT = str(uuid.uuid4())


def _leaky(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same event as an old SDK or curl sends it: secrets and personal data left in."""
    user = f"user{rng.randint(1, 10**6)}@example.com"
    exception = dict(event["exception"])
    exception["message"] = f"{exception['message']} for {user} password=hunter{rng.randint(1, 99)}"
    exception["stack"] = exception["stack"].replace(
        event["exception"]["message"], exception["message"], 1
    )
    return {
        **event,
        "exception": exception,
        "request": {"method": "POST", "url": "https://shop.example.com/login?token=abc123&next=/"},
        "tags": {**event["tags"], "client_ip": f"198.51.100.{rng.randint(1, 254)}"},
        "breadcrumbs": [
            *event["breadcrumbs"],
            {"category": "http", "message": "POST /pay card=4111 1111 1111 1111", "level": "info"},
            {"category": "auth", "message": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"},
        ],
    }


def _events(count: int, *, leaky: bool) -> list[ingest_pb2.Event]:
    rng = random.Random(7)
    events = []
    for _ in range(count):
        event = make_event(rng)
        if leaky:
            event = _leaky(event, rng)
        events.append(json_format.ParseDict({**event, "project_id": PROJECT}, ingest_pb2.Event()))
    return events


def _best_cpu(work: Callable[[], None], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        # Every round starts with nothing remembered: what repeats does so within the round, as
        # the frames of one bug do from event to event.
        forget_scrubbed_lines()
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def _prepare_all(
    events: list[ingest_pb2.Event], scrubbing: ScrubRules | None
) -> Callable[[], None]:
    now = datetime.now(UTC)

    def run() -> None:
        for event in events:
            finish(parse(event, now), scrubbing=scrubbing)

    return run


def _scrub_once(text: str) -> None:
    Scrubber().text(text)


HOSTILE = {
    "256 KiB of `eyJ-`": "eyJ-" * 65536,
    "256 KiB of `a.` then `@`": "a." * 131072 + "@",
    "256 KiB of `1 `": "1 " * 131072,
    "256 KiB of `:`": ":" * 262144,
    "256 KiB of `x://y:`": "x://y:" * 43690,
    "256 KiB of a Node stack": "    at getUser (/var/task/src/users.js:10:15)\n" * 5700,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{cpu_model()}, {os.cpu_count()} cores; best of {args.rounds} rounds of CPU time")
    print("| events | without scrubbing | with scrubbing | scrubbing adds |")
    print("|---|---:|---:|---:|")
    for name, leaky in (("as the SDKs send them", False), ("with secrets and PII", True)):
        events = _events(args.events, leaky=leaky)
        off = _best_cpu(_prepare_all(events, None), args.rounds) / len(events)
        on = _best_cpu(_prepare_all(events, DEFAULT_RULES), args.rounds) / len(events)
        print(
            f"| {name} | {off * 1e6:.0f} µs | {on * 1e6:.0f} µs | {(on - off) * 1e6:.0f} µs"
            f" ({(on - off) / off:.0%}) |"
        )
    print()
    print("| hostile text, scrubbed alone | CPU |")
    print("|---|---:|")
    for name, text in HOSTILE.items():
        cpu = _best_cpu(functools.partial(_scrub_once, text), args.rounds)
        print(f"| {name} | {cpu * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
