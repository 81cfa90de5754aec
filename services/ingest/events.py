"""One ingest event, from its proto to the row it becomes: parsed, mapped, fingerprinted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stackline.ingest.v1 import ingest_pb2

from services.ingest import grouping
from services.ingest.paths import PathMappings, is_pseudo_file, to_repo_path
from services.ingest.scrubbing import DEFAULT_RULES, Scrubber, ScrubRules, scrub_json
from services.ingest.stacks import (
    CAUSE,
    EvalOrigin,
    NestedError,
    ParsedStack,
    StackFrame,
    parse_exception,
)
from services.ingest.symbolication import (
    JS_PLATFORMS,
    MAX_NOTES,
    BatchMaps,
    Build,
    MappedFrame,
    build_of,
    unmapped,
)
from stackline_contract import github
from stackline_contract.events import without_nul
from stackline_contract.frames import CauseJSON, EvalOriginJSON, FrameJSON
from stackline_infra.errors import InvalidArgument
from stackline_infra.timestamps import from_proto

PLATFORMS = frozenset({"node", "browser", "edge", "python"})
MAX_MESSAGE_CHARS = 8 * 1024
MAX_STACK_CHARS = 256 * 1024
# A cause is shown, not grouped on: its message and innermost frames are enough to read it by.
MAX_CAUSE_MESSAGE_CHARS = 2 * 1024
MAX_CAUSE_FRAMES = 50
# Causes an SDK sends beside the stack (`exception.cause`), followed this deep.
MAX_SENT_CAUSES = 5
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
    frames: list[FrameJSON]
    causes: list[CauseJSON]
    context: dict[str, Any]
    # By grouping version, oldest first: the event joins the incident the first of them finds.
    fingerprints: dict[int, str]
    title: str
    culprit: dict[str, Any] | None

    @property
    def fingerprint(self) -> str:
        """The fingerprint a new incident of this event is made with."""
        return self.fingerprints[grouping.GROUPING_VERSION]


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
                "type": without_nul(cause.type),
                "message": without_nul(cause.message[:MAX_MESSAGE_CHARS]),
                "stack": without_nul(cause.stack[:MAX_STACK_CHARS]),
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
            "name": without_nul(event.runtime.name),
            "version": without_nul(event.runtime.version),
        }
    if event.HasField("sdk"):
        context["sdk"] = {
            "name": without_nul(event.sdk.name),
            "version": without_nul(event.sdk.version),
        }
    if event.HasField("request"):
        context["request"] = {
            "method": without_nul(event.request.method),
            "url": without_nul(event.request.url),
        }
    if event.tags:
        context["tags"] = {without_nul(k): without_nul(v) for k, v in event.tags.items()}
    if event.breadcrumbs:
        context["breadcrumbs"] = [
            {
                "timestamp": b.timestamp or None,
                "category": without_nul(b.category),
                "message": without_nul(b.message),
                "level": without_nul(b.level),
            }
            for b in event.breadcrumbs
        ]
    if event.level:
        context["level"] = event.level
    if event.deploy_root:
        context["deploy_root"] = without_nul(event.deploy_root)
    if event.exception.HasField("cause"):
        context["causes"] = _cause_chain(event.exception.cause)
    return context


def _sent_causes(event: ingest_pb2.Event) -> list[NestedError]:
    """The causes an SDK sent beside the stack, each parsed from its own stack text."""
    causes: list[NestedError] = []
    if not event.HasField("exception") or not event.exception.HasField("cause"):
        return causes
    cause = event.exception.cause
    while len(causes) < MAX_SENT_CAUSES and (cause.type or cause.message or cause.stack):
        frames = parse_exception(cause.stack, event.platform).frames if cause.stack else []
        parent = len(causes) - 1 if causes else None
        causes.append(NestedError(cause.type, cause.message, CAUSE, parent, tuple(frames)))
        if not cause.HasField("cause"):
            break
        cause = cause.cause
    return causes


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
    stack: ParsedStack
    # The build whose source maps can map its frames; JavaScript only.
    build: Build | None

    @property
    def frames(self) -> list[StackFrame]:
        return self.stack.frames

    def frames_to_map(self) -> list[StackFrame]:
        """Every frame a source map may move: the thrown error's, its causes', version 1's."""
        frames = list(self.stack.frames)
        for cause in self.stack.causes:
            frames.extend(cause.frames)
        frames.extend(self.stack.v1_frames or ())
        return frames


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
    if event.commit_sha and github.normalise_sha(event.commit_sha) is None:
        raise InvalidArgument("commit_sha must be 7 to 40 hexadecimal digits", field="commit_sha")

    occurred_at = from_proto(event.timestamp) if event.HasField("timestamp") else received_at
    if occurred_at > received_at + _MAX_CLOCK_SKEW:
        occurred_at = received_at

    if event.HasField("exception"):
        exception_type = without_nul(event.exception.type[:256]) or "Error"
        message = without_nul(event.exception.message[:MAX_MESSAGE_CHARS])
        full_stack = event.exception.stack
    else:
        exception_type = "Message"
        message = without_nul(event.message[:MAX_MESSAGE_CHARS])
        full_stack = ""
    # The parser reads the whole stack (it bounds its own work), so a huge
    # message before the frames does not cost the frames; only what is
    # stored is truncated.
    stack = parse_exception(full_stack, event.platform) if full_stack else ParsedStack([], [])
    if not stack.causes:
        # Causes printed in the stack win (Python's chains, Node's util.inspect); an SDK that
        # sends error.stack, which prints none, sends each cause on its own.
        stack = ParsedStack(stack.frames, _sent_causes(event), stack.v1_frames)
    is_js = event.platform in JS_PLATFORMS
    mappable = bool(stack.frames or stack.causes)
    return ParsedEvent(
        event=event,
        project_id=project_id,
        event_id=event_id,
        occurred_at=occurred_at,
        exception_type=exception_type,
        message=message,
        full_stack=full_stack,
        stack=stack,
        build=build_of(project_id, event.commit_sha, event.release) if is_js and mappable else None,
    )


def _frame(
    mapped: MappedFrame, deploy_root: str, mappings: PathMappings, *, pseudo_files: bool = True
) -> FrameJSON:
    frame = mapped.frame
    if frame.eval_origin is not None:
        # Code made at run time is in no file of the repository; where it was made is.
        file, in_app = None, False
    else:
        file, in_app = to_repo_path(
            frame.abs_path, deploy_root, mappings, pseudo_files=pseudo_files
        )
    row: FrameJSON = {
        "file": file,
        "line": frame.line,
        "column": frame.column,
        "function": frame.function,
        "in_app": in_app,
        "abs_path": frame.abs_path,
    }
    if frame.eval_origin is not None:
        row["eval_origin"] = _origin(frame.eval_origin, deploy_root, mappings)
    if mapped.minified is not None:
        row["minified"] = {
            "abs_path": mapped.minified.abs_path,
            "line": mapped.minified.line,
            "column": mapped.minified.column,
            "function": mapped.minified.function,
        }
    return row


def _origin(origin: EvalOrigin, deploy_root: str, mappings: PathMappings) -> EvalOriginJSON:
    file, _ = to_repo_path(origin.abs_path, deploy_root, mappings)
    return {
        "file": file,
        "line": origin.line,
        "column": origin.column,
        "abs_path": origin.abs_path,
    }


class _Placer:
    """Maps and places frames for one event, and gathers what the source maps could not do."""

    def __init__(self, parsed: ParsedEvent, mappings: PathMappings, maps: BatchMaps | None):
        self._parsed = parsed
        self._mappings = mappings
        self._maps = maps or BatchMaps()
        self.notes: list[str] = []

    def mapped(self, frames: list[StackFrame]) -> list[MappedFrame]:
        if self._parsed.event.platform not in JS_PLATFORMS:
            return [unmapped(f)[0] for f in frames]
        mapped, notes = self._maps.symbolicate(frames, self._parsed.build)
        self.notes.extend(notes)
        return mapped

    def placed(self, mapped: list[MappedFrame], *, pseudo_files: bool = True) -> list[FrameJSON]:
        root = self._parsed.event.deploy_root
        return [_frame(m, root, self._mappings, pseudo_files=pseudo_files) for m in mapped]


def _keys(rows: list[FrameJSON], mapped: list[MappedFrame]) -> list[tuple[str, str]]:
    """Grouping version 2's (file, function key) of each in-app frame."""
    return [
        (
            row["file"],
            (m.grouping_name or "")
            if m.minified is not None
            else grouping.function_key(row["function"]),
        )
        for row, m in zip(rows, mapped, strict=True)
        if row["in_app"] and row["file"]
    ]


def _fingerprints(
    parsed: ParsedEvent,
    placer: _Placer,
    frames: tuple[list[FrameJSON], list[MappedFrame]],
    nested: list[tuple[str, str]],
) -> dict[int, str]:
    custom = without_nul(parsed.event.fingerprint)
    rows, mapped = frames
    v1_rows = rows
    stack = parsed.stack
    if stack.v1_frames is not None:
        v1_rows = placer.placed(placer.mapped(stack.v1_frames), pseudo_files=False)
    elif any(is_pseudo_file(frame.abs_path) for frame in stack.frames):
        v1_rows = placer.placed(mapped, pseudo_files=False)
    return {
        1: grouping.fingerprint_v1(parsed.exception_type, parsed.message, v1_rows, custom),
        2: grouping.fingerprint_v2(
            parsed.exception_type, parsed.message, _keys(rows, mapped), custom, nested
        ),
    }


def finish(
    parsed: ParsedEvent,
    mappings: PathMappings = (),
    maps: BatchMaps | None = None,
    scrubbing: ScrubRules | None = DEFAULT_RULES,
) -> PreparedEvent:
    """Source maps, repository paths, culprit, fingerprints, then secrets and personal data
    scrubbed (unless `scrubbing` is None): the event as it is stored."""
    event = parsed.event
    placer = _Placer(parsed, mappings, maps)
    mapped = placer.mapped(parsed.frames)
    frames = placer.placed(mapped)
    causes: list[CauseJSON] = []
    nested: list[tuple[str, str]] = []
    for cause in parsed.stack.causes:
        cause_mapped = placer.mapped(list(cause.frames[:MAX_CAUSE_FRAMES]))
        cause_rows = placer.placed(cause_mapped)
        nested.extend(_keys(cause_rows, cause_mapped))
        causes.append(
            {
                "type": without_nul(cause.type[:256]),
                "message": without_nul(cause.message[:MAX_CAUSE_MESSAGE_CHARS]),
                "relation": cause.relation,
                "parent": cause.parent,
                "frames": cause_rows,
            }
        )
    fingerprints = _fingerprints(parsed, placer, (frames, mapped), nested)
    notes = list(dict.fromkeys(placer.notes))[:MAX_NOTES]
    culprit_frame = next((f for f in frames if f["in_app"] and f["file"]), None)
    culprit = (
        {k: culprit_frame[k] for k in ("file", "line", "column", "function")}
        if culprit_frame
        else None
    )
    context = _context(event)
    if notes:
        context["processing_errors"] = notes
    message = parsed.message
    raw_stack = without_nul(_truncate_stack(parsed.full_stack, event.platform))
    if scrubbing is not None:
        # After grouping: fingerprints are one-way digests of messages grouping has already
        # stripped of what varies, so an incident keeps its fingerprint whatever is scrubbed.
        scrubber = Scrubber(scrubbing)
        message = scrubber.text(message)
        raw_stack = scrubber.text(raw_stack)
        _scrub_frames(scrubber, frames)
        for cause_row in causes:
            cause_row["message"] = scrubber.text(cause_row["message"])
            _scrub_frames(scrubber, cause_row["frames"])
        context = scrub_json(scrubber, context)
        if scrubber.counts:
            context["scrubbed"] = scrubber.report()
    return PreparedEvent(
        project_id=parsed.project_id,
        event_id=parsed.event_id,
        occurred_at=parsed.occurred_at,
        platform=event.platform,
        commit_sha=event.commit_sha.lower() or None,
        environment=without_nul(event.environment[:64]) or None,
        release=without_nul(event.release[:200]) or None,
        exception_type=parsed.exception_type,
        message=message,
        raw_stack=raw_stack,
        frames=frames,
        causes=causes,
        context=context,
        fingerprints=fingerprints,
        title=grouping.title(parsed.exception_type, message, culprit),
        culprit=culprit,
    )


def _scrub_frames(scrubber: Scrubber, frames: list[FrameJSON]) -> None:
    """Where each frame ran from: a URL may carry a token or a user's address. The repository
    path (`file`) was found before and is the project's own."""
    for frame in frames:
        frame["abs_path"] = scrubber.text(frame["abs_path"])
        if "minified" in frame:
            frame["minified"]["abs_path"] = scrubber.text(frame["minified"]["abs_path"])
        if "eval_origin" in frame:
            frame["eval_origin"]["abs_path"] = scrubber.text(frame["eval_origin"]["abs_path"])


def prepare(
    event: ingest_pb2.Event,
    received_at: datetime,
    mappings: PathMappings = (),
    maps: BatchMaps | None = None,
) -> PreparedEvent:
    return finish(parse(event, received_at), mappings, maps)
