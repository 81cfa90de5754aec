"""esbuild for the tests that build real bundles, installed once per lock file with `npm ci`."""

from __future__ import annotations

from pathlib import Path

from tests.support.npm import NODE, installed

__all__ = ["NODE", "PROGRAMS", "installed_esbuild"]

# The program the source map tests bundle, with the package.json that pins esbuild.
PROGRAMS = Path(__file__).parents[1] / "services" / "ingest" / "sourcemap_programs"


def installed_esbuild() -> Path:
    return installed(PROGRAMS, "esbuild") / ".bin" / "esbuild"
