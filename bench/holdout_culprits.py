"""How many culprits land on the right line for stacks the tests have never seen.

Runs the programs of two sets, bench/holdout/ (written before the engine learnt nested errors and
generated code) and bench/holdout-2/ (written after, and measured once), in Node (CommonJS and ES
modules), CPython, Chromium, gjs and jsc; sends each error's text through the ingest engine as an
event would arrive (`prepare`: parse, place, pick the culprit) and compares the culprit with the
line marked in the program's source: `/*@case*/` or `/*^case*/` in JavaScript, `# @case` at the
end of a Python line. No test uses these programs.

    .venv/bin/python bench/holdout_culprits.py                 # this tree's engine
    .venv/bin/python bench/holdout_culprits.py --engine DIR    # another checkout's engine
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).parent


@dataclass(frozen=True)
class HoldoutSet:
    folder: str
    esm_runner: str | None  # prints the ES module cases it catches
    uncaught: tuple[str, str]  # the program that dies, and its case's marker
    browser_cases: int
    gjs: str
    jsc: str


SETS = (
    HoldoutSet(
        "holdout", "run.mjs", ("main.mjs", "uncaught-cause"), 2, "validators.js", "report.js"
    ),
    HoldoutSet("holdout-2", None, ("server.mjs", "uncaught-rejection"), 3, "queue.js", "layout.js"),
)
_JAVASCRIPT = re.compile(r"/\*[@^]([\w-]+)\*/")
_PYTHON = re.compile(r"# @([\w-]+)$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    name: str
    platform: str
    stack: str
    root: Path
    """The folder that stands for the repository: the program's deploy root."""


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z])([A-Z])", r"-\1", name).lower()


def marks(root: Path) -> dict[str, tuple[str, int]]:
    """Every marker under root: its name, and the file (relative to root) and line it is on."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".js", ".mjs", ".py", ".html"}:
            continue
        text = path.read_text(encoding="utf-8")
        pattern = _PYTHON if path.suffix == ".py" else _JAVASCRIPT
        for match in pattern.finditer(text):
            found[match[1]] = (
                path.relative_to(root).as_posix(),
                text.count("\n", 0, match.start()) + 1,
            )
    return found


def run(args: list[str], cwd: Path, *, fails: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if (result.returncode != 0) != fails:
        raise SystemExit(f"{' '.join(args)} in {cwd}: exit {result.returncode}\n{result.stderr}")
    return result


def node_cases(node: str, holdout: HoldoutSet) -> list[Case]:
    cjs = BENCH / holdout.folder / "node"
    esm = BENCH / holdout.folder / "node-esm"
    stacks = json.loads(run([node, "run.js"], cjs).stdout)
    cases = [Case(kebab(k), "node", v, cjs) for k, v in stacks.items()]
    if holdout.esm_runner is not None:
        stacks = json.loads(run([node, holdout.esm_runner], esm).stdout)
        cases += [Case(kebab(k), "node", v, esm) for k, v in stacks.items()]
    # What Node prints when the app dies of it, as a log shipper would send stderr.
    program, name = holdout.uncaught
    cases.append(Case(name, "node", run([node, program], esm, fails=True).stderr, esm))
    return cases


def python_cases(holdout: HoldoutSet) -> list[Case]:
    root = BENCH / holdout.folder / "python"
    stacks = json.loads(run([sys.executable, "run.py"], root).stdout)
    return [Case(kebab(k), "python", v, root) for k, v in stacks.items()]


def shell_cases(shell: str, root: Path, script: str) -> list[Case]:
    stacks = json.loads(run([shell, str(root / script)], root).stdout)
    return [Case(kebab(k), "browser", v, root) for k, v in stacks.items()]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def browser_cases(chromium: str, holdout: HoldoutSet) -> list[Case]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this runtime needs it

    root = BENCH / holdout.folder / "browser"
    handler = functools.partial(_Quiet, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
            expected = f"Object.keys(window.holdout).length === {holdout.browser_cases}"
            page.wait_for_function(expected, timeout=10_000)
            stacks: dict[str, str] = page.evaluate("window.holdout")
            browser.close()
        server.shutdown()
    return [Case(kebab(k), "browser", v, root) for k, v in stacks.items()]


def culprit_of(case: Case) -> tuple[str, int] | None:
    from stackline.ingest.v1 import ingest_pb2  # noqa: PLC0415 - from the engine chosen in main()

    from services.ingest.events import prepare  # noqa: PLC0415
    from stackline_infra.db.types import utcnow  # noqa: PLC0415

    event = ingest_pb2.Event(
        project_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        platform=case.platform,
        deploy_root=str(case.root),
        exception=ingest_pb2.ExceptionInfo(type="Error", message="", stack=case.stack),
    )
    culprit = prepare(event, utcnow()).culprit
    return None if culprit is None else (culprit["file"], culprit["line"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--engine", type=Path, help="the checkout whose engine to measure")
    parser.add_argument("--verbose", action="store_true", help="print the stacks that miss")
    options = parser.parse_args()
    engine = (options.engine or Path(__file__).parents[1]).resolve()
    sys.path[:0] = [str(engine), str(engine / "gen" / "python")]

    tools = {name: shutil.which(name) for name in ("node", "gjs", "jsc", "chromium")}
    if missing := [name for name, path in tools.items() if path is None]:
        raise SystemExit(f"not installed: {', '.join(missing)}")
    totals = []
    for holdout in SETS:
        cases = [
            *node_cases(tools["node"] or "", holdout),
            *python_cases(holdout),
            *browser_cases(tools["chromium"] or "", holdout),
            *shell_cases(tools["gjs"] or "", BENCH / holdout.folder / "gjs", holdout.gjs),
            *shell_cases(tools["jsc"] or "", BENCH / holdout.folder / "jsc", holdout.jsc),
        ]
        right = 0
        print(f"{holdout.folder}/")
        for case in cases:
            expected = marks(case.root)[case.name]
            got = culprit_of(case)
            right += got == expected
            verdict = "right" if got == expected else "WRONG"
            print(
                f"  {verdict:5}  {case.name:20} expected {expected[0]}:{expected[1]:<4} got {got}"
            )
            if got != expected and options.verbose:
                print(case.stack)
        totals.append(f"{holdout.folder}: {right} of {len(cases)}")
    print(f"culprits right, {'; '.join(totals)} (engine: {engine})")


if __name__ == "__main__":
    main()
