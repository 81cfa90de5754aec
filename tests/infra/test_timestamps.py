"""Timestamps to protos and back: the same fields as protobuf's own FromDatetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from stackline_infra.timestamps import from_proto, to_proto


def _protobufs(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 4, 18, 30, 5, 123456, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        # Before 1970: seconds negative, nanos still between 0 and a second.
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1901, 3, 4, 5, 6, 7, 1, tzinfo=UTC),
        datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 12, 4, 1, 0, tzinfo=timezone(-timedelta(hours=8))),
        # Naive: local time, as astimezone reads it.
        datetime(2026, 6, 1, 12, 0, 0, 500),
    ],
)
def test_to_proto_matches_protobufs_own(value: datetime) -> None:
    assert to_proto(value) == _protobufs(value)
    assert from_proto(to_proto(value)) == value.astimezone(UTC)
