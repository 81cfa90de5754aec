"""Calls the app's failing route twice through its ASGI interface, then flushes Sentry's queue."""

from __future__ import annotations

import sentry_sdk
from fastapi.testclient import TestClient

from .web import app


def main() -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        for order_id in ("2203", "2204"):
            answered = client.get(f"/orders/{order_id}")
            assert answered.status_code == 500, answered.text
    sentry_sdk.flush(timeout=20)


if __name__ == "__main__":
    main()
