"""The tables of Stackline's one database, shared by every service.

One schema and one migration history, because all services run against the
same PostgreSQL (or, on one machine, the same SQLite file). Each table has an
owning service that writes it; docs/architecture.md lists them. Services read
and write only through their own repository module.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stackline_contract import statuses
from stackline_contract.frames import CauseJSON, FrameJSON
from stackline_infra.db.types import JSONType, UTCDateTime, new_id, utcnow

# Explicit constraint names, so migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INCIDENT_STATUSES = statuses.STATUSES


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class User(Base):
    """Owned by AuthService."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("provider", "provider_user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # "local" (one-machine sign-in) or "github".
    provider: Mapped[str] = mapped_column(String(16))
    # GitHub's numeric user id as text, or the local login. Never the login on
    # GitHub: logins can be renamed and reused by someone else.
    provider_user_id: Mapped[str] = mapped_column(String(64))
    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(256))
    avatar_url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set by DELETE /api/me: the account is gone from every API at once, and the row (with
    # its GitHub id and login already cleared) goes once its projects have been purged.
    deleted_at: Mapped[datetime | None]


class OAuthState(Base):
    """A browser sign-in under way: single use, ten minutes. Owned by AuthService."""

    __tablename__ = "oauth_states"

    # SHA-256 of the state sent to GitHub; the state itself is never stored.
    state_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # Not the PKCE verifier: a random salt it is derived from together with the state
    # (services/auth/service.py), so neither a reader of the database (no state) nor whoever
    # sees the callback URL (no salt) can compute it. The column kept its first name.
    verifier_salt: Mapped[str] = mapped_column("code_verifier", String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RefreshToken(Base):
    """One link of a session's chain of refresh tokens. Owned by AuthService.

    Each refresh spends the token and issues the next in the same family. A
    spent token presented again means it was copied: the family is revoked.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Project(Base):
    """Owned by ProjectsService."""

    __tablename__ = "projects"
    __table_args__ = (
        # One live project per repository per owner; GitHub names are case-insensitive. A
        # deleted project still being purged does not stop its repository from being added again.
        Index(
            "uq_projects_owner_id_repo",
            "owner_id",
            func.lower(text("repo")),
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        # The purge jobs' question: which projects were deleted and are not yet gone.
        Index("ix_projects_deleted_at", "deleted_at"),
        CheckConstraint("retention_days BETWEEN 1 AND 3650", name="retention_days_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    repo: Mapped[str] = mapped_column(String(140))
    retention_days: Mapped[int] = mapped_column(Integer, default=90)
    # Scrubbing at ingest beyond the defaults (services/ingest/scrubbing.py): keep e-mail
    # addresses, more secret field names, more patterns (stackline_contract/scrub_patterns.py).
    scrub_keep_emails: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    scrub_fields: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default=text("'[]'")
    )
    scrub_patterns: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default=text("'[]'")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set by DELETE /api/projects/{id} (or of its owner's account): gone from every API at
    # once; each service then purges its rows in batches and ProjectsService drops this one.
    deleted_at: Mapped[datetime | None]


class IngestKey(Base):
    """Written by ProjectsService; AuthService resolves keys and marks them used."""

    __tablename__ = "ingest_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    # Enough of the key to recognise it in a list; useless to an attacker.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole key. The key holds 256 random bits, so a fast hash
    # is as strong as a slow one and keeps the lookup cheap.
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The key's public part, the user name of its Sentry DSN: random, made with the key, kept
    # in clear so that the DSN can be shown at any time. It sends events through Sentry's
    # routes and does nothing else, and stops with the key (this row's revoked_at).
    public_key: Mapped[str] = mapped_column(String(48), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Incident(Base):
    """Written by IngestService (upsert) and IncidentsService (status)."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        # The editor's poll: a project's incidents in one status, newest first; and in every
        # status, newest first. Each answers its page in index order, without a sort.
        Index("ix_incidents_project_status_last_seen", "project_id", "status", "last_seen", "id"),
        Index("ix_incidents_project_last_seen", "project_id", "last_seen", "id"),
        CheckConstraint("status IN ('open', 'resolved', 'ignored')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Which grouping rules made the fingerprint, so the rules can change
    # without splitting an incident's history.
    grouping_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    title: Mapped[str] = mapped_column(Text)
    exception_type: Mapped[str] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(Text)
    culprit_file: Mapped[str | None] = mapped_column(Text)
    culprit_line: Mapped[int | None]
    culprit_column: Mapped[int | None]
    culprit_function: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_commit_sha: Mapped[str | None] = mapped_column(String(40))
    last_environment: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    # When a resolved incident happened again, and the commit that brought it back.
    regressed_at: Mapped[datetime | None]
    regression_commit_sha: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentVersion(Base):
    """A project's incident-list version: the sum of its shards' numbers, one more whenever a
    transaction that changed any of its incidents (created, counted, triaged or removed)
    commits.

    Written only by the triggers of migration 0007 on `incidents`, in the writer's transaction;
    IncidentsService reads it to answer an unchanged poll without reading the list. A
    transaction raises the shard of its database connection (PostgreSQL; SQLite has one), so
    concurrent writers to one project do not queue for one row. A project whose incidents never
    changed has no row (version 0).
    """

    __tablename__ = "incident_versions"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class IncidentCommit(Base):
    """Where an incident was seen: one row per commit and environment. Written by IngestService.

    An event without a commit or environment counts under "" (not NULL, which a
    unique key would not match).
    """

    __tablename__ = "incident_commits"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    commit_sha: Mapped[str] = mapped_column(String(40), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class PathMapping(Base):
    """A project's stack-root → source-root rewrites. Written by ProjectsService, read by ingest."""

    __tablename__ = "path_mappings"
    __table_args__ = (UniqueConstraint("project_id", "stack_root"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    stack_root: Mapped[str] = mapped_column(String(1024))
    source_root: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Release(Base):
    """The commit each release of a project was built from. Written by ProjectsService (a CI
    step's call), read by IngestService for events that name a release and no commit."""

    __tablename__ = "releases"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(200), primary_key=True)
    commit_sha: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventKey(Base):
    """A client's event id, claimed once per project: a retried send counts once. Written by
    IngestService.

    Apart from `events` because PostgreSQL partitions `events` by receipt time, and a partitioned
    table can hold no unique key without its partition key.
    """

    __tablename__ = "event_keys"
    __table_args__ = (
        # Retention: a project's keys received before its cutoff.
        Index("ix_event_keys_project_id_received_at", "project_id", "received_at"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    received_at: Mapped[datetime]


class Event(Base):
    """Written by IngestService; read by IncidentsService.

    On PostgreSQL, partitioned by week of `received_at` (migration 0005; the retention job makes
    and drops the partitions). A client's event id is unique per project through `event_keys`.
    """

    __tablename__ = "events"
    __table_args__ = (
        # A client's event id: which incident a retried send belongs to.
        Index("ix_events_project_id_event_id", "project_id", "event_id"),
        # An incident's latest event.
        Index("ix_events_incident_id_occurred_at", "incident_id", "occurred_at"),
        # Retention: a project's events received before its cutoff, in bounded batches.
        Index("ix_events_project_id_received_at", "project_id", "received_at"),
        {"postgresql_partition_by": "RANGE (received_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID]
    occurred_at: Mapped[datetime]
    # In the primary key because it is the partition key.
    received_at: Mapped[datetime] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    environment: Mapped[str | None] = mapped_column(String(64))
    release: Mapped[str | None] = mapped_column(String(200))
    exception_type: Mapped[str] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(Text)
    raw_stack: Mapped[str] = mapped_column(Text)
    # Innermost first; each {"file", "line", "column", "function", "in_app", "abs_path"}, and
    # "minified" for a frame a source map moved, "eval_origin" for one in code made at run time.
    frames: Mapped[list[FrameJSON]] = mapped_column(JSONType)
    # The errors printed or sent with the thrown one: {"type", "message", "relation" (cause,
    # context or sub_error), "parent" (index in this list, null for the thrown error),
    # "frames"}, parents first. Events stored before 0002 have none.
    causes: Mapped[list[CauseJSON]] = mapped_column(JSONType, server_default=text("'[]'"))
    # Runtime, SDK, request, tags, breadcrumbs, exception cause.
    context: Mapped[dict[str, Any]]


class SourceMap(Base):
    """A source map uploaded for one bundle file of one build. Owned by IngestService.

    A build is named by its commit or by a release, whichever the events carry.
    Stored zlib-compressed in the database: maps are read at most once per
    ingest process and cached parsed, so object storage would buy little yet.
    """

    __tablename__ = "source_maps"
    __table_args__ = (
        UniqueConstraint("project_id", "version_kind", "version", "bundle"),
        CheckConstraint("version_kind IN ('commit', 'release')", name="version_kind_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # "commit" (version is a 40-hex SHA) or "release".
    version_kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(200))
    # The bundle as frames name it: "assets/app-3f2a.js", "~/static/app.js" or a full URL.
    bundle: Mapped[str] = mapped_column(String(1024))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Appended to by every service that changes something a user owns.

    project_id carries no foreign key on purpose: the entry that records a
    project's deletion must outlive the project.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_project_id_occurred_at", "project_id", "occurred_at"),
        # Retention: entries older than a year, oldest first.
        Index("ix_audit_log_occurred_at", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # e.g. "project.create", "ingest_key.revoke", "incident.status".
    action: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[uuid.UUID | None]
    # What was acted on, e.g. "ingest_key:<id>".
    target: Mapped[str | None] = mapped_column(String(128))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
