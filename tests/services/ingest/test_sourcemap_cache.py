"""The parsed source maps IngestService holds are bounded by bytes and by idleness, and the
bundle lists it holds by count and by their minute: time moves on an injected clock."""

from __future__ import annotations

import uuid
import zlib

import orjson
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.sourcemaps import SourceMapError, SourceMapOverBudget
from services.ingest.stacks import StackFrame
from services.ingest.symbolication import Build, SourceMapStore
from stackline_infra.db.schema import SourceMap
from tests.support import factories
from tests.support.clocks import FakeClock


def _map(name: str) -> bytes:
    return orjson.dumps(
        {"version": 3, "file": name, "sources": [f"src/{name}.ts"], "names": [], "mappings": "AAAA"}
    )


async def _builds(session: AsyncSession, count: int) -> list[tuple[Build, StackFrame, int]]:
    """`count` builds of one project, each with one bundle and its map."""
    owner = await factories.user(session)
    project = await factories.project(session, owner.id)
    builds = []
    for n in range(count):
        data = _map(f"app{n}")
        version = f"v{n}.{uuid.uuid4().hex[:6]}"
        session.add(
            SourceMap(
                project_id=project.id,
                version_kind="release",
                version=version,
                bundle=f"assets/app{n}.js",
                data=zlib.compress(data),
                size_bytes=len(data),
            )
        )
        frame = StackFrame(f"https://shop.example.com/assets/app{n}.js", 1, 1, "f")
        builds.append((Build(project.id, "release", version), frame, len(data)))
    await session.flush()
    return builds


def _sessions(session: AsyncSession) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind=session.bind, join_transaction_mode="create_savepoint")


def _evictions(reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "stackline_ingest_sourcemap_cache_evictions_total", {"reason": reason}
        )
        or 0.0
    )


async def _load(store: SourceMapStore, build: Build, frame: StackFrame) -> uuid.UUID:
    """The id of the map the build's frame needed, loaded or found held."""
    maps = await store.for_batch({build: [frame]})
    [map_id] = maps.loaded
    return map_id


async def test_parsed_maps_are_held_up_to_a_byte_bound_least_recently_used_first(
    session: AsyncSession,
) -> None:
    builds = await _builds(session, 3)
    size = builds[0][2]
    store = SourceMapStore(_sessions(session), max_bytes=2 * size + size // 2, clock=FakeClock())
    evicted = _evictions("size")

    first = await _load(store, *builds[0][:2])
    second = await _load(store, *builds[1][:2])
    assert store.held_bytes == 2 * size
    # The first is used again: the second is now the least recently used.
    assert await _load(store, *builds[0][:2]) == first
    third = await _load(store, *builds[2][:2])

    assert set(store._maps) == {first, third}
    assert second not in store._maps
    assert store.held_bytes == 2 * size
    assert _evictions("size") == evicted + 1
    assert REGISTRY.get_sample_value("stackline_ingest_sourcemap_cache_bytes") == 2 * size
    assert REGISTRY.get_sample_value("stackline_ingest_sourcemap_cache_maps") == 2


async def test_a_map_unused_for_its_idle_time_is_let_go(session: AsyncSession) -> None:
    builds = await _builds(session, 2)
    clock = FakeClock()
    store = SourceMapStore(_sessions(session), max_idle=600, bundle_ttl=60, clock=clock)
    evicted = _evictions("idle")
    old = await _load(store, *builds[0][:2])
    clock.advance(599)
    await _load(store, *builds[1][:2])
    assert old in store._maps, "not idle for long enough yet"
    clock.advance(2)
    recent = await _load(store, *builds[1][:2])
    assert set(store._maps) == {recent}
    assert store.held_bytes == builds[1][2]
    assert _evictions("idle") == evicted + 1


async def test_bundle_lists_are_bounded_by_count_and_dropped_when_expired(
    session: AsyncSession,
) -> None:
    builds = await _builds(session, 5)
    clock = FakeClock()
    store = SourceMapStore(_sessions(session), max_builds=3, bundle_ttl=60, clock=clock)
    for build, frame, _ in builds[:4]:
        await _load(store, build, frame)
    # The oldest of four went when the fourth came.
    assert list(store._bundles) == [b for b, _, _ in builds[1:4]]
    clock.advance(61)
    await _load(store, *builds[4][:2])
    # Everything fetched a minute ago has expired and is gone.
    assert list(store._bundles) == [builds[4][0]]
    assert REGISTRY.get_sample_value("stackline_ingest_sourcemap_cache_builds") == 1


async def test_a_stored_map_over_the_parse_budget_is_refused_not_parsed(
    session: AsyncSession,
) -> None:
    # Stored under a larger budget than the one this process now keeps: the map is unusable here
    # (its frames get the note every unusable map gets), and nothing is parsed past the budget.
    [(build, frame, size)] = await _builds(session, 1)
    store = SourceMapStore(_sessions(session), parse_budget=size, clock=FakeClock())

    maps = await store.for_batch({build: [frame]})

    [refused] = maps.loaded.values()
    assert isinstance(refused, SourceMapOverBudget)
    within = SourceMapStore(_sessions(session), clock=FakeClock())
    [parsed] = (await within.for_batch({build: [frame]})).loaded.values()
    assert not isinstance(parsed, SourceMapError)
