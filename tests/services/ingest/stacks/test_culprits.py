"""The culprit and the causes of real stacks, as ingest stores them: parsed, placed in the
repository, the culprit picked. Each expected file, line and function comes from a marker.

The culprit is the thrown error's innermost frame in the repository: never a cause's or a
sub-error's, never a frame of code made at run time (whose origin the frame keeps instead).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from stackline.ingest.v1 import ingest_pb2

from services.ingest.events import PreparedEvent, prepare
from services.ingest.stacks import StackFrame
from stackline_infra.db.types import utcnow
from tests.services.ingest.stacks.markers import Marks
from tests.services.ingest.stacks.runs import BrowserRun, NodeRun, PythonRun, ShellRun


@dataclass(frozen=True)
class Runs:
    node: NodeRun
    python: PythonRun
    gjs: ShellRun
    jsc: ShellRun
    browser: BrowserRun


@pytest.fixture(scope="module")
def runs(
    node_run: NodeRun,
    python_run: PythonRun,
    gjs_run: ShellRun,
    jsc_run: ShellRun,
    browser_run: BrowserRun,
) -> Runs:
    return Runs(node_run, python_run, gjs_run, jsc_run, browser_run)


@dataclass(frozen=True)
class Sent:
    """A stack as an app sends it: its text, runtime, where the app runs, the marks to check."""

    stack: str
    platform: str
    root: Path | None
    marks: Marks


def event(sent: Sent, **fields: Any) -> PreparedEvent:
    proto = ingest_pb2.Event(
        project_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        platform=sent.platform,
        deploy_root=str(sent.root) if sent.root else "",
        exception=ingest_pb2.ExceptionInfo(type="Error", message="m", stack=sent.stack),
        **fields,
    )
    return prepare(proto, utcnow())


def expected(sent: Sent, marker: str, function: str) -> dict[str, Any]:
    """The frame a marker names, as an event's culprit shows it: relative to the repository."""
    at: StackFrame = sent.marks.at(marker, function)
    path = at.abs_path
    if sent.root is not None:
        path = path.removeprefix(sent.root.as_uri() + "/").removeprefix(f"{sent.root}/")
    else:
        path = path.split("/", 3)[3]  # a page's script, by its path on the site
    return {"file": path, "line": at.line, "column": at.column, "function": function}


def node(name: str) -> Callable[[Runs], Sent]:
    def sent(runs: Runs) -> Sent:
        run = runs.node
        texts = {
            **{f"inspected {k}": v for k, v in run.inspected.items()},
            **{f"stack {k}": v for k, v in run.nested_stacks.items()},
            **{f"uncaught {k}": v for k, v in run.uncaught.items()},
        }
        return Sent(texts[name], "node", run.root, run.marks)

    return sent


def python(name: str) -> Callable[[Runs], Sent]:
    return lambda runs: Sent(
        runs.python.stacks[name], "python", runs.python.root, runs.python.marks
    )


def shell(which: str, name: str) -> Callable[[Runs], Sent]:
    def sent(runs: Runs) -> Sent:
        run = runs.gjs if which == "gjs" else runs.jsc
        return Sent(run.stacks[name], "browser", run.root, run.marks)

    return sent


def chromium(name: str) -> Callable[[Runs], Sent]:
    return lambda runs: Sent(runs.browser.stacks[name], "browser", None, runs.browser.marks)


CULPRITS = [
    # Errors printed with their causes and sub-errors: the thrown one's frame.
    pytest.param(node("inspected causeChain"), "chain-outer", "startServer", id="node-cause"),
    pytest.param(node("inspected aggregate"), "aggregate", "settle", id="node-aggregate"),
    pytest.param(
        node("inspected ownProperties"), "own-properties", "ownProperties", id="node-props"
    ),
    pytest.param(node("uncaught uncaught-cause.cjs"), "migrate", "migrate", id="node-uncaught"),
    pytest.param(
        node("uncaught uncaught-aggregate.mjs"), "check-all", "checkAll", id="node-esm-uncaught"
    ),
    pytest.param(python("chained"), "wrap", "wrap", id="python-raise-from"),
    pytest.param(python("implicit"), "implicit", "implicit", id="python-during-handling"),
    pytest.param(python("group"), "group", "group", id="python-group"),
    pytest.param(python("nested_group"), "nested-group", "nested_group", id="python-nested-group"),
    # Code made at run time: the call into it.
    pytest.param(node("stack template"), "render", "renderPage", id="node-new-function"),
    pytest.param(node("inspected evalLater"), "run-plugin", "", id="node-eval"),
    pytest.param(chromium("evalCode"), "eval", "", id="chromium-eval"),
    pytest.param(chromium("evalLater"), "run-plugin", "", id="chromium-eval-later"),
    pytest.param(shell("gjs", "evalCode"), "eval", "evalCode", id="gjs-eval"),
    pytest.param(
        shell("gjs", "newFunction"), "new-function-call", "newFunction", id="gjs-function"
    ),
    pytest.param(
        shell("gjs", "generatedLater"), "apply-rule", "applyRule", id="gjs-function-later"
    ),
    pytest.param(shell("gjs", "evalLater"), "run-plugin", "runPlugins/<", id="gjs-eval-later"),
    pytest.param(shell("jsc", "evalCode"), "eval", "evalCode", id="jsc-eval"),
    pytest.param(shell("jsc", "evalLater"), "run-plugin", "", id="jsc-eval-later"),
    pytest.param(python("generated"), "generated", "generated", id="python-compiled-string"),
]


@pytest.mark.parametrize(("case", "marker", "function"), CULPRITS)
def test_the_culprit_is_the_thrown_errors_innermost_frame_in_the_repository(
    runs: Runs, case: Callable[[Runs], Sent], marker: str, function: str
) -> None:
    sent = case(runs)
    culprit = event(sent).culprit
    want = expected(sent, marker, function)
    if sent.platform == "python":
        want["column"] = None
    assert culprit == want


def test_causes_are_kept_with_their_frames_placed(runs: Runs) -> None:
    sent = node("inspected causeChain")(runs)
    stored = event(sent)
    assert [(c["type"], c["relation"], c["parent"]) for c in stored.causes] == [
        ("Error", "cause", None),
        ("SyntaxError", "cause", 0),
    ]
    middle, inner = stored.causes
    assert middle["message"] == "cannot load the configuration"
    want = expected(sent, "chain-middle", "loadConfig")
    assert {k: dict(middle["frames"][0])[k] for k in want} == want
    assert middle["frames"][0]["in_app"] is True
    want = expected(sent, "chain-inner", "readConfig")
    assert {k: dict(inner["frames"][0])[k] for k in want} == want


def test_sub_errors_of_a_group_are_kept_with_their_frames_placed(runs: Runs) -> None:
    sent = python("nested_group")(runs)
    stored = event(sent)
    assert [(c["type"], c["relation"], c["parent"]) for c in stored.causes] == [
        ("RuntimeError", "sub_error", None),
        ("ConnectionError", "cause", 0),
        ("RuntimeError", "sub_error", None),
        ("ConnectionError", "cause", 2),
        ("ExceptionGroup", "sub_error", None),
        ("TimeoutError", "sub_error", 4),
    ]
    assert stored.causes[5]["frames"][0]["file"] == "cases.py"
    assert stored.causes[5]["frames"][0]["line"] == sent.marks.at("sub-exception", "").line


def test_a_cause_the_sdk_sends_on_its_own_is_parsed_and_placed(runs: Runs) -> None:
    """A browser's error.stack leaves the cause out; the SDK sends the cause's own stack."""
    sent = chromium("cause")(runs)
    cause = ingest_pb2.ExceptionInfo(
        type="TypeError",
        message="the card was declined",
        stack=runs.browser.stacks["causeOfCause"],
    )
    proto_cause = ingest_pb2.ExceptionInfo(type="Error", message="m", stack=sent.stack, cause=cause)
    stored = prepare(
        ingest_pb2.Event(
            project_id=str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            platform="browser",
            exception=proto_cause,
        ),
        utcnow(),
    )
    assert stored.culprit == expected(sent, "checkout", "checkout")
    [declined] = stored.causes
    assert (declined["type"], declined["relation"], declined["parent"]) == (
        "TypeError",
        "cause",
        None,
    )
    want = expected(sent, "charge", "charge")
    assert {k: dict(declined["frames"][0])[k] for k in want} == want
    # The raw cause stays in the context, as before.
    assert stored.context["causes"][0]["type"] == "TypeError"


def test_a_frame_of_generated_code_keeps_where_the_code_was_made(runs: Runs) -> None:
    sent = node("stack template")(runs)
    generated = event(sent).frames[0]
    made = sent.marks.at("compile", "")
    assert (generated["file"], generated["in_app"], generated["function"]) == (None, False, "eval")
    assert generated["eval_origin"] == {
        "file": "nested.cjs",
        "line": made.line,
        "column": made.column,
        "abs_path": made.abs_path,
    }


def test_a_firefox_eval_origin_has_a_line_and_no_column(runs: Runs) -> None:
    sent = shell("gjs", "generatedLater")(runs)
    origin = event(sent).frames[0]["eval_origin"]
    made = sent.marks.at("compile-rule", "")
    assert (origin["file"], origin["line"], origin["column"]) == ("cases.js", made.line, None)
