"""Firefox-format stacks from a real SpiderMonkey: Debian's gjs embeds the engine Firefox ships.

gjs runs programs/gjs once as a script and once as an ES module. What only the browser prints
(`promise callback*`, `@debugger eval code`) is in test_documented_formats.py.
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

PROGRAMS = Path(__file__).parent / "programs" / "gjs"
GJS = shutil.which("gjs")

pytestmark = pytest.mark.skipif(GJS is None, reason="gjs is not installed (tools/apt-packages.txt)")


@dataclass(frozen=True)
class GjsRun:
    stacks: dict[str, str]
    marks: Marks


def run_gjs(*args: str | Path) -> dict[str, str]:
    assert GJS is not None
    result = subprocess.run([GJS, *args], capture_output=True, text=True, timeout=60, check=True)
    stacks: dict[str, str] = json.loads(result.stdout)
    return stacks


@pytest.fixture(scope="module")
def gjs_run(tmp_path_factory: pytest.TempPathFactory) -> GjsRun:
    root = tmp_path_factory.mktemp("gjs").resolve()
    script = root / "cases.js"
    module = root / "module.js"
    shutil.copy(PROGRAMS / "cases.js", script)
    shutil.copy(PROGRAMS / "module.js", module)
    marks = Marks()
    marks.add_javascript(script, str(script))
    marks.add_javascript(module, module.as_uri())
    return GjsRun(run_gjs(script) | run_gjs("-m", module), marks)


def case(run: GjsRun, name: str) -> list[StackFrame]:
    stack = run.stacks[name]
    frames = parse_stack(stack, "browser")
    assert len(frames) == len(stack.strip().split("\n")), stack  # one frame a line
    return frames


def test_every_case_threw(gjs_run: GjsRun) -> None:
    assert gjs_run.stacks.keys() == {
        "calls",
        "getter",
        "computedName",
        "evalCode",
        "newFunction",
        "asyncChain",
        "module",
    }


def test_nested_anonymous_functions_keep_firefox_names(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert case(gjs_run, "calls")[:7] == [
        m.at("inner", "inner"),
        m.at("outer", "outer"),
        m.at("construct", "Widget"),
        m.at("arrow", "nested/</<"),
        m.at("inner-map", "nested/<"),
        m.at("outer-map", "nested"),
        m.at("calls", "calls"),
    ]


def test_getter(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert case(gjs_run, "getter")[:2] == [m.at("getter", "get size"), m.at("size", "getter")]


def test_at_sign_inside_a_computed_name(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert case(gjs_run, "computedName")[:2] == [
        m.at("computed", 'registry["on@load"]'),
        m.at("on-load", "computedName"),
    ]


def test_eval_frames_point_at_the_eval_call(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert "line " in gjs_run.stacks["evalCode"]
    assert case(gjs_run, "evalCode")[:3] == [
        m.at_line("eval", "evaluated"),
        m.at_line("eval", ""),
        m.at("eval", "evalCode"),
    ]


def test_new_function_frames_point_at_the_constructor_call(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert "> Function" in gjs_run.stacks["newFunction"]
    assert case(gjs_run, "newFunction")[:2] == [
        m.at_line("new-function", "anonymous"),
        m.at("new-function-call", "newFunction"),
    ]


def test_async_frame_drops_its_async_cause(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert "async*handler@" in gjs_run.stacks["asyncChain"]
    assert case(gjs_run, "asyncChain")[:2] == [
        m.at("read-row", "readRow"),
        m.at("await", "handler"),
    ]


def test_module_frames_are_file_urls(gjs_run: GjsRun) -> None:
    m = gjs_run.marks
    assert case(gjs_run, "module") == [m.at("module", "explode"), m.at("module-top", "")]


@pytest.mark.parametrize("platform", ["node", "edge", "python"])
def test_platform_is_only_a_hint(gjs_run: GjsRun, platform: str) -> None:
    for stack in gjs_run.stacks.values():
        assert parse_stack(stack, platform) == parse_stack(stack, "browser")


@pytest.mark.parametrize("name", ["calls", "evalCode", "asyncChain"])
def test_stack_cut_anywhere_gives_a_prefix_of_its_frames(gjs_run: GjsRun, name: str) -> None:
    """The frames before a cut survive it; the line that was cut is dropped or keeps its function
    (its location may be lost or misread: `inner@` reads as a frame with no file)."""
    stack = gjs_run.stacks[name]
    whole = parse_stack(stack, "browser")
    for end in range(len(stack) + 1):
        frames = parse_stack(stack[:end], "browser")
        assert len(frames) <= len(whole)
        if frames:
            *intact, cut = frames
            assert intact == whole[: len(intact)], stack[:end]
            assert cut.function == whole[len(intact)].function, stack[:end]
