"""npm packages that tools and tests run (buf, esbuild, axe-core, Sentry's SDKs), installed once
per lock file under .stackline/npm."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

NPM_CACHE = Path(__file__).resolve().parents[1] / ".stackline" / "npm"
NODE = shutil.which("node")
NPM = shutil.which("npm")


class NpmMissing(RuntimeError):
    """node or npm is not on PATH."""


def installed(package: Path, name: str) -> Path:
    """node_modules for the package.json and package-lock.json in `package`, from `npm ci`.

    Installed beside the cache and renamed into place, so that an interrupted install is never
    taken for a finished one and two sessions installing at once both end with a whole one.
    """
    if NPM is None or NODE is None:
        raise NpmMissing("node and npm are not on PATH")
    lock = (package / "package-lock.json").read_bytes()
    folder = NPM_CACHE / f"{name}-{hashlib.sha256(lock).hexdigest()[:16]}"
    if (folder / "node_modules").exists():
        return folder / "node_modules"
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=NPM_CACHE, prefix="installing-"))
    shutil.copy(package / "package.json", staging)
    shutil.copy(package / "package-lock.json", staging)
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
    return folder / "node_modules"
