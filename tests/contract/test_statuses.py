"""Incident statuses: one list, from the proto enum, that the API and the database agree on."""

from __future__ import annotations

from typing import get_args

from stackline.incidents.v1 import incidents_pb2

from services.gateway.schemas.incidents import Status
from stackline_contract import statuses
from stackline_infra.db.schema import INCIDENT_STATUSES


def test_every_status_of_the_enum_has_a_word_and_back() -> None:
    assert statuses.STATUSES == ("open", "resolved", "ignored")
    for word in statuses.STATUSES:
        assert statuses.from_proto(statuses.to_proto(word)) == word
    assert statuses.to_proto("all") == incidents_pb2.INCIDENT_STATUS_UNSPECIFIED
    assert statuses.from_proto(incidents_pb2.INCIDENT_STATUS_UNSPECIFIED) is None
    assert statuses.from_proto(99) is None


def test_the_api_and_the_database_use_the_same_words() -> None:
    assert get_args(Status) == statuses.STATUSES == INCIDENT_STATUSES
