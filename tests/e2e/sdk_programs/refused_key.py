"""Reports with a key the platform refuses: one warning, reporting stops, the program runs on."""

import dataclasses
import json

import stackline_sdk

stackline_sdk.init()
try:
    json.loads("{")
except ValueError:
    stackline_sdk.capture_exception()
stackline_sdk.flush(10)
stackline_sdk.capture_message("after the key was refused")
print(json.dumps(dataclasses.asdict(stackline_sdk.stats())))
