"""The initial schema: users and their sessions, projects with their keys and path
mappings, incidents, events, audit log.

Revision ID: 0001
Revises: (none)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import stackline_infra.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column(
            "expires_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_index(
        op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_user_id", sa.String(length=64), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("avatar_url", sa.String(length=512), nullable=True),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "provider", "provider_user_id", name=op.f("uq_users_provider_provider_user_id")
        ),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "occurred_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        op.f("ix_audit_log_actor_user_id"), "audit_log", ["actor_user_id"], unique=False
    )
    op.create_index(
        "ix_audit_log_project_id_occurred_at",
        "audit_log",
        ["project_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("repo", sa.String(length=140), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint(
            "retention_days BETWEEN 1 AND 3650", name=op.f("ck_projects_retention_days_range")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_projects_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(
        "uq_projects_owner_id_repo",
        "projects",
        ["owner_id", sa.literal_column("lower(repo)")],
        unique=True,
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("spent_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"), "refresh_tokens", ["family_id"], unique=False
    )
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("grouping_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("exception_type", sa.String(length=256), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("culprit_file", sa.Text(), nullable=True),
        sa.Column("culprit_line", sa.Integer(), nullable=True),
        sa.Column("culprit_column", sa.Integer(), nullable=True),
        sa.Column("culprit_function", sa.Text(), nullable=True),
        sa.Column(
            "first_seen", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_seen", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_commit_sha", sa.String(length=40), nullable=True),
        sa.Column("last_environment", sa.String(length=64), nullable=True),
        sa.Column(
            "resolved_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "regressed_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("regression_commit_sha", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'ignored')", name=op.f("ck_incidents_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_incidents_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint(
            "project_id", "fingerprint", name=op.f("uq_incidents_project_id_fingerprint")
        ),
    )
    op.create_index(
        "ix_incidents_project_status_last_seen",
        "incidents",
        ["project_id", "status", "last_seen", "id"],
        unique=False,
    )
    op.create_table(
        "ingest_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_used_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("revoked_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_ingest_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_ingest_keys_key_hash")),
    )
    op.create_index(op.f("ix_ingest_keys_project_id"), "ingest_keys", ["project_id"], unique=False)
    op.create_table(
        "path_mappings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("stack_root", sa.String(length=1024), nullable=False),
        sa.Column("source_root", sa.String(length=1024), nullable=False),
        sa.Column(
            "created_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_path_mappings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_mappings")),
        sa.UniqueConstraint(
            "project_id", "stack_root", name=op.f("uq_path_mappings_project_id_stack_root")
        ),
    )
    op.create_table(
        "source_maps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("version_kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("bundle", sa.String(length=1024), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column(
            "uploaded_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.CheckConstraint(
            "version_kind IN ('commit', 'release')", name=op.f("ck_source_maps_version_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_source_maps_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_maps")),
        sa.UniqueConstraint(
            "project_id",
            "version_kind",
            "version",
            "bundle",
            name=op.f("uq_source_maps_project_id_version_kind_version_bundle"),
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "occurred_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "received_at", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("commit_sha", sa.String(length=40), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("release", sa.String(length=200), nullable=True),
        sa.Column("exception_type", sa.String(length=256), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw_stack", sa.Text(), nullable=False),
        sa.Column(
            "frames",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("project_id", "event_id", name=op.f("uq_events_project_id_event_id")),
    )
    op.create_index(
        "ix_events_incident_id_occurred_at", "events", ["incident_id", "occurred_at"], unique=False
    )
    op.create_table(
        "incident_commits",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("commit_sha", sa.String(length=40), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column(
            "first_seen", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_seen", stackline_infra.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_commits_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "incident_id", "commit_sha", "environment", name=op.f("pk_incident_commits")
        ),
    )


def downgrade() -> None:
    op.drop_table("incident_commits")
    op.drop_index("ix_events_incident_id_occurred_at", table_name="events")
    op.drop_table("events")
    op.drop_table("source_maps")
    op.drop_table("path_mappings")
    op.drop_index(op.f("ix_ingest_keys_project_id"), table_name="ingest_keys")
    op.drop_table("ingest_keys")
    op.drop_index("ix_incidents_project_status_last_seen", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens")
    op.drop_index(op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index("uq_projects_owner_id_repo", table_name="projects")
    op.drop_table("projects")
    op.drop_index("ix_audit_log_project_id_occurred_at", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor_user_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_index(op.f("ix_oauth_states_expires_at"), table_name="oauth_states")
    op.drop_table("oauth_states")
