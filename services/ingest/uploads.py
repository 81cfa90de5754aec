"""Source map uploads: who may, what is accepted, how it is kept. Takes a session; never commits."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import repository
from services.ingest.sourcemaps import (
    DEFAULT_PARSE_BUDGET,
    MAX_SOURCEMAP_BYTES,
    LoadedSourceMap,
    SourceMapError,
    SourceMapOverBudget,
)
from services.ingest.symbolication import Build
from stackline_contract import github
from stackline_contract.text import is_printable
from stackline_infra.db.schema import SourceMap
from stackline_infra.errors import InvalidArgument, NotFound, PayloadTooLarge
from stackline_infra.identity import Caller

MAX_BUNDLE_CHARS = 1024
MAX_RELEASE_CHARS = 200


def build_for_upload(project_id: uuid.UUID, commit_sha: str, release: str) -> Build:
    if bool(commit_sha) == bool(release):
        raise InvalidArgument(
            "name the build by exactly one of commit_sha and release", field="commit_sha"
        )
    if commit_sha:
        sha = github.normalise_sha(commit_sha, full=True)
        if sha is None:
            raise InvalidArgument(
                "commit_sha must be the full 40 hexadecimal digits", field="commit_sha"
            )
        return Build(project_id, "commit", sha)
    if len(release) > MAX_RELEASE_CHARS or not is_printable(release):
        raise InvalidArgument(
            f"release must be 1-{MAX_RELEASE_CHARS} printable characters", field="release"
        )
    return Build(project_id, "release", release)


async def check_owner(session: AsyncSession, caller: Caller, project_id: uuid.UUID) -> None:
    if not await repository.owns_project(session, caller.user_id, project_id):
        raise NotFound("no such project")


def validate_bundle(bundle: str) -> None:
    if not bundle or len(bundle) > MAX_BUNDLE_CHARS or not is_printable(bundle):
        raise InvalidArgument(
            f"bundle must be 1-{MAX_BUNDLE_CHARS} printable characters: the file frames name",
            field="bundle",
        )


def validate(bundle: str, data: bytes, *, parse_budget: int = DEFAULT_PARSE_BUDGET) -> None:
    """Refuse a map now, with the reason, rather than note it unusable on every event later;
    one whose parse would hold more than parse_budget bytes is 413, before it is parsed."""
    validate_bundle(bundle)
    if len(data) > MAX_SOURCEMAP_BYTES:
        raise InvalidArgument(
            f"the map is over {MAX_SOURCEMAP_BYTES // (1024 * 1024)} MiB", field="data"
        )
    try:
        LoadedSourceMap.parse(data, budget=parse_budget)
    except SourceMapOverBudget as exc:
        raise PayloadTooLarge(str(exc), field="data") from None
    except SourceMapError as exc:
        raise InvalidArgument(str(exc), field="data") from None


async def save(
    session: AsyncSession, caller: Caller, build: Build, bundle: str, data: bytes
) -> SourceMap:
    await check_owner(session, caller, build.project_id)
    return await repository.save_source_map(
        session,
        SourceMap(
            project_id=build.project_id,
            version_kind=build.kind,
            version=build.version,
            bundle=bundle,
            data=zlib.compress(data, 6),
            size_bytes=len(data),
        ),
    )


async def list_maps(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID, commit_sha: str, release: str
) -> Sequence[Any]:
    await check_owner(session, caller, project_id)
    build = build_for_upload(project_id, commit_sha, release) if commit_sha or release else None
    return await repository.list_source_maps(
        session, project_id, build.kind if build else None, build.version if build else None
    )


async def delete(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID, map_id: uuid.UUID
) -> Build:
    await check_owner(session, caller, project_id)
    deleted = await repository.delete_source_map(session, project_id, map_id)
    if deleted is None:
        raise NotFound("no such source map")
    kind, version = deleted
    return Build(project_id, kind, version)
