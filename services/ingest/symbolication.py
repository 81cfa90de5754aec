"""Frames of minified JavaScript mapped back to the original source through uploaded source maps.

A batch is symbolicated in two steps. Before any event is finished, the
store learns which bundles its builds have maps for and loads those maps
(parsed once, kept while they are used); then each event's frames are
mapped in memory. A frame that looks minified but has no usable map stays
as it is, and the event says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from services.ingest.sourcemaps import LoadedSourceMap, SourceMapError, match_bundle
from services.ingest.stacks import EvalOrigin, StackFrame
from stackline_contract import github
from stackline_infra.clock import MonotonicClock

log = logging.getLogger(__name__)

JS_PLATFORMS = frozenset({"node", "browser", "edge"})
# Where builds put bundles, and how minifiers name them: a frame there without
# a map is worth a note. Frames elsewhere (plain Node code) need no map.
_BUNDLE_HINTS = re.compile(
    r"(?:^|/)(?:\.next|_next|dist|build|assets|static|chunks|out)/|\.min\.[cm]?js$|-[0-9a-f]{6,}\.[cm]?js$"
)
_JS_FILE = re.compile(r"\.[cm]?js(?:$|\?)")
# No minifier leaves code this far right on a line of source.
_MINIFIED_COLUMN = 300
MAX_NOTES = 10


@dataclass(frozen=True)
class Build:
    """What a source map was uploaded for: a commit, or else a release."""

    project_id: uuid.UUID
    kind: str
    version: str


def build_of(project_id: uuid.UUID, commit_sha: str, release: str) -> Build | None:
    sha = github.normalise_sha(commit_sha, full=True)
    if sha is not None:
        return Build(project_id, "commit", sha)
    if release:
        return Build(project_id, "release", release)
    return None


def _looks_minified(frame: StackFrame) -> bool:
    path = frame.abs_path
    if not _JS_FILE.search(path) or "/node_modules/" in path:
        return False
    return bool(_BUNDLE_HINTS.search(path)) or (frame.column or 0) > _MINIFIED_COLUMN


@dataclass(frozen=True)
class MappedFrame:
    frame: StackFrame
    # Where it was in the bundle, when a map moved it.
    minified: StackFrame | None = None
    # For a frame a map moved: what grouping may call its function (OriginalLocation).
    grouping_name: str | None = None


@dataclass
class BatchMaps:
    """The maps one batch of events needs, loaded."""

    bundles: dict[Build, dict[str, uuid.UUID]] = field(default_factory=dict)
    loaded: dict[uuid.UUID, LoadedSourceMap | SourceMapError] = field(default_factory=dict)

    def symbolicate(
        self, frames: Sequence[StackFrame], build: Build | None
    ) -> tuple[list[MappedFrame], list[str]]:
        """The frames, mapped where a map covers them; and notes on the ones left minified."""
        notes: list[str] = []
        bundles = self.bundles.get(build, {}) if build is not None else {}
        mapped: list[MappedFrame] = []
        for index, frame in enumerate(frames):
            if frame.eval_origin is not None:
                # The frame runs code made at run time, in no file; where it was made may be
                # in a bundle, and maps like any position.
                mapped.append(MappedFrame(self._origin_mapped(frame, bundles)))
                continue
            bundle = match_bundle(frame.abs_path, bundles) if bundles else None
            if bundle is None:
                if _looks_minified(frame):
                    notes.append(_missing(frame, build))
                mapped.append(MappedFrame(frame))
                continue
            source_map = self.loaded.get(bundles[bundle])
            if isinstance(source_map, SourceMapError):
                notes.append(f"the source map for {bundle} is unusable: {source_map}")
                mapped.append(MappedFrame(frame))
                continue
            caller = frames[index + 1] if index + 1 < len(frames) else None
            original = source_map.lookup(frame, caller) if source_map is not None else None
            if original is None:
                where = f"{frame.line}:{frame.column}"
                notes.append(f"the source map for {bundle} has no mapping at {where}")
                mapped.append(MappedFrame(frame))
                continue
            mapped.append(
                MappedFrame(
                    StackFrame(original.source, original.line, original.column, original.function),
                    minified=frame,
                    grouping_name=original.grouping_name,
                )
            )
        return mapped, list(dict.fromkeys(notes))[:MAX_NOTES]

    def _origin_mapped(self, frame: StackFrame, bundles: dict[str, uuid.UUID]) -> StackFrame:
        origin = frame.eval_origin
        assert origin is not None
        bundle = match_bundle(origin.abs_path, bundles) if bundles else None
        source_map = self.loaded.get(bundles[bundle]) if bundle is not None else None
        if not isinstance(source_map, LoadedSourceMap):
            return frame
        at = source_map.lookup(StackFrame(origin.abs_path, origin.line, origin.column, ""))
        if at is None:
            return frame
        return dataclasses.replace(frame, eval_origin=EvalOrigin(at.source, at.line, at.column))


def _missing(frame: StackFrame, build: Build | None) -> str:
    name = frame.abs_path.rsplit("/", 1)[-1]
    if build is None:
        return f"{name} looks minified; the event names no commit or release to find its map by"
    at = f"{build.kind} {build.version[:12]}"
    return f"{name} looks minified; no source map was uploaded for it at {at}"


class SourceMapStore:
    """Which bundles have maps (cached a minute per build), and the maps, parsed (recently used)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        bundle_ttl: float = 60.0,
        max_maps: int = 32,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._bundle_ttl = bundle_ttl
        self._max_maps = max_maps
        self._bundles: dict[Build, tuple[float, dict[str, uuid.UUID]]] = {}
        self._maps: OrderedDict[uuid.UUID, LoadedSourceMap | SourceMapError] = OrderedDict()

    def forget(self, build: Build) -> None:
        """After an upload or a deletion for the build, in this process."""
        self._bundles.pop(build, None)

    async def for_batch(self, wants: Mapping[Build, Iterable[StackFrame]]) -> BatchMaps:
        """Load what these builds' frames need."""
        maps = BatchMaps(bundles=await self._bundles_of(wants))
        needed = {
            maps.bundles[build][bundle]
            for build, frames in wants.items()
            if maps.bundles.get(build)
            for frame in frames
            for path in _paths(frame)
            if (bundle := match_bundle(path, maps.bundles[build])) is not None
        }
        maps.loaded = await self._load(needed)
        return maps

    async def _bundles_of(self, builds: Iterable[Build]) -> dict[Build, dict[str, uuid.UUID]]:
        now = self._clock()
        found: dict[Build, dict[str, uuid.UUID]] = {}
        stale = []
        for build in builds:
            cached = self._bundles.get(build)
            if cached is not None and cached[0] > now:
                found[build] = cached[1]
            else:
                stale.append(build)
        if stale:
            async with self._sessions() as session:
                for build in stale:
                    bundles = await repository.source_map_bundles(
                        session, build.project_id, build.kind, build.version
                    )
                    self._bundles[build] = (now + self._bundle_ttl, bundles)
                    found[build] = bundles
        return found

    async def _load(
        self, map_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, LoadedSourceMap | SourceMapError]:
        loaded: dict[uuid.UUID, LoadedSourceMap | SourceMapError] = {}
        missing = []
        for map_id in map_ids:
            if map_id in self._maps:
                self._maps.move_to_end(map_id)
                loaded[map_id] = self._maps[map_id]
            else:
                missing.append(map_id)
        if missing:
            async with self._sessions() as session:
                blobs = await repository.source_map_data(session, missing)
            for map_id, blob in blobs.items():
                # Parsing a large map takes a fraction of a second of C code; off the loop.
                loaded[map_id] = await asyncio.to_thread(_parse, blob)
                self._maps[map_id] = loaded[map_id]
            while len(self._maps) > self._max_maps:
                self._maps.popitem(last=False)
        return loaded


def _paths(frame: StackFrame) -> tuple[str, ...]:
    if frame.eval_origin is not None:
        return (frame.eval_origin.abs_path,)
    return (frame.abs_path,)


def _parse(blob: bytes) -> LoadedSourceMap | SourceMapError:
    try:
        return LoadedSourceMap.parse(zlib.decompress(blob))
    except SourceMapError as exc:
        return exc
    except zlib.error:
        return SourceMapError("the stored map is damaged")
