"""Who a call is for, and the ids it names, as services read them off a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from stackline.common.v1 import common_pb2

from stackline_infra.errors import NotFound, Unauthenticated


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    source_ip: str


def caller_from_proto(actor: common_pb2.Actor) -> Caller:
    try:
        return Caller(uuid.UUID(actor.user_id), actor.source_ip)
    except ValueError:
        raise Unauthenticated("no signed-in user on this call") from None


def parse_id(value: str, what: str) -> uuid.UUID:
    """A resource id from a request; a malformed one names nothing, so it is simply not found."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no such {what}") from None
