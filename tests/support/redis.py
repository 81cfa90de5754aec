"""The Redis the rate-limit tests share counts through."""

from __future__ import annotations

import os
import socket

import pytest


def redis_url() -> str:
    url = os.environ.get("STACKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    host, _, port = url.removeprefix("redis://").split("/", 1)[0].rpartition("@")[2].partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=1):
            pass
    except OSError:
        pytest.skip(
            f"Redis is not reachable at {url} (start redis-server, or set STACKLINE_TEST_REDIS_URL)"
        )
    return url
