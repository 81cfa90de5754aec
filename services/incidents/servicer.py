"""IncidentsService's gRPC edge: proto in, proto out; each call is one transaction."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from stackline.common.v1 import common_pb2
from stackline.incidents.v1 import incidents_pb2, incidents_pb2_grpc

from services.incidents import service
from stackline_contract import statuses
from stackline_contract.frames import CauseJSON, FrameJSON
from stackline_infra.db.engine import read
from stackline_infra.db.schema import Event
from stackline_infra.errors import InvalidArgument
from stackline_infra.identity import caller_from_proto, parse_id
from stackline_infra.timestamps import to_proto

_RELATION_TO_PROTO = {
    "cause": incidents_pb2.CAUSE_RELATION_CAUSE,
    "context": incidents_pb2.CAUSE_RELATION_CONTEXT,
    "sub_error": incidents_pb2.CAUSE_RELATION_SUB_ERROR,
}


def _frame(frame: FrameJSON, links: service.FrameLinks) -> common_pb2.Frame:
    message = common_pb2.Frame(
        github_url=links.frame,
        line=frame["line"] or 0,
        column=frame["column"] or 0,
        function=frame["function"],
        in_app=frame["in_app"],
        abs_path=frame.get("abs_path", ""),
    )
    if frame["file"]:
        message.file = frame["file"]
    minified = frame.get("minified")
    if minified is not None:
        message.minified.CopyFrom(
            common_pb2.MinifiedLocation(
                abs_path=minified["abs_path"],
                line=minified["line"] or 0,
                column=minified["column"] or 0,
                function=minified["function"],
            )
        )
    origin = frame.get("eval_origin")
    if origin is not None:
        message.eval_origin.CopyFrom(
            common_pb2.EvalOrigin(
                line=origin["line"] or 0,
                column=origin["column"] or 0,
                abs_path=origin["abs_path"],
                github_url=links.origin,
            )
        )
        if origin["file"]:
            message.eval_origin.file = origin["file"]
    return message


def _frames(
    frames: Sequence[FrameJSON], links: Sequence[service.FrameLinks]
) -> list[common_pb2.Frame]:
    return [_frame(f, link) for f, link in zip(frames, links, strict=True)]


def _cause(cause: CauseJSON, links: Sequence[service.FrameLinks]) -> incidents_pb2.Cause:
    message = incidents_pb2.Cause(
        type=cause["type"],
        message=cause["message"],
        relation=_RELATION_TO_PROTO.get(
            cause["relation"], incidents_pb2.CAUSE_RELATION_UNSPECIFIED
        ),
        frames=_frames(cause["frames"], links),
    )
    if cause["parent"] is not None:
        message.parent = cause["parent"]
    return message


def _event(
    event: Event,
    frame_links: Sequence[service.FrameLinks],
    cause_links: Sequence[Sequence[service.FrameLinks]],
) -> incidents_pb2.Event:
    return incidents_pb2.Event(
        id=str(event.id),
        event_id=str(event.event_id),
        occurred_at=to_proto(event.occurred_at),
        commit_sha=event.commit_sha or "",
        environment=event.environment or "",
        platform=event.platform,
        raw_stack=event.raw_stack,
        frames=_frames(event.frames, frame_links),
        release=event.release or "",
        context_json=orjson.dumps(event.context).decode(),
        causes=[_cause(c, links) for c, links in zip(event.causes, cause_links, strict=True)],
    )


def _incident(view: service.IncidentView) -> incidents_pb2.Incident:
    incident = view.incident
    # Every field in the one constructor call: a page builds 50 of these, and each CopyFrom or
    # extend after it is another pass through protobuf.
    message = incidents_pb2.Incident(
        id=str(incident.id),
        project_id=str(incident.project_id),
        repo=view.repo,
        status=statuses.to_proto(incident.status),
        title=incident.title,
        exception_type=incident.exception_type,
        message=incident.message,
        commit_sha=incident.last_commit_sha or "",
        environment=incident.last_environment or "",
        count=incident.count,
        first_seen=to_proto(incident.first_seen),
        last_seen=to_proto(incident.last_seen),
        github_url=view.github_url,
        culprit=common_pb2.Frame(
            file=incident.culprit_file,
            line=incident.culprit_line or 0,
            column=incident.culprit_column or 0,
            function=incident.culprit_function or "",
            in_app=True,
        )
        if incident.culprit_file is not None
        else None,
        environments=view.environments,
        regression=incidents_pb2.Regression(
            at=to_proto(incident.regressed_at),
            commit_sha=incident.regression_commit_sha or "",
        )
        if incident.regressed_at is not None
        else None,
    )
    if view.latest_event is not None:
        message.latest_event.CopyFrom(_event(view.latest_event, view.frame_links, view.cause_links))
    message.commits.extend(
        incidents_pb2.CommitSeen(
            commit_sha=c.commit_sha,
            environment=c.environment,
            count=c.count,
            first_seen=to_proto(c.first_seen),
            last_seen=to_proto(c.last_seen),
        )
        for c in view.commits
    )
    return message


def _status(value: int, *, required: bool) -> str | None:
    if value == incidents_pb2.INCIDENT_STATUS_UNSPECIFIED and not required:
        return None
    status = statuses.from_proto(value)
    if status is None:
        raise InvalidArgument(
            f"status must be one of {', '.join(statuses.STATUSES)}", field="status"
        )
    return status


class IncidentsServicer(incidents_pb2_grpc.IncidentsServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: AsyncEngine,
        *,
        github_web_url: str,
    ) -> None:
        self._sessions = sessions
        # The list, an editor's poll, is read through a read engine (create_read_engine): an
        # unchanged poll is one statement, one round trip.
        self._reads = reads
        self._github_web_url = github_web_url

    async def ListIncidents(
        self, request: incidents_pb2.ListIncidentsRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ListIncidentsResponse:
        caller = caller_from_proto(request.actor)
        status = _status(request.status, required=False)

        async def list_page(connection: AsyncConnection) -> service.Page:
            return await service.list_incidents(
                connection,
                caller,
                repo=request.repo,
                status=status,
                page_size=request.page_size,
                cursor=request.cursor,
                github_web_url=self._github_web_url,
                known_versions=request.known_versions,
            )

        page = await read(self._reads, list_page)
        return incidents_pb2.ListIncidentsResponse(
            incidents=[_incident(v) for v in page.incidents],
            next_cursor=page.next_cursor,
            version=page.version,
            not_modified=page.not_modified,
        )

    async def GetIncident(
        self, request: incidents_pb2.GetIncidentRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.GetIncidentResponse:
        caller = caller_from_proto(request.actor)
        incident_id = parse_id(request.incident_id, "incident")
        async with self._sessions.begin() as session:
            view = await service.get_incident(
                session, caller, incident_id, github_web_url=self._github_web_url
            )
        return incidents_pb2.GetIncidentResponse(incident=_incident(view))

    async def UpdateIncidentStatus(
        self, request: incidents_pb2.UpdateIncidentStatusRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.UpdateIncidentStatusResponse:
        caller = caller_from_proto(request.actor)
        incident_id = parse_id(request.incident_id, "incident")
        status = _status(request.status, required=True)
        assert status is not None
        async with self._sessions.begin() as session:
            view = await service.set_status(
                session, caller, incident_id, status, github_web_url=self._github_web_url
            )
        return incidents_pb2.UpdateIncidentStatusResponse(incident=_incident(view))
