"""Each corpus program runs once per session, whichever stack tests ask for it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.services.ingest.stacks import runs


@pytest.fixture(scope="session")
def node_run(tmp_path_factory: pytest.TempPathFactory) -> runs.NodeRun:
    return runs.run_node(tmp_path_factory.mktemp("node").resolve())


@pytest.fixture(scope="session")
def python_run(tmp_path_factory: pytest.TempPathFactory) -> runs.PythonRun:
    return runs.run_python(tmp_path_factory.mktemp("python").resolve())


@pytest.fixture(scope="session")
def gjs_run(tmp_path_factory: pytest.TempPathFactory) -> runs.ShellRun:
    return runs.run_gjs(tmp_path_factory.mktemp("gjs").resolve())


@pytest.fixture(scope="session")
def jsc_run(tmp_path_factory: pytest.TempPathFactory) -> runs.ShellRun:
    return runs.run_jsc(tmp_path_factory.mktemp("jsc").resolve())


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(runs.PROGRAMS / "browser", root, dirs_exist_ok=True)
    yield from runs.serve(root)


@pytest.fixture(scope="session")
def browser_run(site: str) -> runs.BrowserRun:
    return runs.run_browser(site)
