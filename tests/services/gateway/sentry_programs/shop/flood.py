"""Reports one error after another, each sent before the next is made, so that the gateway
sees every envelope the SDK does not hold back."""

from __future__ import annotations

import sys

import sentry_sdk


def fail(attempt: int) -> None:
    raise RuntimeError(f"attempt {attempt} failed")


def main(attempts: int) -> None:
    # A generous flush at exit: the test machine may be busy.
    sentry_sdk.init(environment="production", shutdown_timeout=20)
    for attempt in range(attempts):
        try:
            fail(attempt)
        except RuntimeError:
            sentry_sdk.capture_exception()
        sentry_sdk.flush(timeout=20)


if __name__ == "__main__":
    main(int(sys.argv[1]))
