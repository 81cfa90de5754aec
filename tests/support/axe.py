"""axe-core for the dashboard's accessibility checks, installed once per lock file with `npm ci`."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "e2e" / "dashboard_axe"
NPM_CACHE = Path(__file__).parents[2] / ".stackline" / "npm"


def installed_axe() -> str:
    """The source of axe.min.js, to inject into a page."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH")
    lock = (PACKAGE / "package-lock.json").read_bytes()
    folder = NPM_CACHE / f"axe-{hashlib.sha256(lock).hexdigest()[:16]}"
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        # Installed beside the cache and renamed into place, as tests/support/esbuild.py does.
        staging = Path(tempfile.mkdtemp(dir=NPM_CACHE, prefix="installing-"))
        shutil.copy(PACKAGE / "package.json", staging)
        shutil.copy(PACKAGE / "package-lock.json", staging)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=staging,
            check=True,
            timeout=300,
        )
        try:
            staging.rename(folder)
        except OSError:  # another session got there first
            shutil.rmtree(staging)
    return script.read_text()
