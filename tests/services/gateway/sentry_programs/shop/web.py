"""A FastAPI app whose route fails, with Sentry's FastAPI integration and tracing on."""

from __future__ import annotations

import sentry_sdk
from fastapi import FastAPI

sentry_sdk.init(environment="production", traces_sample_rate=1.0, shutdown_timeout=20)

app = FastAPI()
ORDERS: dict[str, int] = {"1041": 3}


def total_of(order_id: str) -> int:
    if order_id not in ORDERS:
        raise LookupError(f"no order {order_id}")  # the line Stackline must show
    return ORDERS[order_id] * 1200


@app.get("/orders/{order_id}")
async def order(order_id: str) -> dict[str, int]:
    return {"total": total_of(order_id)}
