"""Log set-up for every Stackline process: one line per record, secrets masked."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from stackline_infra import tracecontext

# Ingest keys and JWTs are credentials: whatever code logs them by mistake,
# they never reach a log sink. A key's public part (slp_, a DSN's user name) is
# shown to its owner at any time, but it sends events, so logs do not keep it.
_SECRET_PATTERNS = re.compile(
    r"sl[kp]_[A-Za-z0-9]{8,}"
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
    r"|(?i:bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
)

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def redact(text: str) -> str:
    return _SECRET_PATTERNS.sub("[redacted]", text)


class _TraceFilter(logging.Filter):
    """Writes the current request's trace id on every record made while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace = tracecontext.current()
        if trace is not None and not hasattr(record, "trace_id"):
            record.trace_id = trace.trace_id
        return True


class _JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        trace_id = getattr(record, "trace_id", None)
        return f"{text} [trace {trace_id}]" if trace_id else text


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter(service))
    else:
        handler.setFormatter(
            _TextFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    handler.addFilter(_TraceFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
