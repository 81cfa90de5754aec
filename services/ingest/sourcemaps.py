"""Maps frames of minified JavaScript back to original files through uploaded source maps."""

from __future__ import annotations

import itertools
import posixpath
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import orjson
from symbolic.exceptions import SymbolicError
from symbolic.sourcemapcache import SourceMapCache, SourceMapCacheToken

from services.ingest.enclosing import MAX_SOURCE_CHARS, FunctionIndex
from services.ingest.stacks import StackFrame

MAX_SOURCEMAP_BYTES = 50 * 1024 * 1024
"""Largest map parse() reads. Maps of real apps run to tens of MB; one with its sourcesContent
stripped by parse() keeps about 16 bytes per mapping segment in memory."""

MAX_ITEMS = 4_000_000
"""Commas and semicolons a map may hold. Every JSON value after the first in an array or object,
and every mapping segment after the first, follows one, so counting them (at memchr speed, before
any parsing) bounds how many objects the JSON parser and symbolic allocate: 4M one-letter names,
the costliest map per byte, take about a second and 300 MB. The esbuild map of a 3,000-module app
has one per 12 bytes, so 4M lets through such maps up to some 45 MB."""

MAX_SOURCES = 100_000
"""Entries of `sources`, each normalised in Python. Real bundles have thousands."""

# A map may start with this line to stop it being run as a script (the XSSI guard of the
# Source Map spec); browsers skip it, so a map served with it must work here too.
_XSSI_PREFIX = b")]}'"
_MAX_MESSAGE = 200

# `scheme://namespace/path?loaders`: where webpack, Next.js and Turbopack say a module came from.
_BUNDLER_SCHEMES = frozenset({"webpack", "webpack-internal", "turbopack"})
# Turbopack writes the project root as this first path segment.
_TURBOPACK_ROOT = "[project]/"

# V8 prints these before the name of a constructor or an async function; they stay when the
# minified name is replaced.
_NAME_PREFIXES = ("new ", "async ")


class SourceMapError(Exception):
    """A map that cannot be used; the message says why, in words fit to show the user."""


@dataclass(frozen=True, slots=True)
class OriginalLocation:
    source: str
    """The map's `sources` entry, normalised by source_path()."""
    line: int
    column: int
    """1-based, like the engines' own positions."""
    function: str
    """Original name when the map's `names` give it (see lookup()), else the minified one."""
    grouping_name: str | None = None
    """What grouping calls the function: the name the map's `names` give it, else the function
    around the position in the map's `sourcesContent`; None when neither says. Never the
    minifier's name, which changes from one build to the next."""


class LoadedSourceMap:
    """One parsed map; cache and share it between events and threads.

    The original sources are kept compressed, read only for a frame whose function the map's
    names leave unknown, and only the function spans of a source are kept once it is read.
    """

    __slots__ = ("_cache", "_functions", "_sources")

    def __init__(self, cache: SourceMapCache, sources: _Sources | None = None) -> None:
        self._cache = cache
        self._sources = sources
        self._functions: dict[str, FunctionIndex | None] = {}

    @classmethod
    def parse(cls, data: bytes) -> LoadedSourceMap:
        """The map in data (a version 3 source map, plain or indexed with `sections`).

        Raises SourceMapError for anything else. MAX_SOURCEMAP_BYTES, MAX_ITEMS and MAX_SOURCES
        are checked before the work they bound, so no input costs more than about a second and
        300 MB (measured on one core here; bench/hostile_inputs.py times the maps at each limit).
        The 19 MB map of a 3,000-module esbuild bundle parses in 0.25 s and is then held in about
        16 bytes a mapping.
        """
        if len(data) > MAX_SOURCEMAP_BYTES:
            raise SourceMapError(
                f"the map is {len(data):,} bytes, more than the limit of {MAX_SOURCEMAP_BYTES:,}"
            )
        if data.count(b",") + data.count(b";") > MAX_ITEMS:
            raise SourceMapError(f"the map has more than {MAX_ITEMS:,} values and mappings")
        if data.startswith(_XSSI_PREFIX):
            data = data.partition(b"\n")[2]
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SourceMapError(_clip(f"the map is not JSON: {exc}")) from None
        # symbolic gets back only what lookups use: sources normalised here once, and none of
        # sourcesContent, which is most of a map's size and which it would otherwise keep.
        slim = orjson.dumps(_slim_map(raw, _SourceBudget()))
        sources = _Sources(raw)
        del raw  # the parsed JSON goes before symbolic builds its own copy
        try:
            # An empty minified source: with the real one, symbolic would also name functions
            # from the scopes of the minified code, but its JavaScript parser recurses per nesting
            # level: 2,400 nested brackets overflow an 8 MB native stack and kill the process with
            # SIGSEGV, which no except clause sees. Bundles are user uploads: it never runs here.
            cache = SourceMapCache.from_bytes(b"", slim)
        except SymbolicError as exc:
            # symbolic checks what orjson cannot: VLQ syntax, and that every mapping points inside
            # `sources` and `names` ("bad reference to source #7").
            raise SourceMapError(_clip(f"the map is invalid: {exc.message}")) from None
        return cls(cache, sources)

    def lookup(
        self, frame: StackFrame, caller: StackFrame | None = None
    ) -> OriginalLocation | None:
        """Where frame's minified position came from, or None where the map has no mapping.

        caller is the frame that called frame (frames[i + 1] for frames[i]), or None. The
        mapping at a call site names what is called there, so when caller stands in the same
        file, the name of its call gives frame its original function name (Node's
        --enable-source-maps and Sentry fall back on the same). A frame without a column is not
        looked up: in a minified bundle the line alone is the whole bundle.
        """
        token = self._token(frame.line, frame.column)
        if token is None or token.src is None or token.line < 1 or token.col < 1:
            return None
        name = self._called_name(frame, caller)
        function = frame.function
        if name is not None:
            function = next((p for p in _NAME_PREFIXES if function.startswith(p)), "") + name
        grouping_name = (
            name if name is not None else self._enclosing(token.src, token.line, token.col)
        )
        return OriginalLocation(token.src, token.line, token.col, function, grouping_name)

    def _called_name(self, frame: StackFrame, caller: StackFrame | None) -> str | None:
        """The original name of what the caller's call site calls, when the map gives one."""
        # Nameless frames stay nameless: what their caller calls is whatever variable held them
        # (a parameter called `callback`), not a name of theirs.
        if (
            caller is None
            or caller.abs_path != frame.abs_path
            or caller.line is None
            or caller.column is None
            or not frame.function
            or "<anonymous>" in frame.function
        ):
            return None
        return self._name_called_at(caller.line, caller.column)

    def _enclosing(self, source: str, line: int, column: int) -> str | None:
        """The function around an original position, read from the map's sourcesContent."""
        if source not in self._functions:
            content = self._sources.get(source) if self._sources is not None else None
            self._functions[source] = FunctionIndex(content) if content is not None else None
        index = self._functions[source]
        return index.enclosing(line, column) if index is not None else None

    def _name_called_at(self, line: int, column: int) -> str | None:
        """The original name of the mapping that starts at a call site, if it has one.

        Lookups find the last mapping at or before a column, and one that starts before the call
        names some other identifier. symbolic does not say where a mapping starts, but the lookup
        one column to the left finds a different mapping exactly when this one starts here.
        """
        call = self._token(line, column)
        if call is None or call.name is None:
            return None
        before = self._token(line, column - 1)
        if before is not None and _same_mapping(before, call):
            return None
        return call.name

    def _token(self, line: int | None, column: int | None) -> SourceMapCacheToken | None:
        # symbolic takes u32 positions; 0 would wrap around to the end of the line.
        if line is None or column is None or not (0 < line < 2**32 and 0 < column < 2**32):
            return None
        return self._cache.lookup(line, column, 0)


def match_bundle(abs_path: str, bundles: Iterable[str]) -> str | None:
    """Which of the bundle names that maps were uploaded for is the file of this frame.

    abs_path is a frame's file as the runtime printed it: a disk path, a `file://` URL, or a
    page's script URL, whose query and fragment are ignored. A bundle name matches when it is
      - a whole URL (`https://shop.example.com/assets/app.js`): the same scheme, host and path;
      - rooted (`~/assets/app.js`, Sentry's spelling for "any host", or `/var/task/app.js`): the
        same path from the root of the URL or disk;
      - anything else (`app-3f2a.js`, `.next/server/chunks/123.js`): the path's last segments.
    The most specific match, the longest name, wins; None when nothing matches.
    """
    text = abs_path.replace("\\", "/")
    scheme, host, path = _split_url(text) if "://" in text else ("", "", text)
    if not path:
        return None
    matches = (name for name in bundles if _is_bundle(name, path, scheme, host))
    return max(matches, key=len, default=None)


def _is_bundle(name: str, path: str, scheme: str, host: str) -> bool:
    if "://" in name:
        return _split_url(name) == (scheme, host, path)
    if name.startswith(("~/", "/")):
        return path == name.removeprefix("~")
    name = name.removeprefix("./")
    return path == name or path.endswith("/" + name)


def _split_url(url: str) -> tuple[str, str, str]:
    """(scheme, host, unquoted path) of `scheme://host/path?query#fragment`.

    Not urlsplit(): it raises ValueError on text like `https://[shop/app.js`, and both frames and
    maps come from users.
    """
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    path = (slash + path).partition("?")[0].partition("#")[0]
    return scheme.lower(), host, unquote(path)


def source_path(source: str, source_root: str = "") -> str:
    """A `sources` entry made as close to a path in the repository as the entry allows.

    Bundler URLs lose their scheme and namespace (`webpack://app/./src/a.ts?abc` is
    `src/a.ts`, `turbopack:///[project]/app/page.tsx` is `app/page.tsx`), `file://` URLs and
    web URLs keep their path, relative entries are URL-decoded (they are relative URLs), and
    `./`, `..` inside the path and leading `../` go. Those leading
    `../` climb from the map's folder (`dist/`, `.next/server/chunks/`) to the project, so
    what is left is relative to the highest folder they reach: the project root when the build
    ran there, the package in a monorepo built per package. Absolute disk paths stay absolute:
    which part of them is the repository is for the caller to say, as for frames.
    """
    path = source.replace("\\", "/")
    if source_root and "://" not in path and not path.startswith("/"):
        root = source_root.replace("\\", "/")
        path = (root if root.endswith("/") else root + "/") + path
    url = "://" in path
    if url:
        scheme, _, path = _split_url(path)
        if scheme in _BUNDLER_SCHEMES:
            # The URL's "host" is the bundler's namespace (the app's name, or nothing).
            path = path.lstrip("/").removeprefix(_TURBOPACK_ROOT)
        elif scheme != "file":
            path = path.lstrip("/")  # a web URL's path is relative to the site
    if path.startswith("/"):
        return posixpath.normpath(path)
    # A relative entry is a relative URL (a URL's path was decoded above): Turbopack writes
    # Next.js's dynamic segments (`app/api/orders/[id]/route.ts`) as `%5Bid%5D`.
    if not url:
        path = unquote(path)
    parts = itertools.dropwhile(lambda part: part == "..", posixpath.normpath(path).split("/"))
    relative = "/".join(parts)
    return source if relative in ("", ".") else relative


class _SourceBudget:
    """MAX_SOURCES, counted over every section of an index map."""

    def __init__(self) -> None:
        self.left = MAX_SOURCES

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise SourceMapError(f"the map has more than {MAX_SOURCES:,} sources")


def _slim_map(raw: object, budget: _SourceBudget, *, section: bool = False) -> dict[str, object]:
    """The fields symbolic needs, checked: everything else in raw is left behind."""
    where = "a section of the map" if section else "the map"
    if not isinstance(raw, dict):
        raise SourceMapError(f"{where} is not a JSON object")
    version = raw.get("version")
    if version != 3:
        if type(version) is int:
            raise SourceMapError(f"{where} is version {version}; only version 3 is supported")
        raise SourceMapError(f"{where} is not a source map: it has no version 3")
    sections = raw.get("sections")
    if sections is not None:
        if section:
            raise SourceMapError("a section of the map has sections of its own")
        if not isinstance(sections, list):
            raise SourceMapError("the map's sections are not a list")
        return {"version": 3, "sections": [_slim_section(s, budget) for s in sections]}
    sources = raw.get("sources")
    if not isinstance(sources, list):
        raise SourceMapError(f"{where} has no list of sources")
    if not isinstance(raw.get("mappings"), str):
        raise SourceMapError(f"{where} has no mappings string")
    budget.spend(len(sources))
    root = raw.get("sourceRoot")
    root = root if isinstance(root, str) else ""
    return {
        "version": 3,
        "sources": [_slim_source(source, root) for source in sources],
        "names": raw.get("names", []),
        "mappings": raw["mappings"],
    }


def _slim_section(raw: object, budget: _SourceBudget) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise SourceMapError("a section of the map is not a JSON object")
    if "map" not in raw:
        # The spec's other kind of section names a map at a URL: fetching is not our job.
        raise SourceMapError("a section of the map has no embedded map (url is not supported)")
    return {"offset": raw.get("offset"), "map": _slim_map(raw["map"], budget, section=True)}


def _slim_source(source: object, root: str) -> str | None:
    if source is None:
        return None  # the spec allows null for a source with no name; lookups skip it
    if not isinstance(source, str):
        raise SourceMapError("the map has a source that is not a string")
    return source_path(source, root)


class _Sources:
    """The map's sourcesContent, kept compressed as one stream: compressing the sources one by
    one cost eight times as much on a map of 15,000 small modules. Read only for a source whose
    functions are looked for, and then whole (tens of milliseconds for 10 MB of source)."""

    __slots__ = ("_compressed", "_spans")

    def __init__(self, raw: object) -> None:
        chunks: list[bytes] = []
        self._spans: dict[str, tuple[int, int]] = {}
        offset = 0
        for path, content in _source_contents(raw):
            data = content.encode()
            self._spans[path] = (offset, offset + len(data))
            chunks.append(data)
            offset += len(data)
        self._compressed = zlib.compress(b"".join(chunks), 1) if chunks else b""

    def get(self, path: str) -> str | None:
        span = self._spans.get(path)
        if span is None:
            return None
        return zlib.decompress(self._compressed)[span[0] : span[1]].decode()


def _source_contents(raw: object) -> Iterable[tuple[str, str]]:
    """(normalised path, content) of each source the map holds the content of, sections
    included; called on a map _slim_map() has checked. Sources past MAX_SOURCE_CHARS are left
    out: their functions are not looked for."""
    assert isinstance(raw, dict)
    sections = raw.get("sections")
    if isinstance(sections, list):
        for section in sections:
            yield from _source_contents(section["map"])
        return
    contents = raw.get("sourcesContent")
    if not isinstance(contents, list):
        return
    root = raw.get("sourceRoot")
    root = root if isinstance(root, str) else ""
    for source, content in zip(raw["sources"], contents, strict=False):
        if (
            isinstance(source, str)
            and isinstance(content, str)
            and len(content) <= MAX_SOURCE_CHARS
        ):
            yield source_path(source, root), content


def _same_mapping(a: SourceMapCacheToken, b: SourceMapCacheToken) -> bool:
    return (a.src, a.line, a.col, a.name) == (b.src, b.line, b.col, b.name)


def _clip(message: str) -> str:
    # Messages quote the input at times; a user's megabytes must not end up in an incident.
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
