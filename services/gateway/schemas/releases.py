"""A project's releases and the commit each was built from, as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from stackline.projects.v1 import projects_pb2

from stackline_contract import text
from stackline_infra.timestamps import from_proto


class ReleaseCommit(BaseModel):
    # Unknown fields are refused rather than quietly dropped.
    model_config = ConfigDict(extra="forbid")

    version: str = Field(
        min_length=1,
        max_length=200,
        pattern=text.PRINTABLE_PATTERN,
        description="The release as the SDKs send it.",
        examples=["shop@1.4.0"],
    )
    commit_sha: str = Field(
        pattern=r"^[0-9a-fA-F]{7,40}$",
        description="The commit the release was built from.",
        examples=["4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"],
    )


class Release(BaseModel):
    version: str
    commit_sha: str
    updated_at: datetime

    @classmethod
    def from_proto(cls, release: projects_pb2.Release) -> Release:
        return cls(
            version=release.version,
            commit_sha=release.commit_sha,
            updated_at=from_proto(release.updated_at),
        )


class ReleaseList(BaseModel):
    releases: list[Release] = Field(description="The most recently set first, at most 100.")
