"""npm packages the tests run (esbuild, axe-core, Sentry's SDKs), installed once per lock file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import npm_tools

NODE = npm_tools.NODE
NPM = npm_tools.NPM


def installed(package: Path, name: str) -> Path:
    """node_modules for the package.json and package-lock.json in `package`; a skip without npm."""
    try:
        return npm_tools.installed(package, name)
    except npm_tools.NpmMissing as exc:
        pytest.skip(str(exc))
