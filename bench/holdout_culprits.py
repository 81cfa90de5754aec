"""How many culprits land on the right line for stacks the tests have never seen.

Runs the programs in bench/holdout/ (Node CommonJS and ES modules, CPython, Chromium, gjs, jsc),
sends each error's text through the ingest engine as an event would arrive (`prepare`: parse,
place, pick the culprit) and compares the culprit with the line marked in the program's source:
`/*@case*/` or `/*^case*/` in JavaScript, `# @case` at the end of a Python line. The programs
were written for this measure and are not used by the tests.

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

HOLDOUT = Path(__file__).parent / "holdout"
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
        if path.suffix not in {".js", ".mjs", ".py"}:
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


def node_cases(node: str) -> list[Case]:
    cjs = HOLDOUT / "node"
    esm = HOLDOUT / "node-esm"
    stacks = json.loads(run([node, "run.js"], cjs).stdout)
    cases = [Case(kebab(k), "node", v, cjs) for k, v in stacks.items()]
    stacks = json.loads(run([node, "run.mjs"], esm).stdout)
    cases += [Case(kebab(k), "node", v, esm) for k, v in stacks.items()]
    # What Node prints when the app dies of it, as a log shipper would send stderr.
    cases.append(
        Case("uncaught-cause", "node", run([node, "main.mjs"], esm, fails=True).stderr, esm)
    )
    return cases


def python_cases() -> list[Case]:
    root = HOLDOUT / "python"
    stacks = json.loads(run([sys.executable, "run.py"], root).stdout)
    return [Case(kebab(k), "python", v, root) for k, v in stacks.items()]


def shell_cases(shell: str, folder: str, script: str) -> list[Case]:
    root = HOLDOUT / folder
    stacks = json.loads(run([shell, str(root / script)], root).stdout)
    return [Case(kebab(k), "browser", v, root) for k, v in stacks.items()]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def browser_cases(chromium: str) -> list[Case]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this runtime needs it

    root = HOLDOUT / "browser"
    handler = functools.partial(_Quiet, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
            page.wait_for_function("Object.keys(window.holdout).length === 2", timeout=10_000)
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
    cases = [
        *node_cases(tools["node"] or ""),
        *python_cases(),
        *browser_cases(tools["chromium"] or ""),
        *shell_cases(tools["gjs"] or "", "gjs", "validators.js"),
        *shell_cases(tools["jsc"] or "", "jsc", "report.js"),
    ]
    right = 0
    for case in cases:
        expected = marks(case.root)[case.name]
        got = culprit_of(case)
        right += got == expected
        verdict = "right" if got == expected else "WRONG"
        print(f"{verdict:5}  {case.name:18} expected {expected[0]}:{expected[1]:<4} got {got}")
        if got != expected and options.verbose:
            print(case.stack)
    print(f"{right} of {len(cases)} culprits right (engine: {engine})")


if __name__ == "__main__":
    main()
