"""Stack-trace parsing for IngestService: raw V8, SpiderMonkey, JavaScriptCore and Python stacks."""

from services.ingest.stacks.model import StackFrame
from services.ingest.stacks.parse import parse_stack

__all__ = ["StackFrame", "parse_stack"]
