"""Projects and their ingest keys, as the API shows them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from stackline.projects.v1 import projects_pb2

from stackline_contract import github, scrubbing, text
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
    scrub_keep_emails: bool = Field(
        description="Keep e-mail addresses in stored events instead of replacing them by "
        "[Filtered] (false by default)."
    )
    scrub_fields: list[str] = Field(
        description="More field names whose values are replaced by [Filtered], beyond the "
        "built-in secret names (lower case, `_` for `-` and spaces)."
    )
    scrub_patterns: list[str] = Field(
        description="More patterns replaced by [Filtered] wherever they appear in an event's "
        "text, in a regular-expression subset that cannot backtrack (docs/data-lifecycle.md)."
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
            scrub_keep_emails=project.scrub_keep_emails,
            scrub_fields=list(project.scrub_fields),
            scrub_patterns=list(project.scrub_patterns),
            created_at=from_proto(project.created_at),
            updated_at=from_proto(project.updated_at),
        )


class ProjectDetail(Project):
    ingest_keys: list[IngestKeyInfo]


class _Write(BaseModel):
    # owner, keys and timestamps are not the client's to set: unknown fields
    # are refused rather than quietly dropped. The patterns are ProjectsService's own rules
    # (GitHub's names look ahead), so that what the schema calls valid is accepted.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


# Printable, not only spaces: ProjectsService strips the name, then checks it.
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=text.NAME_PATTERN)]


class ProjectCreate(_Write):
    name: Name
    repo: Annotated[
        str,
        Field(
            min_length=3,
            max_length=140,
            pattern=github.REPO_PATTERN,
            description=f"{github.REPO_RULE}, following GitHub's naming rules.",
            examples=["octo-org/shop-api"],
        ),
    ]
    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ProjectUpdate(_Write):
    name: Name | None = None
    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    scrub_keep_emails: StrictBool | None = None
    scrub_fields: (
        Annotated[
            list[
                Annotated[
                    str,
                    Field(
                        min_length=1,
                        max_length=scrubbing.MAX_FIELD_LENGTH,
                        pattern=text.NAME_PATTERN,
                    ),
                ]
            ],
            Field(max_length=scrubbing.MAX_FIELDS, examples=[["customer_id", "iban"]]),
        ]
        | None
    ) = None
    scrub_patterns: (
        Annotated[
            list[
                Annotated[
                    str,
                    Field(
                        min_length=1,
                        max_length=scrubbing.MAX_PATTERN_LENGTH,
                        pattern=text.PRINTABLE_PATTERN,
                    ),
                ]
            ],
            Field(max_length=scrubbing.MAX_PATTERNS, examples=[[r"cust_\d{6}"]]),
        ]
        | None
    ) = None


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
        pattern=text.PRINTABLE_PATTERN,
        description="The start of a path as stacks print it.",
        examples=["/srv/app/packages/web/", "https://shop.example.com/static/js/"],
    )
    source_root: str = Field(
        # 1024 once stored with its final slash, which ProjectsService adds to a folder.
        max_length=1023,
        pattern=text.REPOSITORY_FOLDER_PATTERN,
        description="What it becomes: a folder of the repository, relative to its root.",
        examples=["packages/web/src/"],
    )


class PathMappings(_Write):
    """A project's path mappings; PUT replaces the whole list. The longest stack_root wins."""

    mappings: list[PathMapping] = Field(max_length=50)


class StoredPathMapping(BaseModel):
    """A mapping as stored: source_root normalised, a folder with its final slash."""

    stack_root: str
    source_root: str


class StoredPathMappings(BaseModel):
    # Not PathMappings: what was stored is checked by what was sent, not again by its rules
    # (a source_root of 1023 characters is stored as 1024, with its slash).
    mappings: list[StoredPathMapping]


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
