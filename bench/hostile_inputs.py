"""CPU time of the hostile inputs the tests feed the stack parser and the source-map loader.

Run from the repository root: .venv/bin/python -m bench.hostile_inputs [--rounds 3]

The inputs are the tests' own (tests/services/ingest/stacks/test_hostile.py and
tests/services/ingest/test_sourcemaps.py), which bound the work these cost by counting it; this
says what that work takes on the machine it runs on. Each figure is the best of a few rounds of
CPU time of this process: other processes on a shared machine only ever slow a round down.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import time
from collections.abc import Callable

from bench.parser_bench import cpu_model
from services.ingest.sourcemaps import LoadedSourceMap, SourceMapError
from services.ingest.stacks import gecko, parse_stack, python, v8
from tests.services.ingest.stacks import test_hostile as stacks
from tests.services.ingest.test_sourcemaps import BAD_MAPS, MAPS_AT_THE_LIMITS

MB = 1024 * 1024


def stack_inputs() -> dict[str, Callable[[], str]]:
    inputs: dict[str, Callable[[], str]] = {
        "V8, a million frames": lambda: stacks.v8_stack(1_000_000),
        "Firefox, a million frames": lambda: stacks.firefox_stack(1_000_000),
        "Python, a million frames": lambda: stacks.python_traceback(1_000_000),
        "V8, 10 MB of frames": lambda: stacks.v8_stack(10 * MB // 25),
        "10 MB of `at ` lines that never parse": lambda: "Error\n" + "    at \n" * (10 * MB // 8),
        "binary junk, 10 MB": lambda: stacks.junk(10 * MB),
        "NULs, 10 MB": lambda: "\0" * 10 * MB,
        "newlines, 10 MB": lambda: "\n" * 10 * MB,
        "lone surrogates, 1 M": lambda: "\ud800" * MB,
    }
    for name, line in stacks.HOSTILE_LINES.items():
        inputs[f"line: {name}"] = lambda line=line: line  # type: ignore[misc]
        inputs[f"line x20: {name}"] = lambda line=line: (line + "\n") * 20  # type: ignore[misc]
    return inputs


def cpu_seconds(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def parse_cold(raw: str, platform_name: str) -> None:
    for module in (v8, gecko, python):
        module._frame.cache_clear()  # every line a first sight, as for a new bug
    parse_stack(raw, platform_name)


def load_map(data: bytes) -> None:
    with contextlib.suppress(SourceMapError):
        LoadedSourceMap.parse(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per input; the best counts")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")

    print(f"\n{'stack (slowest of node, browser, edge, python)':<60}{'ms':>10}")
    for name, make in stack_inputs().items():
        raw = make()
        slowest = max(
            cpu_seconds(functools.partial(parse_cold, raw, p), args.rounds)
            for p in stacks.PLATFORMS
        )
        print(f"{name:<60}{slowest * 1000:>10.2f}")

    print(f"\n{'source map':<60}{'MB':>8}{'ms':>10}")
    maps: list[tuple[str, Callable[[], bytes]]] = [
        (f"at the limit: {name}", make) for name, (make, _) in MAPS_AT_THE_LIMITS.items()
    ]
    maps += [(f"refused: {param.id}", param.values[0]) for param in BAD_MAPS]  # type: ignore[misc]
    for name, make_map in maps:
        data = make_map()
        seconds = cpu_seconds(functools.partial(load_map, data), args.rounds)
        print(f"{name:<60}{len(data) / MB:>8.1f}{seconds * 1000:>10.2f}")


if __name__ == "__main__":
    main()
