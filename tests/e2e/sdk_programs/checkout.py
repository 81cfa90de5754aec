"""A shop's checkout on the Python SDK: it reports, then fails with an exception nobody catches.

init() reads STACKLINE_INGEST_KEY, STACKLINE_ENDPOINT and STACKLINE_COMMIT_SHA.
"""

import atexit
import dataclasses
import json
import os

import stackline_sdk

# Registered before init(): atexit runs it after the SDK's own handler has delivered.
atexit.register(lambda: print(json.dumps(dataclasses.asdict(stackline_sdk.stats()))))
stackline_sdk.init()


def charge_card(order: dict[str, str]) -> None:
    raise ValueError(f"card declined for order {order['id']}")  # the line Stackline must show


charge_card({"id": os.environ["APP_ORDER"]})
