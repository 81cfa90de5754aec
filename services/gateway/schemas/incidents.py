"""Incidents as the API shows them: list items, one incident with its latest event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field
from stackline.common.v1 import common_pb2
from stackline.incidents.v1 import incidents_pb2

from stackline_contract import statuses
from stackline_infra.timestamps import from_proto

# The OpenAPI document lists the words; tests/contract/test_statuses.py holds them to
# stackline_contract.statuses, which derives them from the proto enum.
Status = Literal["open", "resolved", "ignored"]


class MinifiedLocation(BaseModel):
    abs_path: str
    line: int | None
    column: int | None
    function: str


class EvalOrigin(BaseModel):
    file: str | None = Field(
        description="Relative to the repository root; null outside the repository."
    )
    line: int | None = Field(description="1-based.")
    column: int | None = Field(description="Null where the runtime printed none (Firefox).")
    abs_path: str = Field(description="The path as the runtime printed it.")
    github_url: str | None = Field(description="Permalink to this line at the event's commit.")

    @classmethod
    def from_proto(cls, origin: common_pb2.EvalOrigin) -> EvalOrigin:
        return cls(
            file=origin.file if origin.HasField("file") else None,
            line=origin.line or None,
            column=origin.column or None,
            abs_path=origin.abs_path,
            github_url=origin.github_url or None,
        )


class Frame(BaseModel):
    file: str | None = Field(
        description="Relative to the repository root; null outside the repository."
    )
    line: int | None = Field(description="1-based.")
    column: int | None
    function: str
    in_app: bool
    abs_path: str = Field(description="The path as the runtime printed it.")
    github_url: str | None = Field(description="Permalink to this line at the event's commit.")
    minified: MinifiedLocation | None = Field(
        description="Where the frame was in the minified bundle, when a source map moved it."
    )
    eval_origin: EvalOrigin | None = Field(
        description=(
            "Set when the frame runs code made at run time (eval, new Function): code generated "
            "at this place. Such a frame has no file; its line and column are inside that code."
        ),
    )

    @classmethod
    def from_proto(cls, frame: common_pb2.Frame) -> Frame:
        return cls(
            file=frame.file if frame.HasField("file") else None,
            line=frame.line or None,
            column=frame.column or None,
            function=frame.function,
            in_app=frame.in_app,
            abs_path=frame.abs_path,
            github_url=frame.github_url or None,
            minified=MinifiedLocation(
                abs_path=frame.minified.abs_path,
                line=frame.minified.line or None,
                column=frame.minified.column or None,
                function=frame.minified.function,
            )
            if frame.HasField("minified")
            else None,
            eval_origin=EvalOrigin.from_proto(frame.eval_origin)
            if frame.HasField("eval_origin")
            else None,
        )


Relation = Literal["cause", "context", "sub_error"]
_RELATIONS: dict[int, Relation] = {
    incidents_pb2.CAUSE_RELATION_CAUSE: "cause",
    incidents_pb2.CAUSE_RELATION_CONTEXT: "context",
    incidents_pb2.CAUSE_RELATION_SUB_ERROR: "sub_error",
}


class Cause(BaseModel):
    type: str = Field(description="Empty when the cause is a value, not an error.")
    message: str
    relation: Relation = Field(
        description=(
            "cause: what this error was raised from (JavaScript `cause`, Python `raise ... "
            "from`); context: what was being handled when it was raised (Python); sub_error: "
            "an element of an AggregateError or an ExceptionGroup."
        )
    )
    parent: int | None = Field(
        description="Index in `causes` of the error this one belongs to; null for the event's own."
    )
    frames: list[Frame] = Field(description="Innermost first, at most 50.")

    @classmethod
    def from_proto(cls, cause: incidents_pb2.Cause) -> Cause:
        return cls(
            type=cause.type,
            message=cause.message,
            relation=_RELATIONS.get(cause.relation, "cause"),
            parent=cause.parent if cause.HasField("parent") else None,
            frames=[Frame.from_proto(f) for f in cause.frames],
        )


class Culprit(BaseModel):
    file: str
    line: int | None
    column: int | None
    function: str


class Event(BaseModel):
    id: str
    event_id: str
    occurred_at: datetime
    commit_sha: str | None
    environment: str | None
    platform: str
    release: str | None
    raw_stack: str
    frames: list[Frame] = Field(description="Innermost first: frames[0] raised.")
    causes: list[Cause] = Field(
        description=(
            "The errors printed or sent with the thrown one, each after the one it belongs to: "
            "its cause and theirs, an AggregateError's or ExceptionGroup's members. They do not "
            "decide the culprit."
        ),
    )
    context: dict[str, Any] = Field(description="Runtime, SDK, request, tags, breadcrumbs, causes.")
    processing_errors: list[str] = Field(
        description="What Stackline could not do with this event, such as a missing source map."
    )

    @classmethod
    def from_proto(cls, event: incidents_pb2.Event) -> Event:
        context = orjson.loads(event.context_json) if event.context_json else {}
        return cls(
            id=event.id,
            event_id=event.event_id,
            occurred_at=from_proto(event.occurred_at),
            commit_sha=event.commit_sha or None,
            environment=event.environment or None,
            platform=event.platform,
            release=event.release or None,
            raw_stack=event.raw_stack,
            frames=[Frame.from_proto(f) for f in event.frames],
            causes=[Cause.from_proto(c) for c in event.causes],
            context=context,
            processing_errors=list(context.get("processing_errors", [])),
        )


class Regression(BaseModel):
    at: datetime
    commit_sha: str | None = Field(description="The commit of the event that reopened it.")


class CommitSeen(BaseModel):
    commit_sha: str | None
    environment: str | None
    count: int
    first_seen: datetime
    last_seen: datetime


class Incident(BaseModel):
    id: str
    project_id: str
    repo: str
    status: Status
    title: str
    exception_type: str
    message: str
    culprit: Culprit | None = Field(
        description="The innermost frame in the repository; null when none is."
    )
    commit_sha: str | None = Field(description="The commit the incident was last seen at.")
    environment: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    github_url: str | None = Field(description="Permalink to the culprit line at commit_sha.")
    environments: list[str] = Field(description="Every environment it was seen in.")
    regression: Regression | None = Field(
        description="Set when it happened again after being resolved."
    )

    @classmethod
    def from_proto(cls, incident: incidents_pb2.Incident) -> Incident:
        culprit = None
        if incident.HasField("culprit"):
            culprit = Culprit(
                file=incident.culprit.file,
                line=incident.culprit.line or None,
                column=incident.culprit.column or None,
                function=incident.culprit.function,
            )
        return cls(
            id=incident.id,
            project_id=incident.project_id,
            repo=incident.repo,
            status=cast(Status, statuses.from_proto(incident.status)),
            title=incident.title,
            exception_type=incident.exception_type,
            message=incident.message,
            culprit=culprit,
            commit_sha=incident.commit_sha or None,
            environment=incident.environment or None,
            count=incident.count,
            first_seen=from_proto(incident.first_seen),
            last_seen=from_proto(incident.last_seen),
            github_url=incident.github_url or None,
            environments=list(incident.environments),
            regression=Regression(
                at=from_proto(incident.regression.at),
                commit_sha=incident.regression.commit_sha or None,
            )
            if incident.HasField("regression")
            else None,
        )


class IncidentDetail(Incident):
    latest_event: Event | None
    commits: list[CommitSeen] = Field(
        description="Commits and environments it was seen at, most recently seen first (up to 20)."
    )

    @classmethod
    def from_proto(cls, incident: incidents_pb2.Incident) -> IncidentDetail:
        return cls(
            **Incident.from_proto(incident).model_dump(),
            latest_event=Event.from_proto(incident.latest_event)
            if incident.HasField("latest_event")
            else None,
            commits=[
                CommitSeen(
                    commit_sha=c.commit_sha or None,
                    environment=c.environment or None,
                    count=c.count,
                    first_seen=from_proto(c.first_seen),
                    last_seen=from_proto(c.last_seen),
                )
                for c in incident.commits
            ],
        )


class IncidentList(BaseModel):
    incidents: list[Incident]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class IncidentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
