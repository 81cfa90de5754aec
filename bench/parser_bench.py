"""Throughput of the stack parser on one core: frames per CPU-second for each stack format.

Run: .venv/bin/python bench/parser_bench.py [--seconds 1] [--rounds 5]

The stacks are shaped like what the engines print (see tests/services/ingest/stacks for the real
programs): typical depths, real-looking paths, a message header, Node's internal frames.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from services.ingest.stacks import gecko, parse_stack, python, v8

NODE = """TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/var/task/src/api/users.js:42:17)
    at async Promise.all (index 0)
    at async handler (/var/task/src/api/route.js:18:5)
    at Object.<anonymous> (/var/task/src/server.js:7:1)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)
    at Module._extensions..js (node:internal/modules/cjs/loader:1623:10)
    at Module.load (node:internal/modules/cjs/loader:1266:32)
    at Module._load (node:internal/modules/cjs/loader:1091:12)
    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)
    at node:internal/main/run_main_module:28:49"""

CHROME = """Error: Request failed with status 500
    at fetchJson (https://app.example.com/assets/index-4f2a9c.js:1:48213)
    at async loadDashboard (https://app.example.com/assets/index-4f2a9c.js:1:50122)
    at new Dashboard (https://app.example.com/assets/index-4f2a9c.js:1:61877)
    at eval (eval at compile (https://app.example.com/assets/vendor-9d1e.js:2:14), <anonymous>:1:7)
    at Array.map (<anonymous>)
    at https://app.example.com/assets/vendor-9d1e.js:2:99120
    at HTMLButtonElement.onClick [as handler] (https://app.example.com/assets/index-4f2a9c.js:1:7001)
    at https://app.example.com/assets/index-4f2a9c.js:1:1200"""

FIREFOX = """fetchJson@https://app.example.com/assets/index-4f2a9c.js:1:48213
async*loadDashboard@https://app.example.com/assets/index-4f2a9c.js:1:50122
Dashboard@https://app.example.com/assets/index-4f2a9c.js:1:61877
render/<@https://app.example.com/assets/vendor-9d1e.js:2:99120
promise callback*render@https://app.example.com/assets/vendor-9d1e.js:2:98002
compile@https://app.example.com/assets/vendor-9d1e.js line 2 > eval:1:7
@https://app.example.com/assets/index-4f2a9c.js:1:1200
"""

SAFARI = """fetchJson@https://app.example.com/assets/index-4f2a9c.js:1:48213
loadDashboard@https://app.example.com/assets/index-4f2a9c.js:1:50122
Dashboard@https://app.example.com/assets/index-4f2a9c.js:1:61877
map@[native code]
@https://app.example.com/assets/vendor-9d1e.js:2:99120
global code@https://app.example.com/assets/index-4f2a9c.js:1:1200"""

PYTHON = """Traceback (most recent call last):
  File "/app/api/users.py", line 41, in fetch_user
    return cache[user_id]
           ~~~~~^^^^^^^^^
KeyError: 42

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/.venv/lib/python3.11/site-packages/starlette/routing.py", line 74, in app
    response = await func(request)
               ^^^^^^^^^^^^^^^^^^^
  File "/app/.venv/lib/python3.11/site-packages/fastapi/routing.py", line 278, in app
    raw_response = await run_endpoint_function(
                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/app/api/routes.py", line 12, in get_user
    return await service.get(user_id)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/app/api/service.py", line 30, in get
    user = fetch_user(user_id)
           ^^^^^^^^^^^^^^^^^^^
  File "/app/api/users.py", line 43, in fetch_user
    raise UserNotFound(user_id) from error
api.errors.UserNotFound: 42"""

STACKS = {
    "node": (NODE, "node"),
    "chrome": (CHROME, "browser"),
    "firefox": (FIREFOX, "browser"),
    "safari": (SAFARI, "browser"),
    "python": (PYTHON, "python"),
}


def _forget_lines() -> None:
    # The parsers remember the frame lines they parsed (most stacks repeat); clearing them
    # measures a stack seen for the first time.
    for parse_line in (v8._frame, gecko._frame, python._frame):
        parse_line.cache_clear()


def measure(
    raw: str, platform_name: str, seconds: float, rounds: int, *, first_sight: bool
) -> float:
    """Frames per CPU-second parsing the same stack: the best of `rounds` rounds.

    CPU time of this process, not wall time, and the best round, not the mean: the machine may be
    shared, and other processes only ever slow a round down, mostly by taking the core away.
    """
    depth = len(parse_stack(raw, platform_name))
    assert depth > 0
    best = 0.0
    for _ in range(rounds):
        stacks = 0
        started = time.process_time()
        elapsed = 0.0
        while elapsed < seconds:
            for _ in range(1000):
                if first_sight:
                    _forget_lines()
                parse_stack(raw, platform_name)
            stacks += 1000
            elapsed = time.process_time() - started
        best = max(best, stacks * depth / elapsed)
    return best


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds in a round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per format; the best counts")
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print(
        f"{'format':<10}{'frames/stack':>14}{'first sight':>14}{'seen before':>14}  (frames/CPU-s)"
    )
    for name, (raw, platform_name) in STACKS.items():
        depth = len(parse_stack(raw, platform_name))
        cold = measure(raw, platform_name, args.seconds, args.rounds, first_sight=True)
        warm = measure(raw, platform_name, args.seconds, args.rounds, first_sight=False)
        print(f"{name:<10}{depth:>14}{cold:>14,.0f}{warm:>14,.0f}")


if __name__ == "__main__":
    main()
