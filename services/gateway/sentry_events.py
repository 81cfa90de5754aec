"""A Sentry event payload as a Stackline ingest event.

Structured frames are written back as the stack their runtime prints (a CPython traceback, a
V8 stack), so that IngestService parses, places, maps and groups them exactly as it does the
raw stacks of Stackline's own SDKs: one parser, one placement, one grouping for both.

Sentry SDKs cannot be asked to change what they send, so a field that does not fit is clipped
or left out, never a reason to refuse the event; only a payload that is not an event is.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from stackline.ingest.v1 import ingest_pb2

from stackline_infra.errors import InvalidArgument

# Stackline's limits (the native event's schema): longer values are clipped to them.
_MAX_TAGS = 50
_MAX_BREADCRUMBS = 100
_MAX_FRAMES = 250
_MAX_CAUSE_DEPTH = 5
_LEVELS = {
    "fatal": "fatal",
    "critical": "fatal",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "log": "info",
    "debug": "debug",
}
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_HEX_LETTER = re.compile(r"[a-fA-F]")
_DEFAULT_FINGERPRINT = "{{ default }}"


class UnsupportedPlatform(Exception):
    """An event from a runtime whose stacks Stackline does not read (Java, Go, ...)."""


def _text(value: object, limit: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    else:
        return ""
    # PostgreSQL stores no NUL in text.
    return text[:limit].replace("\x00", "\ufffd")


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _values(value: object) -> list[Any]:
    """Sentry's interfaces come as `{"values": [...]}` or, from older SDKs, as the bare list."""
    return _list(_dict(value).get("values")) if isinstance(value, dict) else _list(value)


def platform_of(event: Mapping[str, Any]) -> str:
    platform = event.get("platform")
    sdk = _text(_dict(event.get("sdk")).get("name"), 200)
    if platform == "python":
        return "python"
    if platform == "node" or sdk.startswith(("sentry.javascript.node", "sentry.javascript.bun")):
        return "node"
    if platform == "javascript":
        runtime = _text(_dict(_dict(event.get("contexts")).get("runtime")).get("name"), 64)
        if runtime.lower() in ("node", "bun", "deno"):
            return "node"
        if "vercel-edge" in sdk or "cloudflare" in sdk:
            return "edge"
        return "browser"
    raise UnsupportedPlatform(str(platform))


def _timestamp(value: object) -> datetime | None:
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _event_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def commit_of_release(release: str) -> str:
    """The commit a release names: the release itself, or its last `@` or `+` part
    (`shop@4f2a9c1...`, `1.4.0+4f2a9c1`), when that is a SHA. Hex of 7 to 39 digits must
    hold a letter, so that a numeric version is not taken for a short SHA."""
    candidate = re.split(r"[@+]", release)[-1]
    if not _SHA.fullmatch(candidate):
        return ""
    if len(candidate) < 40 and not _HEX_LETTER.search(candidate):
        return ""
    return candidate.lower()


def _frame_path(frame: Mapping[str, Any]) -> str:
    return _text(frame.get("abs_path"), 1024) or _text(frame.get("filename"), 1024)


def _python_stack(type_: str, value: str, frames: Sequence[Mapping[str, Any]]) -> str:
    """As CPython prints it: outermost frame first, as Sentry sends them."""
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        line = frame.get("lineno")
        function = _text(frame.get("function"), 256) or "<module>"
        lines.append(
            f'  File "{_frame_path(frame)}", line {line if isinstance(line, int) else 0}, '
            f"in {function}"
        )
        context = _text(frame.get("context_line"), 1024).strip()
        if context:
            lines.append(f"    {context}")
    lines.append(f"{type_}: {value}" if value else type_)
    return "\n".join(lines)


def _v8_stack(type_: str, value: str, frames: Sequence[Mapping[str, Any]]) -> str:
    """As V8 prints it: innermost frame first, the reverse of Sentry's order."""
    lines = [f"{type_}: {value}" if value else type_]
    for frame in reversed(frames):
        path = _frame_path(frame)
        function = _text(frame.get("function"), 256)
        line, column = frame.get("lineno"), frame.get("colno")
        if not path or not isinstance(line, int):
            lines.append(f"    at {function or '<anonymous>'} (native)")
            continue
        where = f"{path}:{line}:{column if isinstance(column, int) else 1}"
        if function and function != "?":
            lines.append(f"    at {function} ({where})")
        else:
            lines.append(f"    at {where}")
    return "\n".join(lines)


def _exception(
    values: Sequence[Mapping[str, Any]], index: int, platform: str, target: ingest_pb2.ExceptionInfo
) -> None:
    """values[index] into target, and the ones before it (Sentry lists causes first) as its
    causes."""
    source = values[index]
    type_ = _text(source.get("type"), 256) or "Error"
    value = _text(source.get("value"), 64 * 1024)
    frames = [
        f
        for f in _list(_dict(source.get("stacktrace")).get("frames"))[-_MAX_FRAMES:]
        if isinstance(f, dict)
    ]
    target.type = type_
    target.message = value
    if frames:
        write = _python_stack if platform == "python" else _v8_stack
        target.stack = write(type_, value, frames)
    depth = len(values) - 1 - index
    if index > 0 and depth < _MAX_CAUSE_DEPTH:
        _exception(values, index - 1, platform, target.cause)


def _message(event: Mapping[str, Any]) -> str:
    logentry = _dict(event.get("logentry"))
    message = event.get("message")
    for candidate in (
        logentry.get("formatted"),
        logentry.get("message"),
        message,
        _dict(message).get("formatted"),
        _dict(message).get("message"),
    ):
        text = _text(candidate, 64 * 1024)
        if text:
            return text
    return ""


def _pairs(value: object) -> Iterable[tuple[object, object]]:
    """Tags come as an object or, from some SDKs, as a list of [key, value] pairs."""
    if isinstance(value, dict):
        return value.items()
    return (
        (pair[0], pair[1]) for pair in _list(value) if isinstance(pair, list) and len(pair) == 2
    )


def _tags(event: Mapping[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in _pairs(event.get("tags")):
        name, text = _text(key, 64), _text(value, 256)
        if name and len(tags) < _MAX_TAGS:
            tags[name] = text
    contexts = _dict(event.get("contexts"))
    # Sentry shows these contexts as tags too; Stackline has tags, not contexts.
    for context in ("browser", "os"):
        found = _dict(contexts.get(context))
        name = " ".join(
            t for t in (_text(found.get("name"), 64), _text(found.get("version"), 64)) if t
        )
        if name and context not in tags and len(tags) < _MAX_TAGS:
            tags[context] = name[:256]
    # Only the app's own id for the user: no e-mail, name or address is kept (docs/sentry.md).
    user_id = _text(_dict(event.get("user")).get("id"), 256)
    if user_id and len(tags) < _MAX_TAGS:
        tags.setdefault("user.id", user_id)
    return tags


def _breadcrumb(crumb: Mapping[str, Any]) -> ingest_pb2.Breadcrumb:
    when = _timestamp(crumb.get("timestamp"))
    message = _text(crumb.get("message"), 1024)
    if not message:
        data = _dict(crumb.get("data"))
        # HTTP breadcrumbs carry their story in data, not in a message.
        message = " ".join(
            t
            for t in (
                _text(data.get("method"), 16),
                _text(data.get("url"), 900),
                _text(data.get("status_code"), 8),
            )
            if t
        )
    return ingest_pb2.Breadcrumb(
        timestamp=when.isoformat().replace("+00:00", "Z") if when else "",
        category=_text(crumb.get("category"), 64) or _text(crumb.get("type"), 64),
        message=message,
        level=_LEVELS.get(_text(crumb.get("level"), 16), ""),
    )


def _fingerprint(value: object) -> str:
    parts = [_text(p, 1024) for p in _list(value)]
    if not parts or _DEFAULT_FINGERPRINT in parts:
        # Sentry's "{{ default }}" asks for the server's own grouping.
        return ""
    joined = "\n".join(parts)
    return joined if len(joined) <= 256 else hashlib.sha256(joined.encode()).hexdigest()


def _python_deploy_root(frames: Sequence[Mapping[str, Any]]) -> str:
    """Where the app's packages sit: for the innermost in-app frame whose `filename` is a
    package path (`shop/views.py`), its `abs_path` less that. A bare file name is not
    trusted: a script's directory is seldom the repository's root."""
    for frame in reversed(frames):
        filename = _text(frame.get("filename"), 1024)
        abs_path = _text(frame.get("abs_path"), 1024)
        if (
            frame.get("in_app") is True
            and "/" in filename
            and not filename.startswith("/")
            and abs_path.endswith("/" + filename)
        ):
            return abs_path[: -len(filename)]
    return ""


def to_ingest_event(
    event: Mapping[str, Any], project_id: str, envelope_event_id: str | None = None
) -> ingest_pb2.Event:
    platform = platform_of(event)
    message = ingest_pb2.Event(
        project_id=project_id,
        event_id=_event_id(event.get("event_id")) or envelope_event_id or str(uuid.uuid4()),
        platform=platform,
        level=_LEVELS.get(_text(event.get("level"), 16), ""),
        environment=_text(event.get("environment"), 64),
        release=_text(event.get("release"), 200),
        tags=_tags(event),
        fingerprint=_fingerprint(event.get("fingerprint")),
    )
    when = _timestamp(event.get("timestamp"))
    if when is not None:
        message.timestamp.FromDatetime(when)

    values = [v for v in _values(event.get("exception")) if isinstance(v, dict)]
    if values:
        _exception(values, len(values) - 1, platform, message.exception)
        if platform == "python":
            frames = _list(_dict(values[-1].get("stacktrace")).get("frames"))
            message.deploy_root = _python_deploy_root([f for f in frames if isinstance(f, dict)])
    else:
        message.message = _message(event)
        if not message.message:
            raise InvalidArgument("the event has neither an exception nor a message")

    # The commit: a release that is a SHA, else a `commit_sha` tag.
    tag_commit = message.tags.get("commit_sha", "")
    message.commit_sha = commit_of_release(message.release) or (
        tag_commit.lower() if _SHA.fullmatch(tag_commit) else ""
    )
    if "deploy_root" in message.tags:
        message.deploy_root = message.tags["deploy_root"][:1024]

    contexts = _dict(event.get("contexts"))
    runtime = _dict(contexts.get("runtime"))
    message.runtime.name = _text(runtime.get("name"), 64)
    message.runtime.version = _text(runtime.get("version"), 64)
    sdk = _dict(event.get("sdk"))
    message.sdk.name = _text(sdk.get("name"), 64)
    message.sdk.version = _text(sdk.get("version"), 64)
    request = _dict(event.get("request"))
    message.request.method = _text(request.get("method"), 16)
    message.request.url = _text(request.get("url"), 2048)
    crumbs = [c for c in _values(event.get("breadcrumbs")) if isinstance(c, dict)]
    message.breadcrumbs.extend(_breadcrumb(c) for c in crumbs[-_MAX_BREADCRUMBS:])
    return message
