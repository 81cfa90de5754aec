"""The function around a position of original source, as grouping reads it from sourcesContent."""

from __future__ import annotations

import pytest

from services.ingest.enclosing import FunctionIndex
from tests.support.esbuild import PROGRAMS


def functions_by_line(source: str) -> dict[int, str | None]:
    """The enclosing function of the first code of each line."""
    index = FunctionIndex(source)
    return {
        number: index.enclosing(number, len(line) - len(line.lstrip()) + 1)
        for number, line in enumerate(source.split("\n"), start=1)
        if line.strip()
    }


def test_the_bundled_programs_functions() -> None:
    ledger = functions_by_line((PROGRAMS / "src" / "lib" / "ledger.js").read_text())
    assert (ledger[4], ledger[12], ledger[19], ledger[9]) == (
        "divideEvenly",
        "constructor",
        "average",
        None,
    )
    records = functions_by_line((PROGRAMS / "src" / "lib" / "records.js").read_text())
    assert (records[3], records[4], records[8]) == ("fetchRecord", "fetchRecord", "loadRecord")
    typescript = functions_by_line((PROGRAMS / "src" / "lib" / "format.ts").read_text())
    assert typescript[10] == "formatAmount"  # past `(amount: Amount): string {`


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        # Braces in strings, template literals, comments and regular expressions do not count.
        ("function a() {\n  const s = '}' + \"{\" + `${'}'}`;\n  return s;\n}", 3, "a"),
        ("function a() {\n  // }\n  /* } */\n  return 1;\n}", 4, "a"),
        ("function a(x) {\n  const r = /[}]/g;\n  return x / 2 / r;\n}", 3, "a"),
        # Arrows, methods, accessors, nested functions: the innermost named one.
        ("const load = async (id) => {\n  return id;\n};", 2, "load"),
        ("const o = {\n  async save(x) {\n    return x;\n  },\n};", 3, "save"),
        ("class A {\n  get size() {\n    return 1;\n  }\n}", 3, "size"),
        (
            "function outer() {\n  function inner() {\n    return 1;\n  }\n  return 2;\n}",
            5,
            "outer",
        ),
        ("const f = function () {\n  return 1;\n};", 2, "f"),
        ("run(function () {\n  return 1;\n});", 2, ""),
        ("items.map((x) => {\n  return x;\n});", 2, ""),
        # Blocks are not functions.
        ("function a(x) {\n  if (x) {\n    for (;;) {\n      return x;\n    }\n  }\n}", 4, "a"),
        ("const x = 1;", 1, None),
    ],
)
def test_enclosing_function(source: str, line: int, expected: str | None) -> None:
    index = FunctionIndex(source)
    column = len(source.split("\n")[line - 1]) - len(source.split("\n")[line - 1].lstrip()) + 1
    assert index.enclosing(line, column) == expected


def test_broken_and_hostile_source_is_read_without_failing() -> None:
    for source in ("}}}{{{", "`${`${", "function (", "/" * 1000, "(" * 100_000, "{" * 100_000):
        FunctionIndex(source).enclosing(1, 1)
