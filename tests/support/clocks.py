"""Clocks that move only when a test says so: handed to the code in place of the real ones
(stackline_infra.clock), so that a TTL or a grace period passes without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from stackline_infra.db.types import utcnow


class FakeClock:
    """Monotonic seconds, as time.monotonic() gives them."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeWallClock:
    """Aware UTC datetimes, as stackline_infra.db.types.utcnow() gives them; starts at the real
    time, so rows written with the database's own defaults still sort sensibly around it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


HANG_GUARD_SECONDS = 30.0
"""How long a test waits for something that must happen before calling it a hang: far beyond
what a busy machine needs, so that reaching it means the thing never happens (docs/testing.md)."""
