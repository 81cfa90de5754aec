"""Shapes that no engine installed here prints, typed from each engine's documented output.

Everything else the parser reads is checked against real engines (test_node, test_python,
test_spidermonkey, test_javascriptcore, test_browser). These are the rest: what only Firefox the
browser prints (async causes, the devtools console, nested evals from a web page), Windows paths,
WebAssembly frames, and V8's older `(native)`.
"""

from __future__ import annotations

import pytest

from services.ingest.stacks import EvalOrigin, StackFrame, parse_stack

APP = "https://example.com/static/app.js"

FIREFOX_BROWSER = f"""render@{APP}:10:5
setTimeout handler*schedule@{APP}:20:3
promise callback*@{APP}:30:9
EventListener.handleEvent*start@{APP}:40:1
@debugger eval code:1:1
loadScript@{APP} line 8 > eval line 2 > eval:1:5
"""

NODE_ON_WINDOWS = r"""Error: boom
    at handler (C:\srv\my app\handler.js:12:7)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)
"""

PYTHON_ON_WINDOWS = r"""Traceback (most recent call last):
  File "C:\srv\app\main.py", line 3, in <module>
    main()
ValueError: boom
"""

CHROME_WEBASSEMBLY_AND_EXTENSION = f"""RuntimeError: unreachable
    at fac (wasm://wasm/9a1b2c3d:wasm-function[1]:0x2a)
    at chrome-extension://abcdefghijklmnop/content.js:5:20
    at {APP}:1:2
"""

OLD_V8_NATIVE = """TypeError: undefined is not a function
    at Array.forEach (native)
    at main (/srv/app.js:3:9)
"""


@pytest.mark.parametrize(
    ("raw", "platform", "expected"),
    [
        pytest.param(
            FIREFOX_BROWSER,
            "browser",
            [
                StackFrame(APP, 10, 5, "render"),
                StackFrame(APP, 20, 3, "schedule"),
                StackFrame(APP, 30, 9, ""),
                StackFrame(APP, 40, 1, "start"),
                StackFrame("debugger eval code", 1, 1, ""),
                StackFrame("", 1, 5, "loadScript", EvalOrigin(APP, 8, None)),
            ],
            id="firefox-browser",
        ),
        pytest.param(
            NODE_ON_WINDOWS,
            "node",
            [
                StackFrame(r"C:\srv\my app\handler.js", 12, 7, "handler"),
                StackFrame("node:internal/modules/cjs/loader", 1256, 14, "Module._compile"),
            ],
            id="node-windows",
        ),
        pytest.param(
            PYTHON_ON_WINDOWS,
            "python",
            [StackFrame(r"C:\srv\app\main.py", 3, None, "<module>")],
            id="python-windows",
        ),
        pytest.param(
            CHROME_WEBASSEMBLY_AND_EXTENSION,
            "browser",
            [
                StackFrame("wasm://wasm/9a1b2c3d", None, None, "fac"),
                StackFrame("chrome-extension://abcdefghijklmnop/content.js", 5, 20, ""),
                StackFrame(APP, 1, 2, ""),
            ],
            id="chrome-wasm-extension",
        ),
        pytest.param(
            OLD_V8_NATIVE,
            "node",
            [StackFrame("", None, None, "Array.forEach"), StackFrame("/srv/app.js", 3, 9, "main")],
            id="v8-native",
        ),
    ],
)
def test_documented_format(raw: str, platform: str, expected: list[StackFrame]) -> None:
    assert parse_stack(raw, platform) == expected
