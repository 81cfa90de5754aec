"""Runs each case and prints {case: text as the app would send it} as JSON."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import traceback

import billing
import etl
import rules
import tasks


def caught(action) -> str:  # type: ignore[no-untyped-def]
    try:
        action()
    except BaseException:
        return traceback.format_exc()
    return "no error"


def logged() -> str:
    stream = io.StringIO()
    log = logging.getLogger("billing")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    billing.bill({"id": "cus_42", "lines": [{"price": 3.0}]}, log)
    return stream.getvalue()


stacks = {
    "etlChain": caught(lambda: etl.load("id,qty\n1,2\n2,many\n")),
    "taskGroup": caught(
        lambda: asyncio.run(tasks.crawl(["https://ok", "https://bad-1", "https://bad-2"]))
    ),
    "logged": logged(),
    "contextChain": caught(lambda: billing.apply_discount(100.0, "PCT0")),
    "execRule": caught(lambda: rules.run_rule({"base": 10.0})),
}
sys.stdout.write(json.dumps(stacks))
