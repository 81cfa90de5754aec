"""Which service reads and writes which table, recorded from the statements the tests run,
and checked against the ownership table of docs/architecture.md.

Every statement any engine sends is attributed to the service whose code asked for it (the
nearest `services.<name>` frame, looked for across SQLAlchemy's greenlet hop back into the
coroutine that awaited it). Cascades the database performs by itself are not statements and
are declared in the doc's prose instead.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import greenlet
from sqlalchemy import event
from sqlalchemy.engine import Engine

from stackline_infra.db.schema import Base

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
SERVICES = ("auth", "projects", "ingest", "incidents")
_SERVICE_NAMES = {f"{name.capitalize()}Service": name for name in SERVICES}
_CELL_SERVICE = re.compile(r"\b(AuthService|ProjectsService|IngestService|IncidentsService)\b")

TABLES = frozenset(Base.metadata.tables)
# The table a statement writes: right after its verb (a WITH clause may come first).
_WRITE = re.compile(
    r"^\s*(?:WITH\b.*?\)\s*)?(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.I | re.S
)
_READ = re.compile(r"\b(?:FROM|JOIN)\s+\"?(\w+)", re.I)

Access = Literal["reads", "writes"]


@dataclass
class Ownership:
    owner: str | None
    also_writes: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)

    def allows(self, service: str, access: Access) -> bool:
        writers = {self.owner, *self.also_writes}
        return service in writers or (access == "reads" and service in self.reads)


def _services_in(cell: str) -> set[str]:
    return {_SERVICE_NAMES[name] for name in _CELL_SERVICE.findall(cell)}


def documented() -> dict[str, Ownership]:
    """The table under "Processes and who owns what", one row per table (or several, named
    together in one cell)."""
    text = DOC.read_text()
    section = text.split("## Processes and who owns what", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    ownership: dict[str, Ownership] = {}
    for row in rows:
        tables_cell, owner_cell, writes_cell, reads_cell = (
            cell.strip() for cell in row.strip("|").split("|")
        )
        owners = _services_in(owner_cell)
        assert len(owners) <= 1, f"one owner per table: {row}"
        for table in re.findall(r"`(\w+)`", tables_cell):
            ownership[table] = Ownership(
                next(iter(owners), None), _services_in(writes_cell), _services_in(reads_cell)
            )
    return ownership


def _module_of(frame: FrameType | None) -> str | None:
    """The nearest `services.<name>...` module on the stack: the service code that asked."""
    while frame is not None:
        module: str = frame.f_globals.get("__name__", "")
        if module.startswith("services."):
            return module if module.split(".")[1] in SERVICES else None
        frame = frame.f_back
    return None


def _calling_module() -> str | None:
    found = _module_of(sys._getframe(1))
    # SQLAlchemy's asyncio layer runs the driver in a greenlet; the coroutine that awaited it
    # is on the parent greenlet's stack.
    current = greenlet.getcurrent()
    while found is None and current.parent is not None:
        current = current.parent
        found = _module_of(current.gr_frame)
    return found


def accesses(statement: str) -> Iterable[tuple[Access, str]]:
    written = _WRITE.match(statement)
    if written and written.group(1) in TABLES:
        yield "writes", written.group(1)
    for table in _READ.findall(statement):
        if table in TABLES and not (written and table == written.group(1)):
            yield "reads", table


# Tables only a repository writes, whichever service it belongs to: an audit entry is written
# by the repository function that commits it with the change it records (docs/architecture.md).
REPOSITORY_WRITES_ONLY = frozenset({"audit_log"})


def _is_repository(module: str) -> bool:
    return module.rsplit(".", 1)[-1].endswith("repository")


class Recorder:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, Access, str], str] = {}
        # (module, table) -> a statement that module sent, for REPOSITORY_WRITES_ONLY tables.
        self.writers: dict[tuple[str, str], str] = {}

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._record)

    def remove(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        module = _calling_module()
        if module is None:
            return
        service = module.split(".")[1]
        for access, table in accesses(statement):
            self.seen.setdefault((service, access, table), statement)
            if access == "writes" and table in REPOSITORY_WRITES_ONLY:
                self.writers.setdefault((module, table), statement)

    def violations(self, ownership: dict[str, Ownership]) -> list[str]:
        found = []
        for (service, access, table), statement in sorted(self.seen.items()):
            rule = ownership.get(table)
            if rule is None or not rule.allows(service, access):
                first_line = " ".join(statement.split())[:160]
                found.append(f"{service} {access} {table}, undeclared: {first_line}")
        for (module, table), statement in sorted(self.writers.items()):
            if not _is_repository(module):
                first_line = " ".join(statement.split())[:160]
                found.append(f"{module} writes {table}, not through a repository: {first_line}")
        return found
