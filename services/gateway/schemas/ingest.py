"""The ingest event an SDK sends to POST /api/ingest (docs/api.md, "POST /api/ingest")."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from stackline_contract import github
from stackline_contract.events import without_nul

MAX_BATCH = 100


Text = Annotated[str, AfterValidator(without_nul)]
Text16 = Annotated[str, StringConstraints(max_length=16), AfterValidator(without_nul)]
Text64 = Annotated[str, StringConstraints(max_length=64), AfterValidator(without_nul)]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(without_nul)]
Text256 = Annotated[str, StringConstraints(max_length=256), AfterValidator(without_nul)]
Text1024 = Annotated[str, StringConstraints(max_length=1024), AfterValidator(without_nul)]
Text2048 = Annotated[str, StringConstraints(max_length=2048), AfterValidator(without_nul)]


class _Model(BaseModel):
    # Unknown fields are refused, not ignored: a misspelt field would
    # otherwise vanish without a word.
    model_config = ConfigDict(extra="forbid")


class ExceptionIn(_Model):
    type: Annotated[
        str, StringConstraints(min_length=1, max_length=256), AfterValidator(without_nul)
    ]
    # Long messages and stacks are truncated by IngestService, not refused:
    # an error is worth keeping even when its text is huge.
    message: Text = ""
    stack: Text = ""
    cause: ExceptionIn | None = None


class NameVersion(_Model):
    name: Text64 = ""
    version: Text64 = ""


class RequestInfo(_Model):
    method: Text16 = ""
    url: Text2048 = ""


# RFC 3339 with an offset: what every SDK sends.
Rfc3339 = Annotated[
    str,
    StringConstraints(
        max_length=40,
        pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$",
    ),
]


class Breadcrumb(_Model):
    timestamp: Rfc3339 | None = None
    category: Text64 = ""
    message: Text1024 = ""
    level: Text16 = ""


class IngestEvent(_Model):
    event_id: uuid.UUID | None = Field(
        default=None,
        description="Client-made UUID; the same id twice is stored once. Made here when absent.",
    )
    timestamp: AwareDatetime | None = Field(
        default=None, description="When it happened; the time of receipt when absent."
    )
    platform: Literal["node", "browser", "edge", "python"]
    exception: ExceptionIn | None = None
    message: Text | None = Field(
        default=None, description="For an event captured from a message rather than an exception."
    )
    level: Literal["fatal", "error", "warning", "info", "debug"] | None = None
    commit_sha: Annotated[str, StringConstraints(pattern=github.SHA_PATTERN)] | None = None
    environment: Text64 | None = None
    deploy_root: Text1024 | None = None
    release: Text200 | None = None
    runtime: NameVersion | None = None
    sdk: NameVersion | None = None
    request: RequestInfo | None = None
    tags: dict[Text64, Text256] = Field(default_factory=dict, max_length=50)
    breadcrumbs: list[Breadcrumb] = Field(default_factory=list, max_length=100)
    fingerprint: Text256 | None = None


class IngestBatch(_Model):
    events: list[IngestEvent] = Field(min_length=1, max_length=MAX_BATCH)


class IngestAccepted(BaseModel):
    id: uuid.UUID


class IngestBatchAccepted(BaseModel):
    ids: list[uuid.UUID]
