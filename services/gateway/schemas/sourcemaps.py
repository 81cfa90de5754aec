"""Source maps uploaded for a project's builds."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from stackline.ingest.v1 import ingest_pb2

from stackline_infra.timestamps import from_proto


class SourceMapInfo(BaseModel):
    id: str
    commit_sha: str | None
    release: str | None
    bundle: str = Field(description="The bundle file as frames name it.")
    size_bytes: int
    uploaded_at: datetime

    @classmethod
    def from_proto(cls, info: ingest_pb2.SourceMapInfo) -> SourceMapInfo:
        return cls(
            id=info.id,
            commit_sha=info.commit_sha or None,
            release=info.release or None,
            bundle=info.bundle,
            size_bytes=info.size_bytes,
            uploaded_at=from_proto(info.uploaded_at),
        )


class SourceMapList(BaseModel):
    source_maps: list[SourceMapInfo]
