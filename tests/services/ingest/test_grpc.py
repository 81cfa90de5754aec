"""IngestService through a real channel: one bad event does not sink the rest of its call."""

from __future__ import annotations

import uuid

import grpc
import httpx
from stackline.ingest.v1 import ingest_pb2, ingest_pb2_grpc

from tests.conftest import Stack
from tests.support.api import create_project, sign_in


async def test_an_invalid_event_is_refused_alone(stack: Stack, gateway: httpx.AsyncClient) -> None:
    project = await create_project(gateway, await sign_in(gateway))
    good = ingest_pb2.Event(
        project_id=project.id,
        event_id=str(uuid.uuid4()),
        platform="python",
        exception=ingest_pb2.ExceptionInfo(type="ValueError", message="bad"),
    )
    bad = ingest_pb2.Event(project_id=project.id, event_id="not-a-uuid", platform="python")
    async with grpc.aio.insecure_channel(stack.targets["ingest"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        response = await stub.IngestEvents(
            ingest_pb2.IngestEventsRequest(events=[good, bad, good]), timeout=5
        )
    first, refused, repeat = response.results
    assert first.incident_id and not first.duplicate and not first.HasField("rejection")
    assert refused.rejection.field == "event_id" and not refused.incident_id
    assert repeat.duplicate and repeat.incident_id == first.incident_id
