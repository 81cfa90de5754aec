"""Conversions between aware datetimes and google.protobuf.Timestamp."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_proto(value: datetime) -> Timestamp:
    # The fields computed here rather than by Timestamp.FromDatetime, which costs several times
    # as much: a page of the incident list makes a hundred of these. timedelta keeps seconds
    # and microseconds non-negative before 1970, as a Timestamp's nanos must be.
    if value.tzinfo is None:
        # What astimezone does with a naive value: local time.
        value = value.astimezone(UTC)
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def from_proto(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)
