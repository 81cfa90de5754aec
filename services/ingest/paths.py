"""From the path a runtime printed to a repository file, and whether it is the app's own code."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

# Where hosts put the deployed checkout, tried when the SDK sent no deploy_root.
_KNOWN_ROOTS = (
    "/var/task/",
    "/vercel/path0/",
    "/vercel/path1/",
    "/app/",
    "/workspace/",
    "/opt/render/project/src/",
)
_SRV_ROOT = re.compile(r"^/srv/[^/]+/")
# Code that is not the app's: installed packages, the runtime's own modules.
_VENDORED = (
    "/node_modules/",
    "/site-packages/",
    "/dist-packages/",
    "/.pnpm/",
    "/bower_components/",
)
_PYTHON_STDLIB = re.compile(r"/lib/python\d+(?:\.\d+)?/")
_NOT_FILES = (
    "<anonymous>",
    "<string>",
    "<frozen ",
    "<stdin>",
    "native",
    "[native code]",
    "<unknown>",
)


def _url_path(url: str) -> str:
    try:
        return unquote(urlsplit(url).path)
    except ValueError:
        # A malformed URL (say, an unclosed "[" in its host) still names a file;
        # what follows the authority is the best guess at which.
        return "/" + url.partition("://")[2].partition("/")[2]


def _strip_scheme(path: str) -> str:
    if path.startswith("file://"):
        return _url_path(path)
    if "://" in path:
        # A browser frame (https://host/assets/app.js) or a bundler URL
        # (webpack://app/./src/x.ts): the path part stands for the repo.
        scheme, _, rest = path.partition("://")
        if scheme in ("webpack", "webpack-internal", "app", "rsc"):
            return rest.split("/", 1)[1] if "/" in rest else rest
        # A page's script: its URL path is relative to the site, not the disk.
        return _url_path(path).lstrip("/")
    return path


# A project's (stack root, source root) rewrites, longest stack root first.
PathMappings = tuple[tuple[str, str], ...]


def order_mappings(mappings: Iterable[tuple[str, str]]) -> PathMappings:
    return tuple(sorted(mappings, key=lambda m: len(m[0]), reverse=True))


def _mapped(path: str, mappings: PathMappings) -> str | None:
    for stack_root, source_root in mappings:
        if path.startswith(stack_root):
            return source_root + path[len(stack_root) :]
    return None


# Names runtimes give code that is in no file. Python names compiled strings `<...>` (exec and
# compile's `<string>`, `<stdin>`, a template engine's `<template>`, a pseudo-name of the app's
# own); Node runs `node -e` and `node -p` code as `[eval]`, and stdin as `[stdin]`; Firefox
# runs what is typed in its console as `debugger eval code`.
_PSEUDO_FILES = ("[eval]", "[eval]-wrapper", "[stdin]", "[worker eval]", "debugger eval code")


def _is_not_a_file(abs_path: str, pseudo_files: bool) -> bool:
    if not abs_path or abs_path.startswith(("node:", "internal/", *_NOT_FILES)):
        return True
    if not pseudo_files:
        return False
    return (abs_path.startswith("<") and abs_path.endswith(">")) or abs_path.startswith(
        _PSEUDO_FILES
    )


def _is_vendored(path: str) -> bool:
    return any(marker in path for marker in _VENDORED) or path.startswith(
        ("node_modules/", "site-packages/")
    )


def is_pseudo_file(abs_path: str) -> bool:
    """Whether abs_path names code in no file that grouping version 1 took for a path."""
    return _is_not_a_file(abs_path, True) and not _is_not_a_file(abs_path, False)


# A pure function of few distinct inputs (an app has only so many files), on the hot path once
# per frame of every event.
@functools.lru_cache(maxsize=16384)
def to_repo_path(
    abs_path: str, deploy_root: str, mappings: PathMappings = (), *, pseudo_files: bool = True
) -> tuple[str | None, bool]:
    """(path relative to the repository root, in_app) for one frame.

    The path is None when the frame is not in the repository (a dependency,
    the runtime, generated code) or cannot be placed in it. The project's own
    mappings are tried first, on the path as printed and then without its
    scheme; then the deploy root; then the roots hosts commonly use.

    pseudo_files=False places the names of code in no file (`<pricing-rule>`, `[eval]`) as
    relative paths, as grouping version 1 did.
    """
    if _is_not_a_file(abs_path, pseudo_files):
        return None, False
    path = _strip_scheme(abs_path).replace("\\", "/")
    if _is_vendored(path) or _PYTHON_STDLIB.search(path):
        return None, False
    relative = _mapped(abs_path, mappings) or _mapped(path, mappings)
    if relative is None:
        relative = _relative_to_root(path, deploy_root)
    if relative is None:
        return None, True
    relative = posixpath.normpath(relative)
    if relative in (".", "") or relative.startswith("../"):
        return None, True
    return relative, True


def _relative_to_root(path: str, deploy_root: str) -> str | None:
    if deploy_root:
        root = deploy_root.replace("\\", "/").rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root) :]
    for root in _KNOWN_ROOTS:
        if path.startswith(root):
            return path[len(root) :]
    srv = _SRV_ROOT.match(path)
    if srv:
        return path[srv.end() :]
    if not path.startswith("/"):
        return path.removeprefix("./")
    # An absolute path outside every root we know: in the app, most likely,
    # but there is no telling which part of it is the repository.
    return None
