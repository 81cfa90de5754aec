"""axe-core for the dashboard's accessibility checks, installed once per lock file with `npm ci`."""

from __future__ import annotations

from pathlib import Path

from tests.support.npm import installed

PACKAGE = Path(__file__).parents[1] / "e2e" / "dashboard_axe"


def installed_axe() -> str:
    """The source of axe.min.js, to inject into a page."""
    return (installed(PACKAGE, "axe") / "axe-core" / "axe.min.js").read_text()
