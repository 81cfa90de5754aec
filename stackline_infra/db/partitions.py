"""The weekly partitions of `events` on PostgreSQL: their names, bounds and DDL.

Weeks start on Monday 00:00 UTC. A partition is named by its first day (`events_w20261130`) and
holds the events received that week; `events_default` catches any event received in a week
whose partition was not made in time, so that an insert never fails for want of one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

WEEK = timedelta(days=7)
DEFAULT_PARTITION = "events_default"
_NAME = re.compile(r"^events_w(\d{8})$")


def week_of(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week a moment falls in."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def name_of(week: datetime) -> str:
    return f"events_w{week:%Y%m%d}"


def week_named(name: str) -> datetime | None:
    """The first day of the partition with this name; None for a table that is not one."""
    found = _NAME.match(name)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC)


def create_sql(week: datetime) -> str:
    """DDL for the week's partition; harmless when it exists."""
    start, end = week, week + WEEK
    return (
        f"CREATE TABLE IF NOT EXISTS {name_of(week)} PARTITION OF events"
        f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def weeks_between(first: datetime, last: datetime) -> list[datetime]:
    """Every week from the one `first` falls in to the one `last` falls in."""
    weeks = []
    week = week_of(first)
    while week <= last:
        weeks.append(week)
        week += WEEK
    return weeks


def is_partition(name: str) -> bool:
    """Whether a table is one of `events`' partitions, which the models do not declare."""
    return name == DEFAULT_PARTITION or week_named(name) is not None


def include_in_comparison(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: compare the models with every table but the partitions."""
    return not (type_ == "table" and name is not None and is_partition(name))
