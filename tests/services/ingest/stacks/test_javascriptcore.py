"""Safari-format stacks from a real JavaScriptCore: the `jsc` shell of Debian's WebKitGTK build.

jsc runs programs/jsc once as a script and once as an ES module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ingest.stacks import StackFrame, parse_stack
from tests.services.ingest.stacks.markers import Marks

PROGRAMS = Path(__file__).parent / "programs" / "jsc"
JSC = shutil.which("jsc")

pytestmark = pytest.mark.skipif(JSC is None, reason="jsc is not installed (tools/apt-packages.txt)")


@dataclass(frozen=True)
class JscRun:
    stacks: dict[str, str]
    marks: Marks


def run_jsc(*args: str | Path) -> dict[str, str]:
    assert JSC is not None
    result = subprocess.run([JSC, *args], capture_output=True, text=True, timeout=60, check=True)
    stacks: dict[str, str] = json.loads(result.stdout)
    return stacks


@pytest.fixture(scope="module")
def jsc_run(tmp_path_factory: pytest.TempPathFactory) -> JscRun:
    root = tmp_path_factory.mktemp("jsc").resolve()
    script = root / "cases.js"
    module = root / "module.mjs"
    shutil.copy(PROGRAMS / "cases.js", script)
    shutil.copy(PROGRAMS / "module.mjs", module)
    marks = Marks()
    marks.add_javascript(script, str(script))
    marks.add_javascript(module, str(module))
    return JscRun(run_jsc(script) | run_jsc("-m", module), marks)


def native(function: str) -> StackFrame:
    return StackFrame("", None, None, function)


def case(run: JscRun, name: str) -> list[StackFrame]:
    stack = run.stacks[name]
    frames = parse_stack(stack, "browser")
    assert len(frames) == len(stack.strip().split("\n")), stack  # one frame a line
    return frames


def test_every_case_threw(jsc_run: JscRun) -> None:
    assert jsc_run.stacks.keys() == {"calls", "evalCode", "jsonParse", "globalCode", "module"}


def test_calls_native_frames_and_global_code(jsc_run: JscRun) -> None:
    m = jsc_run.marks
    assert case(jsc_run, "calls") == [
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


def test_eval_frames_without_a_location(jsc_run: JscRun) -> None:
    m = jsc_run.marks
    assert case(jsc_run, "evalCode")[:4] == [
        native("evaluated"),
        native("eval code"),
        native("eval"),
        m.at("eval", "evalCode"),
    ]


def test_builtin_frame(jsc_run: JscRun) -> None:
    m = jsc_run.marks
    assert case(jsc_run, "jsonParse")[:2] == [native("parse"), m.at("json", "jsonParse")]


def test_global_code_alone(jsc_run: JscRun) -> None:
    assert case(jsc_run, "globalCode") == [jsc_run.marks.at("global", "global code")]


def test_module_code(jsc_run: JscRun) -> None:
    m = jsc_run.marks
    assert case(jsc_run, "module") == [m.at("module", "explode"), m.at("module-top", "module code")]


@pytest.mark.parametrize("platform", ["node", "edge", "python"])
def test_platform_is_only_a_hint(jsc_run: JscRun, platform: str) -> None:
    for stack in jsc_run.stacks.values():
        assert parse_stack(stack, platform) == parse_stack(stack, "browser")
