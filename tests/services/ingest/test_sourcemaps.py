"""Source maps of real bundles, then maps that are wrong or hostile.

esbuild bundles the program in sourcemap_programs/ twice: a multi-line server chunk whose map
carries sourcesContent, and a one-line browser bundle whose map does not. Node runs both and a
headless Chromium runs the browser one; every minified frame must map to the file, line and
column where `node --enable-source-maps` puts the same frame.

Needs node and npm on PATH (esbuild comes from the npm registry, installed once into
.stackline/npm/), Debian's `chromium` and the `playwright` package.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from symbolic.sourcemapcache import SourceMapCache

from services.ingest import sourcemaps
from services.ingest.sourcemaps import (
    MAX_ITEMS,
    MAX_SOURCEMAP_BYTES,
    MAX_SOURCES,
    LoadedSourceMap,
    OriginalLocation,
    SourceMapError,
    match_bundle,
    source_path,
)
from services.ingest.stacks import StackFrame, parse_stack
from tests.support.esbuild import NODE, PROGRAMS, installed_esbuild

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVER_BUNDLE = ".next/server/chunks/123.js"
BROWSER_BUNDLE = "~/assets/app-3f2a.js"
# What a project might have uploaded maps for: the two bundles, and a name neither frame is.
UPLOADED = (SERVER_BUNDLE, BROWSER_BUNDLE, "chunks/124.js")
CASES = {"average", "constructor", "format", "async"}


@pytest.fixture(scope="session")
def esbuild() -> Path:
    return installed_esbuild()


@dataclass(frozen=True)
class Build:
    root: Path
    server: Path
    browser: Path


@pytest.fixture(scope="module")
def build(esbuild: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    root = tmp_path_factory.mktemp("project").resolve()
    shutil.copytree(PROGRAMS / "src", root / "src")
    server = root / ".next" / "server" / "chunks" / "123.js"
    browser = root / "public" / "assets" / "app-3f2a.js"
    common = ["src/main.js", "--bundle", "--sourcemap", "--charset=utf8", "--log-level=warning"]
    # Whitespace kept, like a server chunk: frames on many lines.
    server_flags = ["--minify-identifiers", "--minify-syntax", "--platform=node", "--format=cjs"]
    # Fully minified into one line, and a map without sourcesContent.
    browser_flags = ["--minify", "--sources-content=false", "--format=iife"]
    for output, flags in ((server, server_flags), (browser, browser_flags)):
        subprocess.run(
            [str(esbuild), *common, *flags, f"--outfile={output}"],
            cwd=root,
            check=True,
            timeout=60,
        )
    shutil.copy(PROGRAMS / "index.html", root / "public")
    return Build(root, server, browser)


@pytest.fixture(scope="module")
def server_map(build: Build) -> LoadedSourceMap:
    data = build.server.with_suffix(".js.map").read_bytes()
    assert "sourcesContent" in json.loads(data)
    return LoadedSourceMap.parse(data)


@pytest.fixture(scope="module")
def server_stacks(build: Build) -> dict[str, list[StackFrame]]:
    return node_stacks(build.server)


def node_stacks(bundle: Path, *flags: str) -> dict[str, list[StackFrame]]:
    assert NODE is not None
    result = subprocess.run(
        [NODE, *flags, str(bundle)], capture_output=True, text=True, timeout=60, check=True
    )
    stacks: dict[str, str] = json.loads(result.stdout)
    assert stacks.keys() == CASES
    return {case: parse_stack(stack, "node") for case, stack in stacks.items()}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def chromium_stacks(build: Build) -> dict[str, list[StackFrame]]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    handler = functools.partial(QuietHandler, directory=str(build.root / "public"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
                    page.wait_for_function("window.stacks !== undefined", timeout=10_000)
                    stacks: dict[str, str] = page.evaluate("window.stacks")
                finally:
                    browser.close()
        finally:
            server.shutdown()
            thread.join()
    assert stacks.keys() == CASES
    return {case: parse_stack(stack, "browser") for case, stack in stacks.items()}


def caller(frames: list[StackFrame], index: int) -> StackFrame | None:
    return frames[index + 1] if index + 1 < len(frames) else None


def in_bundle(frames: list[StackFrame], bundle: str) -> list[int]:
    indexes = [
        i for i, frame in enumerate(frames) if match_bundle(frame.abs_path, UPLOADED) == bundle
    ]
    assert indexes, f"no frame of {bundle} in {frames}"
    return indexes


def located(root: Path, location: OriginalLocation | None) -> tuple[Path, int, int] | None:
    if location is None:
        return None
    return root / location.source, location.line, location.column


def node_located(frame: StackFrame) -> tuple[Path, int | None, int | None]:
    return Path(frame.abs_path), frame.line, frame.column


def test_server_chunk_frames_map_where_node_maps_them(
    build: Build, server_map: LoadedSourceMap, server_stacks: dict[str, list[StackFrame]]
) -> None:
    mapped_by_node = node_stacks(build.server, "--enable-source-maps")
    for case, frames in server_stacks.items():
        expected = mapped_by_node[case]
        assert len(frames) == len(expected)
        indexes = in_bundle(frames, SERVER_BUNDLE)
        assert [
            located(build.root, server_map.lookup(frames[i], caller(frames, i))) for i in indexes
        ] == [node_located(expected[i]) for i in indexes], case


def test_browser_frames_map_where_node_maps_them(
    build: Build, chromium_stacks: dict[str, list[StackFrame]]
) -> None:
    """Chromium runs the page; Node runs the same bundle to say where its frames belong."""
    assert "sourcesContent" not in json.loads(build.browser.with_suffix(".js.map").read_bytes())
    source_map = LoadedSourceMap.parse(build.browser.with_suffix(".js.map").read_bytes())
    minified_in_node = node_stacks(build.browser)
    mapped_by_node = node_stacks(build.browser, "--enable-source-maps")
    for case, frames in chromium_stacks.items():
        indexes = in_bundle(frames, BROWSER_BUNDLE)
        # Node ran the bundle from disk, where no upload rule names it.
        node_frames = minified_in_node[case]
        node_indexes = [i for i, f in enumerate(node_frames) if f.abs_path == str(build.browser)]
        # The same frames in both engines, less Node's module loader below them.
        assert len(indexes) == len(node_indexes), case
        assert [
            located(build.root, source_map.lookup(frames[i], caller(frames, i))) for i in indexes
        ] == [node_located(mapped_by_node[case][i]) for i in node_indexes], case


KEPT = None
"""The minified name stays: nothing in the map names this function."""

# Frames of the server chunk, innermost first. Node's --enable-source-maps names the anonymous
# callbacks after the parameter that held them (`action`) and formatAll after its parameter
# (`amounts`); those names are not the functions', so they are not expected here.
ORIGINAL_NAMES: dict[str, list[str | None]] = {
    "average": ["divideEvenly", KEPT, "reportAverage", KEPT, "stackOf", "collect", KEPT],
    "constructor": [KEPT, "reportAverage", KEPT, "stackOf", "collect", KEPT],
    "format": ["formatAmount", KEPT, "formatAll", KEPT, "stackOf", "collect", KEPT],
    "async": [KEPT, KEPT, KEPT],
}


def test_functions_renamed_by_the_minifier_get_their_names_back(
    server_map: LoadedSourceMap, server_stacks: dict[str, list[StackFrame]]
) -> None:
    # The minifier did rename them: the test would prove nothing if it had not.
    assert server_stacks["average"][0].function not in ("", "divideEvenly")
    for case, frames in server_stacks.items():
        indexes = in_bundle(frames, SERVER_BUNDLE)
        functions = []
        for i in indexes:
            location = server_map.lookup(frames[i], caller(frames, i))
            assert location is not None
            functions.append(location.function)
        expected = [
            frames[i].function if name is KEPT else name
            for i, name in zip(indexes, ORIGINAL_NAMES[case], strict=True)
        ]
        assert functions == expected, case


# What grouping calls each frame of the server chunk: the name the map gives at the call site,
# else the function around the original position in sourcesContent (an arrow with an expression
# body is its enclosing function's); None at the module's top level.
GROUPING_NAMES: dict[str, list[str | None]] = {
    "average": ["divideEvenly", "average", "reportAverage", "collect", "stackOf", "collect", None],
    "constructor": ["constructor", "reportAverage", "collect", "stackOf", "collect", None],
    "format": ["formatAmount", None, "formatAll", "collect", "stackOf", "collect", None],
    "async": ["fetchRecord", "loadRecord", "collect"],
}


def test_grouping_names_come_from_the_map_never_from_the_minifier(
    build: Build, server_map: LoadedSourceMap, server_stacks: dict[str, list[StackFrame]]
) -> None:
    for case, frames in server_stacks.items():
        indexes = in_bundle(frames, SERVER_BUNDLE)
        names = []
        for i in indexes:
            location = server_map.lookup(frames[i], caller(frames, i))
            assert location is not None
            names.append(location.grouping_name)
        assert names == GROUPING_NAMES[case], case
    # Without sourcesContent, a frame no call site names has no name to group by.
    browser_map = LoadedSourceMap.parse(build.browser.with_suffix(".js.map").read_bytes())
    innermost, its_caller = node_stacks(build.browser)["async"][:2]
    assert innermost.abs_path == str(build.browser)
    location = browser_map.lookup(innermost, its_caller)
    assert location is not None
    assert (location.function, location.grouping_name) == (innermost.function, None)


def test_without_the_caller_a_frame_keeps_its_minified_name(
    server_map: LoadedSourceMap, server_stacks: dict[str, list[StackFrame]]
) -> None:
    innermost, its_caller = server_stacks["average"][:2]
    location = server_map.lookup(innermost)
    assert location is not None
    assert location.function == innermost.function
    # The same position in another file is no call site of this bundle.
    elsewhere = StackFrame("/var/task/other.js", its_caller.line, its_caller.column, "x")
    assert server_map.lookup(innermost, elsewhere) == location
    assert server_map.lookup(innermost, its_caller) != location


@pytest.mark.parametrize(
    ("abs_path", "expected"),
    [
        ("http://127.0.0.1:8000/assets/app-3f2a.js", BROWSER_BUNDLE),
        ("https://shop.example.com/assets/app-3f2a.js?v=3#top", BROWSER_BUNDLE),
        ("https://shop.example.com/static/assets/app-3f2a.js", None),
        ("/var/task/.next/server/chunks/123.js", SERVER_BUNDLE),
        ("file:///var/task/.next/server/chunks/123.js", SERVER_BUNDLE),
        ("C:\\app\\.next\\server\\chunks\\123.js", SERVER_BUNDLE),
        ("/var/task/.next/server/chunks/124.js", "chunks/124.js"),
        ("/var/task/.next/server/other-chunks/124.js", None),
        ("/var/task/chunks/1124.js", None),
        ("https://[shop/assets/app-3f2a.js", BROWSER_BUNDLE),  # urlsplit() raises on this
        ("node:internal/modules/cjs/loader", None),
        ("", None),
    ],
)
def test_a_frame_finds_the_bundle_its_map_was_uploaded_for(
    abs_path: str, expected: str | None
) -> None:
    assert match_bundle(abs_path, UPLOADED) == expected


def test_the_most_specific_bundle_name_wins() -> None:
    names = ["app.js", "assets/app.js", "~/assets/app.js", "https://cdn.example.com/assets/app.js"]
    assert match_bundle("https://cdn.example.com/assets/app.js", names) == names[3]
    assert match_bundle("https://shop.example.com/assets/app.js", names) == names[2]
    assert match_bundle("https://shop.example.com/v2/assets/app.js", names) == names[1]
    assert match_bundle("https://shop.example.com/my%20app.js", ["my app.js"]) == "my app.js"
    assert match_bundle("/srv/dist/app.js", ["/srv/dist/app.js", "/dist/app.js"]) == (
        "/srv/dist/app.js"
    )


@pytest.mark.parametrize(
    ("source", "source_root", "expected"),
    [
        ("../../../src/main.js", "", "src/main.js"),
        # Turbopack (next build): relative URLs, percent-encoded.
        ("../../../app/api/orders/%5Bid%5D/route.ts", "", "app/api/orders/[id]/route.ts"),
        ("../../../node_modules/%40stackline/sdk/a.js", "", "node_modules/@stackline/sdk/a.js"),
        ("./src/a.js", "", "src/a.js"),
        ("src/lib/../a.js", "", "src/a.js"),
        ("..\\..\\src\\a.ts", "", "src/a.ts"),
        ("webpack://shop/./src/cart.ts", "", "src/cart.ts"),
        ("webpack:///./src/App.vue?vue&type=script&lang=ts", "", "src/App.vue"),
        ("webpack-internal:///./src/a.js", "", "src/a.js"),
        ("webpack://_N_E/node_modules/react/index.js", "", "node_modules/react/index.js"),
        ("turbopack:///[project]/app/page.tsx", "", "app/page.tsx"),
        ("file:///home/ci/shop/src/a%20b.ts", "", "/home/ci/shop/src/a b.ts"),
        ("https://cdn.example.com/lib/a.js", "", "lib/a.js"),
        ("https://[cdn/lib/a.js", "", "lib/a.js"),
        ("/home/ci/shop/src/a.ts", "", "/home/ci/shop/src/a.ts"),
        ("a.ts", "src", "src/a.ts"),
        ("./a.ts", "webpack:///", "a.ts"),
        ("../a.ts", "https://shop.example.com/src/", "a.ts"),
        ("webpack://shop/", "", "webpack://shop/"),
    ],
)
def test_sources_become_repository_paths(source: str, source_root: str, expected: str) -> None:
    assert source_path(source, source_root) == expected


def source_map(**fields: object) -> bytes:
    fields = {"version": 3, "sources": ["src/a.js"], "names": [], "mappings": "AAAA"} | fields
    return json.dumps(fields).encode()


def frame(line: int | None, column: int | None, function: str = "f") -> StackFrame:
    return StackFrame("https://shop.example.com/app.js", line, column, function)


def test_a_call_site_names_its_callee_only_where_a_mapping_starts() -> None:
    # Columns 1-5 map to a call of `divideEvenly`, from column 6 on to the function's own code.
    loaded = LoadedSourceMap.parse(source_map(names=["divideEvenly"], mappings="AAAAA,KAAK"))

    def function(name: str, caller: StackFrame) -> str | None:
        location = loaded.lookup(frame(1, 6, name), caller)
        return None if location is None else location.function

    at_call = frame(1, 1, "s")
    assert function("v", at_call) == "divideEvenly"
    assert function("new v", at_call) == "new divideEvenly"
    assert function("async v", at_call) == "async divideEvenly"
    assert function("", at_call) == ""
    assert function("Object.<anonymous>", at_call) == "Object.<anonymous>"
    # Inside the call's mapping but not at its start: some other identifier, so no name.
    assert function("v", frame(1, 3, "s")) == "v"


def test_an_index_map_maps_each_section_from_its_offset() -> None:
    data = json.dumps(
        {
            "version": 3,
            "sections": [
                {"offset": {"line": 0, "column": 0}, "map": json.loads(source_map())},
                {
                    "offset": {"line": 9, "column": 4},
                    "map": json.loads(source_map(sources=["./src/b.js"], mappings="AAEE")),
                },
            ],
        }
    ).encode()
    loaded = LoadedSourceMap.parse(data)
    assert loaded.lookup(frame(1, 1)) == OriginalLocation("src/a.js", 1, 1, "f")
    assert loaded.lookup(frame(10, 5)) == OriginalLocation("src/b.js", 3, 3, "f")


def test_an_index_map_gives_each_sections_sources_their_functions() -> None:
    """sourcesContent read from every section, by the source's normalised path."""
    second = json.loads(source_map(sources=["./src/b.js"], mappings="AAEE"))
    second["sourcesContent"] = ["// b\nfunction charge(card) {\n  return card.number;\n}\n"]
    data = json.dumps(
        {
            "version": 3,
            "sections": [
                {"offset": {"line": 0, "column": 0}, "map": json.loads(source_map())},
                {"offset": {"line": 9, "column": 4}, "map": second},
            ],
        }
    ).encode()
    loaded = LoadedSourceMap.parse(data)
    assert loaded.lookup(frame(10, 5)) == OriginalLocation("src/b.js", 3, 3, "f", "charge")
    assert loaded.lookup(frame(1, 1)) == OriginalLocation("src/a.js", 1, 1, "f", None)


def test_the_xssi_guard_line_is_skipped() -> None:
    loaded = LoadedSourceMap.parse(b")]}'\n" + source_map())
    assert loaded.lookup(frame(1, 1)) == OriginalLocation("src/a.js", 1, 1, "f")


def test_positions_the_map_does_not_cover_have_no_location() -> None:
    loaded = LoadedSourceMap.parse(
        source_map(sources=["src/a.js", None], mappings="EAAA,ECAA;;AAAA")
    )
    assert loaded.lookup(frame(1, 3)) == OriginalLocation("src/a.js", 1, 1, "f")
    # Between mappings, the one before applies, as in browsers' devtools.
    assert loaded.lookup(frame(1, 4)) == OriginalLocation("src/a.js", 1, 1, "f")
    assert loaded.lookup(frame(1, 1)) is None  # before the first mapping of the line
    assert loaded.lookup(frame(1, 5)) is None  # a mapping into a source with no name
    assert loaded.lookup(frame(2, 1)) is None  # a line without mappings
    assert loaded.lookup(frame(4, 1)) is None  # past the last line
    for line, column in [(1, None), (None, None), (0, 3), (1, 0), (-1, 3), (1, 2**32), (2**40, 1)]:
        assert loaded.lookup(frame(line, column)) is None, (line, column)


def test_a_mapping_to_a_negative_position_has_no_location() -> None:
    # Deltas that take the original line or column below zero, which no bundler writes.
    for mappings in ("AAAD", "AADA"):
        assert LoadedSourceMap.parse(source_map(mappings=mappings)).lookup(frame(1, 1)) is None


@dataclass
class MapWork:
    """What LoadedSourceMap.parse handed to each stage: its cost is linear in each of these, so
    bounding them bounds the work (the time is measured in bench/hostile_inputs.py)."""

    json_bytes: int = 0
    """Bytes given to the JSON parser."""
    sources: int = 0
    """`sources` entries normalised in Python."""
    symbolic_bytes: int = 0
    """Bytes of (slimmed) map given to symbolic, which builds its own index of it."""


@pytest.fixture
def map_work(monkeypatch: pytest.MonkeyPatch) -> MapWork:
    """Counts, for the test, what every parse hands to each stage."""
    work = MapWork()
    real_loads, real_source_path = orjson.loads, sourcemaps.source_path

    def loads(data: bytes) -> Any:
        work.json_bytes += len(data)
        return real_loads(data)

    def source_path(source: str, source_root: str = "") -> str:
        work.sources += 1
        return real_source_path(source, source_root)

    class CountedCache(SourceMapCache):
        @classmethod
        def from_bytes(cls, source_content: bytes, sourcemap_content: bytes) -> SourceMapCache:
            work.symbolic_bytes += len(sourcemap_content)
            return super().from_bytes(source_content, sourcemap_content)

    monkeypatch.setattr(orjson, "loads", loads)
    monkeypatch.setattr(sourcemaps, "source_path", source_path)
    monkeypatch.setattr(sourcemaps, "SourceMapCache", CountedCache)
    return work


def test_a_100000_character_line_maps_every_column(map_work: MapWork) -> None:
    # One mapping per column of a 100,000-column minified line, each to the same column of a
    # source whose name is as long.
    long_name = "src/" + "a" * 100_000 + ".js"
    data = source_map(sources=[long_name], mappings="AAAA" + ",CAAC" * 99_999)
    loaded = LoadedSourceMap.parse(data)
    for column in (1, 2, 54_321, 100_000, 100_001):
        assert loaded.lookup(frame(1, column)) == OriginalLocation(
            long_name, 1, min(column, 100_000), "f"
        )
    assert (map_work.json_bytes, map_work.sources) == (len(data), 1)
    assert map_work.symbolic_bytes <= len(data)


# Maps as large as each limit lets through; bench/hostile_inputs.py times them.
MAPS_AT_THE_LIMITS: dict[str, tuple[Callable[[], bytes], OriginalLocation]] = {
    "segments": (
        lambda: source_map(mappings="AAAA," * (MAX_ITEMS - 10)),
        OriginalLocation("src/a.js", 1, 1, "f"),
    ),
    # The costliest values per byte: short strings, each a Python and then a Rust object.
    "names": (
        lambda: source_map(names=["n"] * (MAX_ITEMS - 10), mappings="AAAAA"),
        OriginalLocation("src/a.js", 1, 1, "f"),
    ),
    "sources": (
        lambda: source_map(sources=[f"./src/{i}.js" for i in range(MAX_SOURCES)]),
        OriginalLocation("src/0.js", 1, 1, "f"),
    ),
}


@pytest.mark.parametrize(
    ("make", "first_mapping"), MAPS_AT_THE_LIMITS.values(), ids=MAPS_AT_THE_LIMITS.keys()
)
def test_a_map_at_the_limits_loads_and_each_stage_sees_it_once(
    make: Callable[[], bytes], first_mapping: OriginalLocation, map_work: MapWork
) -> None:
    data = make()
    loaded = LoadedSourceMap.parse(data)
    assert loaded.lookup(frame(1, 1)) == first_mapping
    assert map_work.json_bytes == len(data)
    assert map_work.sources == len(json.loads(data)["sources"]) <= MAX_SOURCES
    # What symbolic indexes is the map less what it does not need, never more.
    assert 0 < map_work.symbolic_bytes <= len(data)


def sections(*entries: dict[str, object]) -> bytes:
    """An index map of sections at offset {}, each with the given fields."""
    return json.dumps({"version": 3, "sections": [{"offset": {}, **e} for e in entries]}).encode()


# Which stage refuses a bad map: the limits, counted on the raw bytes before any parsing; the JSON
# parse and the checks of its result; or symbolic, which checks the mappings themselves.
RefusedBy = Literal["limits", "json", "symbolic"]

# Each bad map is built by the test that reads it: some are tens of MB.
BAD_MAPS = [
    pytest.param(lambda: b"", "the map is not JSON", "json", id="empty"),
    pytest.param(lambda: b"<!doctype html><title>Not Found</title>", "not JSON", "json", id="html"),
    pytest.param(lambda: bytes(range(256)) * 4096, "the map is not JSON", "json", id="binary junk"),
    pytest.param(lambda: b"[" * 100_000, "the map is not JSON", "json", id="deep nesting"),
    pytest.param(lambda: b'["src/a.js"]', "the map is not a JSON object", "json", id="array"),
    pytest.param(
        lambda: source_map(version=2), "version 2; only version 3", "json", id="version 2"
    ),
    pytest.param(lambda: b'{"name": "shop"}', "not a source map", "json", id="other JSON"),
    pytest.param(
        lambda: source_map(mappings="AAAA,ACAA"),
        "bad reference to source #1",
        "symbolic",
        id="outside sources",
    ),
    pytest.param(
        lambda: source_map(mappings="AAAAA"),
        "bad reference to name #0",
        "symbolic",
        id="outside names",
    ),
    pytest.param(
        lambda: source_map(mappings="!!!!"), "the map is invalid", "symbolic", id="not VLQ"
    ),
    pytest.param(
        lambda: source_map(mappings="g" * 30), "the map is invalid", "symbolic", id="VLQ overflow"
    ),
    pytest.param(
        lambda: source_map(mappings=7), "no mappings string", "json", id="mappings number"
    ),
    pytest.param(
        lambda: source_map(sources="a.js"), "no list of sources", "json", id="sources string"
    ),
    pytest.param(
        lambda: source_map(sources=[7]), "a source that is not a string", "json", id="source"
    ),
    pytest.param(
        lambda: json.dumps({"version": 3, "sections": {}}).encode(),
        "sections are not a list",
        "json",
        id="sections object",
    ),
    pytest.param(
        lambda: sections({"url": "a.map"}), "url is not supported", "json", id="url section"
    ),
    pytest.param(
        lambda: sections({"map": {"version": 3, "sections": []}}),
        "has sections of its own",
        "json",
        id="nested sections",
    ),
    pytest.param(
        lambda: sections({"map": {"version": 2}}),
        "a section of the map is version 2",
        "json",
        id="section",
    ),
    pytest.param(
        lambda: b"{" + b" " * MAX_SOURCEMAP_BYTES + b"}",
        "more than the limit",
        "limits",
        id="too large",
    ),
    pytest.param(
        lambda: source_map(mappings="A;" * MAX_ITEMS),
        "values and mappings",
        "limits",
        id="too many lines",
    ),
    pytest.param(
        lambda: source_map(names=["n"] * MAX_ITEMS),
        "values and mappings",
        "limits",
        id="too many names",
    ),
    pytest.param(
        lambda: source_map(sources=["a.js"] * (MAX_SOURCES + 1)),
        "sources",
        "json",
        id="too many sources",
    ),
]


@pytest.mark.parametrize(("make", "reason", "refused_by"), BAD_MAPS)
def test_a_bad_map_is_refused_with_a_reason_before_the_work_it_would_cost(
    make: Callable[[], bytes], reason: str, refused_by: RefusedBy, map_work: MapWork
) -> None:
    data = make()
    with pytest.raises(SourceMapError) as refused:
        LoadedSourceMap.parse(data)
    assert reason in str(refused.value)
    # Each stage ran only if the checks before it passed, and then once over the map.
    assert map_work.json_bytes == (0 if refused_by == "limits" else len(data))
    if refused_by == "symbolic":
        assert 0 < map_work.symbolic_bytes <= len(data)
    else:
        # Refused before a single source was normalised (a map with too many of them too).
        assert (map_work.sources, map_work.symbolic_bytes) == (0, 0)


def test_a_refusal_does_not_quote_the_map_at_length() -> None:
    section = {"offset": "x" * 100_000, "map": json.loads(source_map())}
    with pytest.raises(SourceMapError) as refused:
        LoadedSourceMap.parse(json.dumps({"version": 3, "sections": [section]}).encode())
    assert len(str(refused.value)) <= 200
