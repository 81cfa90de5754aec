from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stackline_infra.db.schema import User
from stackline_infra.db.types import new_id


def test_new_ids_are_uuid7_and_ordered_by_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now_ns = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now_ns)
    firsts = [new_id() for _ in range(100)]
    # A millisecond later, every id sorts after every one of the millisecond before.
    monkeypatch.setattr(time, "time_ns", lambda: now_ns + 1_000_000)
    second = new_id()
    assert all(first.version == 7 and first.variant == uuid.RFC_4122 for first in firsts)
    assert second.version == 7
    assert max(firsts) < second
    assert all(first.int >> 80 == now_ns // 1_000_000 for first in firsts)


async def test_times_come_back_aware_and_in_utc(session: AsyncSession) -> None:
    local = datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    user = User(provider="local", provider_user_id="tz-test", login="tz-test", created_at=local)
    session.add(user)
    await session.flush()
    user_id = user.id
    session.expire_all()
    stored = await session.scalar(select(User.created_at).where(User.id == user_id))
    assert stored == local
    assert stored is not None and stored.tzinfo == UTC


async def test_naive_times_are_refused(session: AsyncSession) -> None:
    session.add(
        User(
            provider="local",
            provider_user_id="naive",
            login="naive",
            created_at=datetime(2026, 1, 1),
        )
    )
    with pytest.raises(Exception, match="naive datetime"):
        await session.flush()
