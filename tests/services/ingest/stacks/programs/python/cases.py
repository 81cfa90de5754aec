"""Raises one exception per case and prints {case: traceback} as JSON for test_python.py, then dies
of an uncaught chained error so that the test also reads the interpreter's own report.

`# @name` ends each line a frame points at.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any


def inner() -> None:
    raise ValueError("plain")  # @inner


def outer() -> None:
    inner()  # @outer


def plain() -> None:
    outer()  # @plain


def wrap() -> None:
    try:
        inner()  # @wrap-inner
    except ValueError as error:
        raise RuntimeError("wrapped") from error  # @wrap


def chained() -> None:
    wrap()  # @chained


def implicit() -> int:
    settings: dict[str, int] = {}
    try:
        inner()
    except ValueError:
        return settings["retries"]  # @implicit
    return 0


def carets() -> int:
    config: dict[str, dict[str, int]] = {"db": {}}
    return config["db"]["port"] + 1  # @carets


def with_lambda() -> list[int]:
    return list(map(lambda divisor: 1 // divisor, [0]))  # @lambda


def raised(error: Exception) -> Exception:
    try:
        raise error  # @sub-exception
    except Exception as caught:
        return caught


def group() -> None:
    raise ExceptionGroup("several", [raised(ValueError(1)), raised(TypeError(2))])  # @group


def settle(payment: str) -> None:
    try:
        raise ConnectionError(f"{payment}: the bank did not answer")  # @bank
    except ConnectionError as error:
        raise RuntimeError(f"{payment} was not settled") from error  # @settle


def nested_group() -> None:
    failures: list[Exception] = []
    for payment in ("p1", "p2"):
        try:
            settle(payment)  # @settle-call
        except RuntimeError as error:
            failures.append(error)
    retries = ExceptionGroup("retries failed", [raised(TimeoutError("p3"))])
    raise ExceptionGroup("the batch failed", [*failures, retries])  # @nested-group


# Code an app keeps as text and compiles under a name of its own, which is no file.
PRICING_RULE = "def price(order):\n    return order['base'] * order['multiplier']\n"


def generated() -> object:
    scope: dict[str, Any] = {}
    exec(compile(PRICING_RULE, "<pricing-rule>", "exec"), scope)
    return scope["price"]({"base": 1.0})  # @generated


def syntax() -> None:
    __import__("bad_syntax")  # @import


def recurse(depth: int) -> int:
    return recurse(depth + 1)  # @recurse


def recursion() -> int:
    return recurse(0)  # @recursion


def embedded() -> None:
    worker = 'Traceback (most recent call last):\n  File "/fake.py", line 1, in fake\nValueError'
    raise RuntimeError(f"worker failed:\n{worker}")  # @embedded


CASES: dict[str, Callable[[], object]] = {
    "plain": plain,
    "chained": chained,
    "implicit": implicit,
    "carets": carets,
    "lambda": with_lambda,
    "group": group,
    "nested_group": nested_group,
    "generated": generated,
    "syntax": syntax,
    "recursion": recursion,
    "embedded": embedded,
}


def main() -> None:
    stacks: dict[str, str] = {}
    for name, case in CASES.items():
        try:
            case()  # @case
        except Exception as error:
            stacks[name] = "".join(traceback.format_exception(error))
    sys.stdout.write(json.dumps(stacks))
    sys.stdout.flush()
    chained()  # @uncaught


if __name__ == "__main__":
    main()  # @main
