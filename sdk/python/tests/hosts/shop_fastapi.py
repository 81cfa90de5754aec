"""A FastAPI shop for the framework tests, served by uvicorn.

    python -m uvicorn --app-dir tests/hosts shop_fastapi:app --port PORT

Like shop_flask.py: /charge/{user} tags the request, logs (also from a thread
of the loop's executor), waits until SHOP_CONCURRENCY requests are inside
their handlers, then fails.
"""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import FastAPI

import stackline_sdk

logging.basicConfig(level=logging.INFO)
stackline_sdk.init(shutdown_timeout=5)

log = logging.getLogger("shop")
expected = int(os.environ.get("SHOP_CONCURRENCY", "1"))
arrived = 0
all_in: asyncio.Event | None = None

app = FastAPI()
app.add_middleware(stackline_sdk.StacklineASGIMiddleware)


@app.get("/ok")
async def ok() -> str:
    return "ok"


@app.get("/charge/{user}")
async def charge(user: str) -> str:
    global arrived, all_in
    stackline_sdk.set_tag("user_id", user)
    log.info("charging %s", user)
    await asyncio.get_running_loop().run_in_executor(None, log.info, "receipt thread for %s", user)
    all_in = all_in or asyncio.Event()
    arrived += 1
    if arrived >= expected:
        all_in.set()
    await asyncio.wait_for(all_in.wait(), 30)
    raise RuntimeError(f"charge failed for {user}")
