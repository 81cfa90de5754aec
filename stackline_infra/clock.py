"""The clocks Stackline reads time from, passed in so that tests move time instead of sleeping.

Code that remembers something for a while (a cache entry, a grace period, a sign-in state) takes
one of these as a parameter, defaulting to the real clock; a test hands in a clock it advances.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

MonotonicClock = Callable[[], float]
"""Seconds that only go forward (time.monotonic): TTLs and intervals inside one process."""

WallClock = Callable[[], datetime]
"""Aware UTC datetimes (stackline_infra.db.types.utcnow): times stored or compared with stored
ones, such as when a rotated key stops working."""
