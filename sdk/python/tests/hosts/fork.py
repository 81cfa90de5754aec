"""A host app that forks while the SDK's worker is in the middle of a request.

    python fork.py ENDPOINT

The child reports its own error and exits; the parent reports one more and
exits. Each prints one JSON line with its role and stats.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import sys
import threading
from typing import Any

import stackline_sdk

KEY = "slk_" + "A1b2C3d4E5" * 4 + "xy"


def report(role: str) -> None:
    stats = dataclasses.asdict(stackline_sdk.stats())
    print(json.dumps({"role": role, "stats": stats}), flush=True)


def main() -> None:
    # Said once the request is written and the worker waits for the (slow) server's answer,
    # the case this host is for. (A fork while the worker is still connecting is another: the
    # child's own send can then stall until its close() gives up.)
    waiting = threading.Event()
    getresponse = http.client.HTTPConnection.getresponse

    def getresponse_and_say(self: http.client.HTTPConnection) -> Any:
        waiting.set()
        return getresponse(self)

    http.client.HTTPConnection.getresponse = getresponse_and_say  # type: ignore[method-assign]
    stackline_sdk.init(ingest_key=KEY, endpoint=sys.argv[1], shutdown_timeout=3)
    stackline_sdk.capture_message("parent before fork")
    if not waiting.wait(30):
        sys.exit("the worker never sent")
    stackline_sdk.capture_message("parent queued at fork")
    # Fork while another thread holds the worker's lock: the child must not
    # inherit it locked (only the forking thread survives a fork).
    held, release = threading.Event(), threading.Event()
    worker = stackline_sdk._hub.get_client()._worker  # type: ignore[union-attr]

    def hold_the_lock() -> None:
        with worker._cond:
            held.set()
            release.wait(2)

    threading.Thread(target=hold_the_lock, daemon=True).start()
    held.wait(2)
    pid = os.fork()
    release.set()
    if pid == 0:
        stackline_sdk.stats()  # would block forever on the inherited lock
        stackline_sdk.capture_message("child")
        stackline_sdk.close(3)
        report("child")
        os._exit(0)
    stackline_sdk.capture_message("parent after fork")
    _, status = os.waitpid(pid, 0)
    stackline_sdk.close(3)
    report("parent")
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
