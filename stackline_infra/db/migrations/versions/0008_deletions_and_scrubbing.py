"""Deletes that scale and per-project scrubbing settings.

`users.deleted_at` and `projects.deleted_at` are tombstones: DELETE /api/me and DELETE
/api/projects/{id} set them in the caller's transaction, every read path treats the row as gone,
and the owning services purge what hangs off it in bounded batches afterwards. A deleted
project's repository may be added again while it is purged, so the one-project-per-repository
index covers live projects only. `projects.scrub_*` hold each project's scrubbing settings.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from stackline_infra.db.types import JSONType, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPO_KEY: list[str | sa.ColumnElement[Any]] = ["owner_id", sa.literal_column("lower(repo)")]


def upgrade() -> None:
    op.add_column("users", sa.Column("deleted_at", UTCDateTime(), nullable=True))
    op.add_column("projects", sa.Column("deleted_at", UTCDateTime(), nullable=True))
    op.add_column(
        "projects",
        sa.Column("scrub_keep_emails", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    for name in ("scrub_fields", "scrub_patterns"):
        op.add_column(
            "projects",
            sa.Column(name, JSONType, nullable=False, server_default=sa.text("'[]'")),
        )
    op.create_index("ix_projects_deleted_at", "projects", ["deleted_at"])
    op.drop_index("uq_projects_owner_id_repo", table_name="projects")
    op.create_index(
        "uq_projects_owner_id_repo",
        "projects",
        _REPO_KEY,
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    # Deleted projects not yet purged would break the index over every project: they go first,
    # whole (ON DELETE CASCADE), as they did before this revision; so do deleted accounts.
    op.execute("DELETE FROM projects WHERE deleted_at IS NOT NULL")
    op.execute("DELETE FROM users WHERE deleted_at IS NOT NULL")
    op.drop_index("uq_projects_owner_id_repo", table_name="projects")
    op.drop_index("ix_projects_deleted_at", table_name="projects")
    # Plain DROP COLUMN (SQLite has it since 3.35): batch mode would copy `projects` into a new
    # table and drop the old one, which with foreign keys on cascades to every key and event.
    for name in ("scrub_patterns", "scrub_fields", "scrub_keep_emails", "deleted_at"):
        op.drop_column("projects", name)
    op.create_index("uq_projects_owner_id_repo", "projects", _REPO_KEY, unique=True)
    op.drop_column("users", "deleted_at")
