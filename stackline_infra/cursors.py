"""Keyset-paging cursors: an opaque token for the (time, id) of the last row a page showed."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson

from stackline_infra.errors import InvalidArgument


def encode(when: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([when.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    refused = InvalidArgument("cursor is not one this API returned", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = orjson.loads(raw)
        position = datetime.fromisoformat(when), uuid.UUID(row_id)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise refused from None
    if position[0].tzinfo is None:
        raise refused
    return position
