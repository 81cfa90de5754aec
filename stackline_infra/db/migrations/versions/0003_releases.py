"""Releases: the commit each release of a project was built from, recorded by a CI step.

Events that name a release and no commit are placed at the release's commit. A new table;
nothing stored before changes.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stackline_infra.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("commit_sha", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_releases_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "version", name=op.f("pk_releases")),
    )


def downgrade() -> None:
    op.drop_table("releases")
