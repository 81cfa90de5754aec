"""Events partitioned by week of receipt on PostgreSQL; a client's event id claimed in
`event_keys`.

PostgreSQL drops a week of events whole, in an instant, where a DELETE would rewrite and vacuum
every row; but a partitioned table holds no unique key without the partition key, so the
(project, event id) that makes a retried send count once moves to its own table, on both
databases. The events a database already holds are copied into partitions that cover them (in
this migration's transaction: a large table takes a while, and ingest waits for it). SQLite
keeps one table.

Revision ID: 0005
Revises: 0004
"""

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SAWarning

import stackline_infra.db.types
from stackline_infra.db import partitions

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "id, project_id, incident_id, event_id, occurred_at, received_at, platform, commit_sha,"
    " environment, release, exception_type, message, raw_stack, frames, causes, context"
)
# Partitions made ahead of the current week; the retention job keeps making them after.
_WEEKS_AHEAD = 4


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str) -> sa.Column[datetime]:
    return sa.Column(name, stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False)


def _events_table(name: str, *, partitioned: bool) -> None:
    options: dict[str, Any] = (
        {"postgresql_partition_by": "RANGE (received_at)"} if partitioned else {}
    )
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        _time("occurred_at"),
        _time("received_at"),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("commit_sha", sa.String(length=40), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("release", sa.String(length=200), nullable=True),
        sa.Column("exception_type", sa.String(length=256), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw_stack", sa.Text(), nullable=False),
        sa.Column("frames", _json(), nullable=False),
        sa.Column("causes", _json(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("context", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_events_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_events_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            *(("id", "received_at") if partitioned else ("id",)), name="pk_events"
        ),
        *(
            ()
            if partitioned
            else (
                sa.UniqueConstraint("project_id", "event_id", name="uq_events_project_id_event_id"),
            )
        ),
        **options,
    )
    op.create_index("ix_events_incident_id_occurred_at", name, ["incident_id", "occurred_at"])
    op.create_index("ix_events_project_id_received_at", name, ["project_id", "received_at"])
    if partitioned:
        op.create_index("ix_events_project_id_event_id", name, ["project_id", "event_id"])


def _drop_events_keys_and_indexes(table: str, *, partitioned: bool) -> None:
    """Free the constraint and index names of a table about to be copied and dropped."""
    constraints = ["pk_events", "fk_events_project_id_projects", "fk_events_incident_id_incidents"]
    if not partitioned:
        constraints.append("uq_events_project_id_event_id")
    for constraint in constraints:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    indexes = ["ix_events_incident_id_occurred_at", "ix_events_project_id_received_at"]
    if partitioned:
        indexes.append("ix_events_project_id_event_id")
    for index in indexes:
        op.execute(f"DROP INDEX {index}")


@contextlib.contextmanager
def _new_primary_key() -> Iterator[None]:
    """SQLite's batch copy of `events` with another primary key: SQLAlchemy warns that the key
    it reflected differs from the one given, which is the point; the schema tests check the
    result."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*_alembic_tmp_events.*primary_key", SAWarning)
        yield


def upgrade() -> None:
    op.create_table(
        "event_keys",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        _time("received_at"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_event_keys_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "event_id", name="pk_event_keys"),
    )
    op.create_index(
        "ix_event_keys_project_id_received_at", "event_keys", ["project_id", "received_at"]
    )
    op.execute(
        "INSERT INTO event_keys (project_id, event_id, received_at)"
        " SELECT project_id, event_id, received_at FROM events"
    )
    if op.get_bind().dialect.name != "postgresql":
        with _new_primary_key(), op.batch_alter_table("events", recreate="always") as batch:
            batch.drop_constraint("uq_events_project_id_event_id", type_="unique")
            batch.create_primary_key("pk_events", ["id", "received_at"])
            batch.create_index("ix_events_project_id_event_id", ["project_id", "event_id"])
        return

    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    _drop_events_keys_and_indexes("events_unpartitioned", partitioned=False)
    _events_table("events", partitioned=True)
    oldest = op.get_bind().execute(sa.text("SELECT min(received_at) FROM events_unpartitioned"))
    now = datetime.now(UTC)
    first = oldest.scalar() or now
    for week in partitions.weeks_between(first, now + _WEEKS_AHEAD * partitions.WEEK):
        op.execute(partitions.create_sql(week))
    op.execute(f"CREATE TABLE {partitions.DEFAULT_PARTITION} PARTITION OF events DEFAULT")
    op.execute(
        f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM events_unpartitioned"  # noqa: S608
    )
    op.execute("DROP TABLE events_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with _new_primary_key(), op.batch_alter_table("events", recreate="always") as batch:
            batch.drop_index("ix_events_project_id_event_id")
            batch.create_primary_key("pk_events", ["id"])
            batch.create_unique_constraint(
                "uq_events_project_id_event_id", ["project_id", "event_id"]
            )
    else:
        op.execute("ALTER TABLE events RENAME TO events_partitioned")
        _drop_events_keys_and_indexes("events_partitioned", partitioned=True)
        _events_table("events", partitioned=False)
        op.execute(
            f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM events_partitioned"  # noqa: S608
        )
        # The partitions go with the table they are partitions of.
        op.execute("DROP TABLE events_partitioned")
    op.drop_index("ix_event_keys_project_id_received_at", table_name="event_keys")
    op.drop_table("event_keys")
