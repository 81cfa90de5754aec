"""Safari-format stacks from a real JavaScriptCore: the `jsc` shell of Debian's WebKitGTK build.

jsc runs programs/jsc once as a script and once as an ES module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.markers import Marks
from tests.services.ingest.stacks.shells import ShellRun, run_shell

PROGRAMS = Path(__file__).parent / "programs" / "jsc"
JSC = shutil.which("jsc")

pytestmark = pytest.mark.skipif(JSC is None, reason="jsc is not installed (tools/apt-packages.txt)")


@pytest.fixture(scope="module")
def jsc_run(tmp_path_factory: pytest.TempPathFactory) -> ShellRun:
    root = tmp_path_factory.mktemp("jsc").resolve()
    script = root / "cases.js"
    module = root / "module.mjs"
    shutil.copy(PROGRAMS / "cases.js", script)
    shutil.copy(PROGRAMS / "module.mjs", module)
    marks = Marks()
    marks.add_javascript(script, str(script))
    marks.add_javascript(module, str(module))
    assert JSC is not None
    return ShellRun(run_shell(JSC, script) | run_shell(JSC, "-m", module), marks)


def native(function: str) -> StackFrame:
    return StackFrame("", None, None, function)


def test_every_case_threw(jsc_run: ShellRun) -> None:
    assert jsc_run.stacks.keys() == {"calls", "evalCode", "jsonParse", "globalCode", "module"}


def test_calls_native_frames_and_global_code(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("calls") == [
        m.at("inner", "inner"),
        m.at("outer", "outer"),
        m.at("construct", "Widget"),
        m.at("arrow", ""),
        native("map"),
        m.at("inner-map", ""),
        native("map"),
        m.at("outer-map", "nested"),
        m.at("calls", "calls"),
        m.at("run", "global code"),
    ]


def test_eval_frames_without_a_location(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("evalCode")[:4] == [
        native("evaluated"),
        native("eval code"),
        native("eval"),
        m.at("eval", "evalCode"),
    ]


def test_builtin_frame(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("jsonParse")[:2] == [native("parse"), m.at("json", "jsonParse")]


def test_global_code_alone(jsc_run: ShellRun) -> None:
    assert jsc_run.case("globalCode") == [jsc_run.marks.at("global", "global code")]


def test_module_code(jsc_run: ShellRun) -> None:
    m = jsc_run.marks
    assert jsc_run.case("module") == [m.at("module", "explode"), m.at("module-top", "module code")]


@pytest.mark.parametrize("platform", ["node", "edge", "python"])
def test_platform_is_only_a_hint(jsc_run: ShellRun, platform: str) -> None:
    for stack in jsc_run.stacks.values():
        assert parse_stack(stack, platform) == parse_stack(stack, "browser")
