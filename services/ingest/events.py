"""One ingest event, from its proto to the row it becomes: parsed, mapped, fingerprinted."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stackline.ingest.v1 import ingest_pb2

from services.ingest import grouping
from services.ingest.paths import PathMappings, to_repo_path
from services.ingest.stacks import parse_stack
from stackline_infra.errors import InvalidArgument
from stackline_infra.timestamps import from_proto

PLATFORMS = frozenset({"node", "browser", "edge", "python"})
MAX_MESSAGE_CHARS = 8 * 1024
MAX_STACK_CHARS = 256 * 1024
_COMMIT_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
# A client clock this far ahead is wrong; the event happened when it arrived.
_MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class PreparedEvent:
    project_id: uuid.UUID
    event_id: uuid.UUID
    occurred_at: datetime
    platform: str
    commit_sha: str | None
    environment: str | None
    release: str | None
    exception_type: str
    message: str
    raw_stack: str
    frames: list[dict[str, Any]]
    context: dict[str, Any]
    fingerprint: str
    title: str
    culprit: dict[str, Any] | None


def _clean(text: str) -> str:
    # PostgreSQL refuses NUL in text and JSONB; the rest of the text is kept.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _truncate_stack(stack: str, platform: str) -> str:
    if len(stack) <= MAX_STACK_CHARS:
        return stack
    # Python prints the innermost frame last, every other runtime first: keep that end.
    return stack[-MAX_STACK_CHARS:] if platform == "python" else stack[:MAX_STACK_CHARS]


def _cause_chain(cause: ingest_pb2.ExceptionInfo) -> list[dict[str, str]]:
    chain = []
    while cause.type or cause.message or cause.stack:
        chain.append(
            {
                "type": _clean(cause.type),
                "message": _clean(cause.message[:MAX_MESSAGE_CHARS]),
                "stack": _clean(cause.stack[:MAX_STACK_CHARS]),
            }
        )
        if not cause.HasField("cause") or len(chain) >= 5:
            break
        cause = cause.cause
    return chain


def _context(event: ingest_pb2.Event) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if event.HasField("runtime"):
        context["runtime"] = {
            "name": _clean(event.runtime.name),
            "version": _clean(event.runtime.version),
        }
    if event.HasField("sdk"):
        context["sdk"] = {"name": _clean(event.sdk.name), "version": _clean(event.sdk.version)}
    if event.HasField("request"):
        context["request"] = {
            "method": _clean(event.request.method),
            "url": _clean(event.request.url),
        }
    if event.tags:
        context["tags"] = {_clean(k): _clean(v) for k, v in event.tags.items()}
    if event.breadcrumbs:
        context["breadcrumbs"] = [
            {
                "timestamp": from_proto(b.timestamp).isoformat()
                if b.HasField("timestamp")
                else None,
                "category": _clean(b.category),
                "message": _clean(b.message),
                "level": _clean(b.level),
            }
            for b in event.breadcrumbs
        ]
    if event.level:
        context["level"] = event.level
    if event.deploy_root:
        context["deploy_root"] = _clean(event.deploy_root)
    if event.exception.HasField("cause"):
        context["causes"] = _cause_chain(event.exception.cause)
    return context


def prepare(
    event: ingest_pb2.Event, received_at: datetime, mappings: PathMappings = ()
) -> PreparedEvent:
    try:
        project_id = uuid.UUID(event.project_id)
    except ValueError:
        raise InvalidArgument("project_id is not a UUID", field="project_id") from None
    try:
        event_id = uuid.UUID(event.event_id)
    except ValueError:
        raise InvalidArgument("event_id is not a UUID", field="event_id") from None
    if event.platform not in PLATFORMS:
        raise InvalidArgument(
            f"platform must be one of {', '.join(sorted(PLATFORMS))}", field="platform"
        )
    if event.commit_sha and not _COMMIT_SHA.fullmatch(event.commit_sha):
        raise InvalidArgument("commit_sha must be 7 to 40 hexadecimal digits", field="commit_sha")

    occurred_at = from_proto(event.timestamp) if event.HasField("timestamp") else received_at
    if occurred_at > received_at + _MAX_CLOCK_SKEW:
        occurred_at = received_at

    if event.HasField("exception"):
        exception_type = _clean(event.exception.type[:256]) or "Error"
        message = _clean(event.exception.message[:MAX_MESSAGE_CHARS])
        full_stack = event.exception.stack
    else:
        exception_type = "Message"
        message = _clean(event.message[:MAX_MESSAGE_CHARS])
        full_stack = ""

    frames: list[dict[str, Any]] = []
    # The parser reads the whole stack (it bounds its own work), so a huge
    # message before the frames does not cost the frames; only what is
    # stored is truncated.
    for frame in parse_stack(full_stack, event.platform) if full_stack else ():
        file, in_app = to_repo_path(frame.abs_path, event.deploy_root, mappings)
        frames.append(
            {
                "file": file,
                "line": frame.line,
                "column": frame.column,
                "function": frame.function,
                "in_app": in_app,
                "abs_path": frame.abs_path,
            }
        )
    culprit_frame = next((f for f in frames if f["in_app"] and f["file"]), None)
    culprit = (
        {k: culprit_frame[k] for k in ("file", "line", "column", "function")}
        if culprit_frame
        else None
    )
    return PreparedEvent(
        project_id=project_id,
        event_id=event_id,
        occurred_at=occurred_at,
        platform=event.platform,
        commit_sha=event.commit_sha.lower() or None,
        environment=_clean(event.environment[:64]) or None,
        release=_clean(event.release[:200]) or None,
        exception_type=exception_type,
        message=message,
        raw_stack=_clean(_truncate_stack(full_stack, event.platform)),
        frames=frames,
        context=_context(event),
        fingerprint=grouping.fingerprint(
            exception_type, message, frames, _clean(event.fingerprint)
        ),
        title=grouping.title(exception_type, message, culprit),
        culprit=culprit,
    )
