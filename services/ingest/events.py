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
from services.ingest.stacks import StackFrame, parse_stack
from services.ingest.symbolication import JS_PLATFORMS, BatchMaps, Build, MappedFrame, build_of
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
                "timestamp": b.timestamp or None,
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


@dataclass(slots=True)
class ParsedEvent:
    """An event validated and its stack parsed: all that needs no database."""

    event: ingest_pb2.Event
    project_id: uuid.UUID
    event_id: uuid.UUID
    occurred_at: datetime
    exception_type: str
    message: str
    full_stack: str
    frames: list[StackFrame]
    # The build whose source maps can map its frames; JavaScript only.
    build: Build | None


def parse(event: ingest_pb2.Event, received_at: datetime) -> ParsedEvent:
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
    # The parser reads the whole stack (it bounds its own work), so a huge
    # message before the frames does not cost the frames; only what is
    # stored is truncated.
    frames = parse_stack(full_stack, event.platform) if full_stack else []
    is_js = event.platform in JS_PLATFORMS
    return ParsedEvent(
        event=event,
        project_id=project_id,
        event_id=event_id,
        occurred_at=occurred_at,
        exception_type=exception_type,
        message=message,
        full_stack=full_stack,
        frames=frames,
        build=build_of(project_id, event.commit_sha, event.release) if is_js and frames else None,
    )


def _frame(mapped: MappedFrame, deploy_root: str, mappings: PathMappings) -> dict[str, Any]:
    frame = mapped.frame
    file, in_app = to_repo_path(frame.abs_path, deploy_root, mappings)
    row: dict[str, Any] = {
        "file": file,
        "line": frame.line,
        "column": frame.column,
        "function": frame.function,
        "in_app": in_app,
        "abs_path": frame.abs_path,
    }
    if mapped.minified is not None:
        row["minified"] = {
            "abs_path": mapped.minified.abs_path,
            "line": mapped.minified.line,
            "column": mapped.minified.column,
            "function": mapped.minified.function,
        }
    return row


def finish(
    parsed: ParsedEvent, mappings: PathMappings = (), maps: BatchMaps | None = None
) -> PreparedEvent:
    """Source maps, repository paths, culprit, fingerprint: the event as it is stored."""
    event = parsed.event
    notes: list[str] = []
    if event.platform in JS_PLATFORMS:
        mapped, notes = (maps or BatchMaps()).symbolicate(parsed.frames, parsed.build)
    else:
        mapped = [MappedFrame(f) for f in parsed.frames]
    frames = [_frame(m, event.deploy_root, mappings) for m in mapped]
    culprit_frame = next((f for f in frames if f["in_app"] and f["file"]), None)
    culprit = (
        {k: culprit_frame[k] for k in ("file", "line", "column", "function")}
        if culprit_frame
        else None
    )
    context = _context(event)
    if notes:
        context["processing_errors"] = notes
    return PreparedEvent(
        project_id=parsed.project_id,
        event_id=parsed.event_id,
        occurred_at=parsed.occurred_at,
        platform=event.platform,
        commit_sha=event.commit_sha.lower() or None,
        environment=_clean(event.environment[:64]) or None,
        release=_clean(event.release[:200]) or None,
        exception_type=parsed.exception_type,
        message=parsed.message,
        raw_stack=_clean(_truncate_stack(parsed.full_stack, event.platform)),
        frames=frames,
        context=context,
        fingerprint=grouping.fingerprint(
            parsed.exception_type, parsed.message, frames, _clean(event.fingerprint)
        ),
        title=grouping.title(parsed.exception_type, parsed.message, culprit),
        culprit=culprit,
    )


def prepare(
    event: ingest_pb2.Event,
    received_at: datetime,
    mappings: PathMappings = (),
    maps: BatchMaps | None = None,
) -> PreparedEvent:
    return finish(parse(event, received_at), mappings, maps)
