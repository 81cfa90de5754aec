"""Runs each case and prints {case: text as the app would send it} as JSON."""

from __future__ import annotations

import json
import sys
import traceback

import formulas
import reports
import workers


def caught(action) -> str:  # type: ignore[no-untyped-def]
    try:
        action()
    except BaseException:
        return traceback.format_exc()
    return "no error"


stacks = {
    "notesFromNone": caught(lambda: reports.build([{"amount": 3.0}])),
    "evalString": caught(lambda: formulas.column("price * qty", [{"price": 2.0}])),
    "groupWithCauses": caught(lambda: workers.main(["https://a", "https://b"])),
}
sys.stdout.write(json.dumps(stacks))
