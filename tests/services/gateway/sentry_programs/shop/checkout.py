"""A plain script that crashes: sentry-sdk reports the uncaught error from its excepthook.

As Sentry's documentation sets it up: init() reads SENTRY_DSN and SENTRY_RELEASE.
"""

from __future__ import annotations

import sentry_sdk

PRICES = {"sku-1": 1200}


def price_of(sku: str) -> int:
    return PRICES[sku]  # the line Stackline must show


def main() -> None:
    # A generous flush at exit: the test machine may be busy.
    sentry_sdk.init(environment="production", shutdown_timeout=20)
    price_of("sku-42")


if __name__ == "__main__":
    main()
