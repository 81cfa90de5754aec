"""An incident's status: the word the API and the database use, and its proto enum value.

Derived from the proto enum, so a status added there is known everywhere at once.
"""

from typing import TypeAlias

from stackline.incidents.v1 import incidents_pb2

IncidentStatus: TypeAlias = incidents_pb2.IncidentStatus.ValueType

_PREFIX = "INCIDENT_STATUS_"
_TO_PROTO: dict[str, IncidentStatus] = {
    name.removeprefix(_PREFIX).lower(): value
    for name, value in incidents_pb2.IncidentStatus.items()
    if value != incidents_pb2.INCIDENT_STATUS_UNSPECIFIED
}
_FROM_PROTO = {value: name for name, value in _TO_PROTO.items()}

STATUSES: tuple[str, ...] = tuple(_TO_PROTO)


def to_proto(status: str) -> IncidentStatus:
    """The enum value of a status word; UNSPECIFIED for anything else."""
    return _TO_PROTO.get(status, incidents_pb2.INCIDENT_STATUS_UNSPECIFIED)


def from_proto(value: int) -> str | None:
    """The word of an enum value; None for UNSPECIFIED or a value this build does not know."""
    return _FROM_PROTO.get(incidents_pb2.IncidentStatus.ValueType(value))
