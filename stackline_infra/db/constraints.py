"""Which constraint a failed statement broke, read from the driver's diagnostics.

Message text is not a contract: it changes with the engine's version and
locale, and a new constraint whose name shares a substring would be
misreported. PostgreSQL names the constraint (SQLSTATE and
`diag.constraint_name`); SQLite gives only the kind (its extended result
code) and never the name, so callers match on the kind there.
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import IntegrityError

Kind = Literal["unique", "foreign_key", "not_null", "check", "other"]

_POSTGRES_KINDS: dict[str, Kind] = {
    "23505": "unique",
    "23503": "foreign_key",
    "23502": "not_null",
    "23514": "check",
}
_SQLITE_KINDS: dict[str, Kind] = {
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
    "SQLITE_CONSTRAINT_NOTNULL": "not_null",
    "SQLITE_CONSTRAINT_CHECK": "check",
}


@dataclass(frozen=True)
class Violation:
    kind: Kind
    # The constraint's name where the engine reports it (PostgreSQL), else None.
    constraint: str | None

    def is_(self, kind: Kind, constraint: str) -> bool:
        """Whether this is `constraint`, or on SQLite, a violation of its kind."""
        return self.kind == kind and self.constraint in (None, constraint)


def violation(exc: IntegrityError) -> Violation:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        diag = getattr(orig, "diag", None)
        name = getattr(diag, "constraint_name", None)
        return Violation(_POSTGRES_KINDS.get(sqlstate, "other"), name)
    error_name = getattr(orig, "sqlite_errorname", None)
    if isinstance(error_name, str):
        return Violation(_SQLITE_KINDS.get(error_name, "other"), None)
    return Violation("other", None)
