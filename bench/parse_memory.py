"""Peak memory of parsing one source map, against what parse_cost() counts for it.

Each map is built, then parsed in a fresh process (`--one KIND`), which resets its peak, then
prints its resident memory before the parse and its peak after (VmRSS, VmHWM): the difference
is what parsing held beyond the map's bytes, which parse_cost() counts too.

    .venv/bin/python -m bench.parse_memory
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from services.ingest.sourcemaps import MAX_ITEMS, LoadedSourceMap, parse_cost

MIB = 1024 * 1024


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _text(mib: int, line: str) -> bytes:
    content = line * (mib * MIB // len(line.encode()))
    return json.dumps(
        {
            "version": 3,
            "sources": ["a.js"],
            "mappings": "AAAA;" * 100_000,
            "sourcesContent": [content],
        },
        ensure_ascii=False,
    ).encode()


MAPS: dict[str, Callable[[], bytes]] = {
    "48 MiB of ASCII text": lambda: _text(48, "export function handler(request) { return 1 }\n"),
    "48 MiB of text, not ASCII": lambda: _text(48, "const é = '😀' // ünïcödé\n"),
    "4M mapping segments": lambda: json.dumps(
        {"version": 3, "sources": ["a.js"], "names": [], "mappings": "AAAA," * (MAX_ITEMS - 10)}
    ).encode(),
    "4M names": lambda: json.dumps(
        {"version": 3, "sources": ["a.js"], "names": ["n"] * (MAX_ITEMS - 10), "mappings": "AAAAA"}
    ).encode(),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--one", choices=MAPS)
    args = parser.parse_args()
    if args.one:
        data = MAPS[args.one]()
        # The peak so far is building the map; "5" starts it again from here (Linux 4.0+).
        Path("/proc/self/clear_refs").write_text("5")
        before = _status("VmRSS")
        LoadedSourceMap.parse(data, budget=2**40)
        print(_status("VmHWM") - before, parse_cost(data), len(data))
        return 0
    print("| map | size | parse_cost | peak while parsing |")
    print("|---|---:|---:|---:|")
    for kind in MAPS:
        out = subprocess.run(
            [sys.executable, "-m", "bench.parse_memory", "--one", kind],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        peak, cost, size = (int(x) for x in out)
        print(f"| {kind} | {size / MIB:.1f} MiB | {cost / MIB:.0f} MiB | {peak / MIB:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
