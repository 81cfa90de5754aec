"""Stack-trace parsing for IngestService: raw V8, SpiderMonkey, JavaScriptCore and Python stacks."""

from services.ingest.stacks.model import (
    CAUSE,
    CONTEXT,
    SUB_ERROR,
    EvalOrigin,
    NestedError,
    ParsedStack,
    StackFrame,
)
from services.ingest.stacks.parse import parse_exception, parse_stack

__all__ = [
    "CAUSE",
    "CONTEXT",
    "SUB_ERROR",
    "EvalOrigin",
    "NestedError",
    "ParsedStack",
    "StackFrame",
    "parse_exception",
    "parse_stack",
]
