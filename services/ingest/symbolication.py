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
import functools
import logging
import re
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import repository
from services.ingest.sourcemaps import (
    DEFAULT_PARSE_BUDGET,
    LoadedSourceMap,
    SourceMapError,
    match_bundle,
)
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


# A frame no map moves makes the same MappedFrame wherever it is: one bug's frames repeat from
# event to event, so each is built, and judged minified or not, once per process (at most this
# many remembered, a few MiB).
@functools.lru_cache(maxsize=16384)
def unmapped(frame: StackFrame) -> tuple[MappedFrame, bool]:
    """The frame as no map moved it, and whether it looks minified."""
    return MappedFrame(frame), _looks_minified(frame)


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
                as_is, minified = unmapped(frame)
                if minified:
                    notes.append(_missing(frame, build))
                mapped.append(as_is)
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


CACHE_BYTES = Gauge(
    "stackline_ingest_sourcemap_cache_bytes",
    "Parsed source maps held, by the size of the maps they were parsed from.",
)
CACHE_MAPS = Gauge("stackline_ingest_sourcemap_cache_maps", "Parsed source maps held.")
CACHE_BUILDS = Gauge(
    "stackline_ingest_sourcemap_cache_builds", "Builds whose list of bundles with maps is held."
)
CACHE_EVICTIONS = Counter(
    "stackline_ingest_sourcemap_cache_evictions_total",
    "Parsed maps let go, by reason: size (the byte bound) or idle (unused too long).",
    ["reason"],
)


@dataclass
class _Held:
    source_map: LoadedSourceMap | SourceMapError
    # The size of the map as uploaded, uncompressed: what parsing it holds grows with it.
    weight: int
    used_at: float


class SourceMapStore:
    """Which bundles have maps (cached a minute per build), and the maps, parsed (recently used).

    Both are bounded: the parsed maps by the total size of the maps they came from
    (`max_bytes`, the least recently used go first) and by idleness (`max_idle` seconds
    unused), the bundle lists by their minute and by count (`max_builds`). A process that has
    seen many builds therefore holds no more than the bound, and one that has gone quiet lets go
    of what it no longer uses.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        bundle_ttl: float = 60.0,
        max_bytes: int = 256 * 1024 * 1024,
        max_idle: float = 3600.0,
        max_builds: int = 4096,
        parse_budget: int = DEFAULT_PARSE_BUDGET,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._sessions = sessions
        # The same budget uploads are held to: a map stored under a larger one is refused here,
        # with the note every unusable map gets, rather than parsed past it.
        self._parse_budget = parse_budget
        self._clock = clock
        self._bundle_ttl = bundle_ttl
        self._max_bytes = max_bytes
        self._max_idle = max_idle
        self._max_builds = max_builds
        # Oldest first: a build's entry moves to the end when it is fetched again.
        self._bundles: dict[Build, tuple[float, dict[str, uuid.UUID]]] = {}
        self._maps: OrderedDict[uuid.UUID, _Held] = OrderedDict()
        self._bytes = 0

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def forget(self, build: Build) -> None:
        """After an upload or a deletion for the build, in this process."""
        self._bundles.pop(build, None)
        CACHE_BUILDS.set(len(self._bundles))

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
                    self._bundles.pop(build, None)
                    self._bundles[build] = (now + self._bundle_ttl, bundles)
                    found[build] = bundles
            # Entries are added in time order, so the expired and the surplus are at the front.
            for build, (expires, _) in list(self._bundles.items()):
                if expires > now and len(self._bundles) <= self._max_builds:
                    break
                del self._bundles[build]
            CACHE_BUILDS.set(len(self._bundles))
        return found

    async def _load(
        self, map_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, LoadedSourceMap | SourceMapError]:
        now = self._clock()
        loaded: dict[uuid.UUID, LoadedSourceMap | SourceMapError] = {}
        missing = []
        for map_id in map_ids:
            held = self._maps.get(map_id)
            if held is not None:
                self._maps.move_to_end(map_id)
                held.used_at = now
                loaded[map_id] = held.source_map
            else:
                missing.append(map_id)
        if missing:
            async with self._sessions() as session:
                blobs = await repository.source_map_data(session, missing)
            for map_id, blob in blobs.items():
                # Parsing a large map takes a fraction of a second of C code; off the loop.
                source_map, weight = await asyncio.to_thread(_parse, blob, self._parse_budget)
                loaded[map_id] = source_map
                self._maps[map_id] = _Held(source_map, weight, now)
                self._bytes += weight
        self._evict(now, keep=loaded.keys())
        return loaded

    def _evict(self, now: float, keep: Iterable[uuid.UUID]) -> None:
        """Least recently used first, down to the bound; never a map this batch is using."""
        using = set(keep)
        for map_id, held in list(self._maps.items()):
            idle = now - held.used_at > self._max_idle
            if not idle and self._bytes <= self._max_bytes:
                break
            if map_id in using:
                continue
            del self._maps[map_id]
            self._bytes -= held.weight
            CACHE_EVICTIONS.labels("idle" if idle else "size").inc()
        CACHE_BYTES.set(self._bytes)
        CACHE_MAPS.set(len(self._maps))


def _paths(frame: StackFrame) -> tuple[str, ...]:
    if frame.eval_origin is not None:
        return (frame.eval_origin.abs_path,)
    return (frame.abs_path,)


def _parse(blob: bytes, budget: int) -> tuple[LoadedSourceMap | SourceMapError, int]:
    """The map, or why it is unusable; and its weight in the cache."""
    try:
        data = zlib.decompress(blob)
    except zlib.error:
        return SourceMapError("the stored map is damaged"), len(blob)
    try:
        return LoadedSourceMap.parse(data, budget=budget), len(data)
    except SourceMapError as exc:
        return exc, len(str(exc))
