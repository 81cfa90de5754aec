"""Projects and their ingest keys, as the API shows them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from stackline.projects.v1 import projects_pb2

from stackline_infra.timestamps import from_proto

# Builds a DSN from a key's public part and the project's id, at the gateway's address.
DsnOf = Callable[[str, str], str]


class IngestKeyInfo(BaseModel):
    id: str
    # The first characters of the key, to tell keys apart; never usable.
    prefix: str
    dsn: str = Field(
        description="The key as a Sentry DSN, for apps that keep their Sentry SDK. Its user "
        "name is the key's public part, which sends events through Sentry's routes and does "
        "nothing else; shown at any time, it works while the key does and stops with it."
    )
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_proto(cls, key: projects_pb2.IngestKey, project_id: str, dsn: DsnOf) -> IngestKeyInfo:
        return cls(
            id=key.id,
            prefix=key.prefix,
            dsn=dsn(key.public_key, project_id),
            created_at=from_proto(key.created_at),
            last_used_at=from_proto(key.last_used_at) if key.HasField("last_used_at") else None,
            revoked_at=from_proto(key.revoked_at) if key.HasField("revoked_at") else None,
        )


class Project(BaseModel):
    id: str
    name: str
    repo: str = Field(description="The GitHub repository, owner/repo.")
    retention_days: int = Field(
        description="Days an event is kept after it was received (1-3650, 90 by default); an "
        "incident goes when its last event has. Audit entries are kept a year."
    )
    dsn: str | None = Field(
        description="The project's Sentry DSN: that of its newest ingest key that works and "
        "is not being replaced (rotating that key moves it to the new one). Null when every "
        "key is revoked or being replaced."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_proto(cls, project: projects_pb2.Project, dsn: DsnOf) -> Project:
        return cls(
            id=project.id,
            name=project.name,
            repo=project.repo,
            retention_days=project.retention_days,
            dsn=dsn(project.dsn_public_key, project.id) if project.dsn_public_key else None,
            created_at=from_proto(project.created_at),
            updated_at=from_proto(project.updated_at),
        )


class ProjectDetail(Project):
    ingest_keys: list[IngestKeyInfo]


class _Write(BaseModel):
    # owner, keys and timestamps are not the client's to set: unknown fields
    # are refused rather than quietly dropped.
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(_Write):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    repo: Annotated[str, Field(min_length=3, max_length=140, examples=["octo-org/shop-api"])]
    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ProjectUpdate(_Write):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ProjectCreated(BaseModel):
    project: ProjectDetail
    ingest_key: str = Field(description="The whole key. Shown this once: only its hash is kept.")
    dsn: str = Field(
        description="The key as a Sentry DSN, for apps that keep their Sentry SDK; shown "
        "again, unlike the key, next to the project and the key."
    )


class ProjectResponse(BaseModel):
    project: ProjectDetail


class ProjectUpdated(BaseModel):
    project: Project


class ProjectList(BaseModel):
    projects: list[Project]


class IngestKeyCreated(BaseModel):
    ingest_key: str = Field(description="The whole key. Shown this once: only its hash is kept.")
    dsn: str = Field(
        description="The key as a Sentry DSN, for apps that keep their Sentry SDK; shown "
        "again, unlike the key, next to the project and the key."
    )
    key: IngestKeyInfo


class PathMapping(_Write):
    stack_root: str = Field(
        min_length=1,
        max_length=1024,
        description="The start of a path as stacks print it.",
        examples=["/srv/app/packages/web/", "https://shop.example.com/static/js/"],
    )
    source_root: str = Field(
        max_length=1024,
        description="What it becomes: a folder of the repository, relative to its root.",
        examples=["packages/web/src/"],
    )


class PathMappings(_Write):
    """A project's path mappings; PUT replaces the whole list. The longest stack_root wins."""

    mappings: list[PathMapping] = Field(max_length=50)


class KeyRotation(_Write):
    grace_seconds: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="How long the old key keeps working: deployments have this long to switch. "
        "0 stops it now. A key already in its grace period cannot be rotated again (409).",
    )


class KeyRotated(BaseModel):
    ingest_key: str = Field(description="The whole new key. Shown this once.")
    dsn: str = Field(
        description="The key as a Sentry DSN, for apps that keep their Sentry SDK; shown "
        "again, unlike the key, next to the project and the key."
    )
    key: IngestKeyInfo
    old_key: IngestKeyInfo = Field(description="Its revoked_at is when it stops working.")


class AuditEntry(BaseModel):
    id: str
    occurred_at: datetime
    actor_user_id: str | None = Field(description="Null once the actor's account is deleted.")
    action: str
    target: str | None
    source_ip: str | None
    details: dict[str, object]


class AuditLog(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None
