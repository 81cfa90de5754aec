"""Builds ingest events from exceptions and messages, and puts hook output back in shape.

This runs on the app's thread, so it works only with what it is given, never
raises for any input, and bounds every string so that a queued event has a
known maximum size whatever the app throws at it.
"""

from __future__ import annotations

import contextlib
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, cast

from ._scrub import scrub_text
from ._types import Breadcrumb, Event, ExceptionData, Level, RequestData

# Limits on what one event can hold. Where the ingest API refuses a longer value
# (services/gateway/schemas/ingest.py), the limit is the API's; message and stack
# are only truncated there, and are kept shorter here so a queued event stays small.
# In characters: an event of mostly escaped or wide characters can still pass the
# 1 MiB body limit in bytes, and is then shortened (shorten()) before it is sent.
MAX_MESSAGE = 8 * 1024
MAX_STACK = 128 * 1024
MAX_BREADCRUMBS = 100
MAX_BREADCRUMB_MESSAGE = 1024
MAX_CATEGORY = 64
MAX_TAGS = 50
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 256
MAX_URL = 2048
MAX_METHOD = 16
MAX_ENVIRONMENT = 64
MAX_RELEASE = 200
MAX_DEPLOY_ROOT = 1024
MAX_NAME_VERSION = 64  # runtime and sdk
MAX_SHORT = 256  # exception type, fingerprint

LEVELS: frozenset[str] = frozenset(("fatal", "error", "warning", "info", "debug"))
_LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "err": "error"}
_LOGGING_LEVELS = ((50, "fatal"), (40, "error"), (30, "warning"), (20, "info"))

_TRUNCATED = "..."
# Set on an exception once it has been reported (see mark()).
_MARK = "__stackline_captured__"


def now() -> str:
    """RFC 3339 UTC with milliseconds: 2026-11-25T10:00:00.123Z."""
    t = time.time()
    seconds = int(t)
    millis = int((t - seconds) * 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"


def safe_str(value: object) -> str:
    """str(value), or a placeholder when the object's __str__ misbehaves."""
    if type(value) is str:
        return value
    try:
        text = str(value)
        if type(text) is str:
            return text
        return str.__str__(text)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return f"<unprintable {_type_label(type(value))} object>"


def _type_label(cls: type) -> str:
    try:
        name = cls.__qualname__
        return name if isinstance(name, str) else "object"
    except Exception:
        return "object"


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(_TRUNCATED)] + _TRUNCATED


def clean(value: object, limit: int) -> str:
    return truncate(safe_str(value), limit)


def normalize_level(level: object, default: Level = "info") -> str:
    """One of LEVELS, from a level name or one of logging's level numbers."""
    if isinstance(level, int) and not isinstance(level, bool):
        return next((name for floor, name in _LOGGING_LEVELS if level >= floor), "debug")
    if isinstance(level, str):
        lowered = level.strip().lower()
        lowered = _LEVEL_ALIASES.get(lowered, lowered)
        if lowered in LEVELS:
            return lowered
    return default


def type_name(cls: type) -> str:
    """The exception type as Python's traceback prints it: module-qualified outside builtins."""
    try:
        qualname = cls.__qualname__
        module = cls.__module__
        if not isinstance(qualname, str):
            qualname = safe_str(qualname)
        if isinstance(module, str) and module not in ("__main__", "builtins"):
            qualname = f"{module}.{qualname}"
        # The API refuses an empty type; `type("", (Exception,), {})` has one.
        return truncate(qualname, MAX_SHORT) or "Exception"
    except Exception:
        return _type_label(cls)


def exception_text(exc: BaseException) -> str:
    """str(exc), never raising."""
    try:
        text = str(exc)
        if type(text) is not str:
            text = str.__str__(text)
    except KeyboardInterrupt:
        raise
    except BaseException:
        text = "<exception str() failed>"
    return text


def _exception_message(exc: BaseException, text: str | None = None) -> str:
    return truncate(scrub_text(exception_text(exc) if text is None else text), MAX_MESSAGE)


def truncate_stack(stack: str, limit: int = MAX_STACK) -> str:
    """Cut an oversized traceback in the middle, on line ends.

    The first lines say how the chain starts, the last ones name the raising
    frame and the exception: both are kept, the middle frames go.
    """
    if len(stack) <= limit:
        return stack
    # A giant exception message is one giant line: shorten long lines first, so
    # that "Type: message" survives with the start of its message.
    line_limit = min(MAX_MESSAGE, max(64, limit // 8))
    stack = "\n".join(truncate(line, line_limit) for line in stack.split("\n"))
    if len(stack) <= limit:
        return stack
    head_budget = limit // 4
    tail_budget = limit - head_budget - 100
    head_end = stack.rfind("\n", 0, head_budget) + 1
    tail_start = stack.find("\n", len(stack) - tail_budget) + 1
    if head_end <= 0 or tail_start <= head_end:
        return truncate(stack, limit)
    marker = f"  ... {tail_start - head_end} characters cut by stackline-sdk ...\n"
    return stack[:head_end] + marker + stack[tail_start:]


class _PlainFrames(traceback.StackSummary):
    """Frames as Python 3.10 prints them: without 3.11's ^^^^ markers.

    The markers come from an ast.parse() per frame, the largest part of rendering,
    and ast.parse() in two threads at once can fail in the other thread with
    "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905).
    The text is rendered on the SDK's worker thread, next to an app that may be
    parsing code: without the markers it never calls ast.parse() at all. The
    server reads files, lines and functions, which the markers do not change.
    """

    def format_frame_summary(self, frame_summary: traceback.FrameSummary, **kwargs: Any) -> Any:
        fs = frame_summary
        row = f'  File "{fs.filename}", line {fs.lineno}, in {fs.name}\n'
        line = fs.line
        if line:
            row += f"    {line.strip()}\n"
        return row


def _plain_frames(snapshot: traceback.TracebackException) -> None:
    """Render every stack of the snapshot (the chain, a group's members) without markers."""
    if not hasattr(traceback.StackSummary, "format_frame_summary"):
        return  # Python 3.10 prints no markers
    seen: set[int] = set()
    todo: list[traceback.TracebackException | None] = [snapshot]
    while todo:
        te = todo.pop()
        if te is None or id(te) in seen:
            continue
        seen.add(id(te))
        plain = _PlainFrames()
        plain.extend(te.stack)
        te.stack = plain
        todo += [te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())]


def _snapshot(exc: BaseException, tb: TracebackType | None) -> traceback.TracebackException | None:
    """What the traceback text needs: frame names, files, line numbers and columns,
    the message, the chain. One snapshot renders both the full text and the
    cause's own; source lines are read once, when it is rendered."""
    try:
        snapshot = traceback.TracebackException(
            type(exc), exc, tb, lookup_lines=False, compact=True
        )
        _plain_frames(snapshot)
        return snapshot
    except KeyboardInterrupt:
        raise
    except BaseException:
        # RecursionError when captured deep in a recursion, or a pathological
        # exception (a __str__ raising SystemExit): the fallback text will do.
        return None


def _render(snapshot: traceback.TracebackException | None, chain: bool, fallback: str) -> str:
    text = fallback
    if snapshot is not None:
        try:
            text = "".join(snapshot.format(chain=chain))
        except KeyboardInterrupt:
            raise
        except BaseException:  # a note's __str__ may raise anything, even SystemExit
            text = fallback
    return truncate_stack(scrub_text(text))


def exception_data(
    exc: BaseException, tb: TracebackType | None = None, text: str | None = None
) -> ExceptionData:
    """Type, message and stack text of an exception, and of the one it chains from.

    `tb` and `text` are the traceback and str() the capturing thread took (the
    exception's own by default): this runs on the SDK's worker thread, after the
    exception may have travelled further up the app's stack.
    """
    if tb is None:
        tb = exc.__traceback__
    data: ExceptionData = {
        "type": type_name(type(exc)),
        "message": _exception_message(exc, text),
    }
    snapshot = _snapshot(exc, tb)
    data["stack"] = _render(snapshot, True, f"{data['type']}: {data['message']}\n")
    cause = chained(exc)
    if cause is not None:
        # The chain is in `stack` as Python prints it; the cause is given on its
        # own as well, so the server can title and group by it.
        cause_type, cause_message = type_name(type(cause)), _exception_message(cause)
        cause_snapshot = None
        if snapshot is not None:
            cause_snapshot = snapshot.__cause__ or (
                None if snapshot.__suppress_context__ else snapshot.__context__
            )
        data["cause"] = {
            "type": cause_type,
            "message": cause_message,
            "stack": _render(cause_snapshot, False, f"{cause_type}: {cause_message}\n"),
        }
    return data


def chained(exc: BaseException) -> BaseException | None:
    """The exception Python prints above this one, if any."""
    try:
        if exc.__cause__ is not None:
            return exc.__cause__
        if not exc.__suppress_context__ and exc.__context__ is not None:
            return exc.__context__
    except Exception:
        return None
    return None


def is_marked(exc: BaseException) -> bool:
    try:
        return getattr(exc, _MARK, False) is True
    except Exception:
        return False


def mark(exc: BaseException) -> None:
    """Remember on the exception itself that it was reported, so that a hook
    further up (logging, then sys.excepthook) does not report it again. Keeping
    the mark on the object, not a reference to it, keeps no frames alive."""
    with contextlib.suppress(Exception):
        setattr(exc, _MARK, True)


def new_event(base: Event) -> Event:
    event: Event = {"event_id": str(uuid.uuid4()), "timestamp": now(), "platform": "python"}
    event.update(base)
    return event


def breadcrumb(message: object, category: object, level: object) -> Breadcrumb:
    return {
        "timestamp": now(),
        "category": clean(category, MAX_CATEGORY) or "default",
        "message": truncate(scrub_text(safe_str(message)), MAX_BREADCRUMB_MESSAGE),
        "level": normalize_level(level),
    }


def clean_tags(tags: object, into: dict[str, str] | None = None) -> dict[str, str]:
    """Tags as {str: str} from any mapping, added to `into` (a new dict by default)
    while it holds fewer than MAX_TAGS; a key already there always takes the new value."""
    out: dict[str, str] = {} if into is None else into
    # A mapping whose items() misbehaves gives the tags read until then.
    with contextlib.suppress(Exception):
        items: Iterable[Any] = tags.items() if isinstance(tags, Mapping) else ()
        for key, value in items:
            name = clean(key, MAX_TAG_KEY)
            if name and (name in out or len(out) < MAX_TAGS):
                out[name] = clean(value, MAX_TAG_VALUE)
    return out


# -- putting before_send's output back in the contract's shape ------------------

# RFC 3339 with a zone, as the API requires (a naive time is refused).
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SHA = re.compile(r"[0-9a-f]{40}")


def _str_field(source: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = source.get(key)
    return None if value is None else clean(value, limit)


def _exception_field(value: object, depth: int = 0) -> ExceptionData | None:
    if not isinstance(value, Mapping):
        return None
    data: ExceptionData = {
        # The API requires a type of 1 to 256 characters.
        "type": _str_field(value, "type", MAX_SHORT) or "Exception",
        "message": _str_field(value, "message", MAX_MESSAGE) or "",
        "stack": truncate_stack(safe_str(value.get("stack") or "")),
    }
    if depth == 0:
        cause = _exception_field(value.get("cause"), depth + 1)
        if cause is not None:
            data["cause"] = cause
    return data


def _breadcrumbs_field(value: object, timestamp: str) -> list[Breadcrumb] | None:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return None
    crumbs: list[Breadcrumb] = []
    for item in value:
        if isinstance(item, Mapping):
            when = item.get("timestamp")
            crumbs.append(
                {
                    "timestamp": when
                    if isinstance(when, str) and _TIMESTAMP.fullmatch(when)
                    else timestamp,
                    "category": clean(item.get("category") or "default", MAX_CATEGORY),
                    "message": clean(item.get("message") or "", MAX_BREADCRUMB_MESSAGE),
                    "level": normalize_level(item.get("level")),
                }
            )
    return crumbs[-MAX_BREADCRUMBS:]


def conform_breadcrumb(value: object) -> Breadcrumb | None:
    """What a before_breadcrumb hook returned, reduced to a breadcrumb the API takes."""
    if not isinstance(value, Mapping):
        return None
    crumbs = _breadcrumbs_field([value], now())
    return crumbs[0] if crumbs else None


def _request_field(value: object) -> RequestData | None:
    if not isinstance(value, Mapping):
        return None
    return {
        "method": clean(value.get("method", ""), MAX_METHOD),
        "url": clean(value.get("url", ""), MAX_URL),
    }


def _commit_field(value: object) -> str | None:
    sha = safe_str(value).strip().lower()
    return sha if _SHA.fullmatch(sha) else None


def _deploy_root_field(value: object) -> str | None:
    # A path cut short would map frames to the wrong files: leave it out instead.
    root = safe_str(value)
    return root if 0 < len(root) <= MAX_DEPLOY_ROOT else None


# The fields a hook may change, each with the function that puts a value in
# shape (None: the value is unusable and the field is left out). The identity
# fields (event_id, timestamp, platform, runtime, sdk) are the SDK's: a hook
# cannot make them something the API refuses.
_SHAPERS: dict[str, Callable[[object], Any]] = {
    "message": lambda value: clean(value, MAX_MESSAGE),
    "level": normalize_level,
    "exception": _exception_field,
    "commit_sha": _commit_field,
    "environment": lambda value: clean(value, MAX_ENVIRONMENT) or None,
    "deploy_root": _deploy_root_field,
    "release": lambda value: clean(value, MAX_RELEASE) or None,
    "request": _request_field,
    "tags": clean_tags,
    "fingerprint": lambda value: clean(value, MAX_SHORT) or None,
}


def conform(value: object, original: Event) -> Event | None:
    """An event in the contract's shape made from whatever `before_send` returned.

    Unknown fields are dropped (the server answers 400 to them), values are
    coerced to the declared types and bounded to the API's limits, and the
    identity fields come from `original`. None when what came back is no
    event: not a mapping, or with neither an exception nor a message.
    """
    if not isinstance(value, Mapping):
        return None
    identity: Mapping[str, Any] = original
    event: dict[str, Any] = {
        key: identity[key]
        for key in ("event_id", "timestamp", "platform", "runtime", "sdk")
        if key in identity
    }
    for key, shape in _SHAPERS.items():
        if value.get(key) is not None:
            shaped = shape(value[key])
            if shaped is not None:
                event[key] = shaped
    if value.get("breadcrumbs") is not None:
        crumbs = _breadcrumbs_field(value["breadcrumbs"], identity.get("timestamp") or now())
        if crumbs is not None:
            event["breadcrumbs"] = crumbs
    if "exception" not in event and "message" not in event:
        return None
    return cast(Event, event)


# -- an event too large in bytes -------------------------------------------------

# A text shortened by shorten() keeps at least this many characters.
_MIN_TEXT = 256


def shorten(event: Event) -> Event | None:
    """A smaller copy of `event`, or None when there is nothing left to cut.

    Limits are in characters, and the body limit in bytes: an event of
    characters JSON escapes (U+0001 takes six bytes) or wide ones (four bytes)
    can be within every limit and still over 1 MiB. Then the breadcrumbs go
    first, then the longest text is halved: what locates the error stays.
    """
    smaller: dict[str, Any] = dict(event)
    if smaller.pop("breadcrumbs", None):
        return cast(Event, smaller)
    # The texts that can be long, each as (the dict holding it, its key). The
    # exception chain is copied on the way down: the caller's event is not changed.
    texts = [(smaller, "message")]
    parent, key = smaller, "exception"
    while isinstance(parent.get(key), dict):
        exception = parent[key] = dict(parent[key])
        texts += [(exception, "message"), (exception, "stack")]
        parent, key = exception, "cause"
    holder, key = max(texts, key=lambda text: _length(text[0].get(text[1])))
    text = holder.get(key)
    if not isinstance(text, str) or len(text) <= _MIN_TEXT:
        return None
    cut = truncate_stack if key == "stack" else truncate
    holder[key] = cut(text, len(text) // 2)
    return cast(Event, smaller)


def _length(text: object) -> int:
    return len(text) if isinstance(text, str) else 0
