"""esbuild for the tests that build real bundles, installed once per lock file with `npm ci`."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# The program the source map tests bundle, with the package.json that pins esbuild.
PROGRAMS = Path(__file__).parents[1] / "services" / "ingest" / "sourcemap_programs"
NPM_CACHE = Path(__file__).parents[2] / ".stackline" / "npm"
NODE = shutil.which("node")
NPM = shutil.which("npm")


def installed_esbuild() -> Path:
    if NPM is None or NODE is None:
        pytest.skip("node and npm are not on PATH")
    lock = (PROGRAMS / "package-lock.json").read_bytes()
    folder = NPM_CACHE / f"esbuild-{hashlib.sha256(lock).hexdigest()[:16]}"
    binary = folder / "node_modules" / ".bin" / "esbuild"
    if binary.exists():
        return binary
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    # Install beside the cache and rename into place, so that an interrupted install is never
    # taken for a finished one and two sessions installing at once both end with a whole one.
    staging = Path(tempfile.mkdtemp(dir=NPM_CACHE, prefix="installing-"))
    shutil.copy(PROGRAMS / "package.json", staging)
    shutil.copy(PROGRAMS / "package-lock.json", staging)
    subprocess.run(
        [NPM, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=staging,
        check=True,
        timeout=300,
    )
    try:
        staging.rename(folder)
    except OSError:  # another session got there first
        shutil.rmtree(staging)
    return binary
