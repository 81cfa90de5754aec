"""Which incident an event belongs to: its fingerprints, and the incident's title.

Each incident stores the grouping version its fingerprint was made under. Rules change only by
adding a version: an event is fingerprinted under every version, joins the incident any of them
finds (the oldest version first, so an incident made under old rules keeps its events), and
makes a new incident under the newest. The digests of version 1 are pinned by
tests/services/ingest/stacks/test_golden_fingerprints.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from stackline_contract.frames import FrameJSON

GROUPING_VERSION = 2
"""The version new incidents are made under."""
VERSIONS = (1, 2)

# Parts of a message that vary between occurrences of one bug, most specific
# first so that, say, a UUID is not eaten digit by digit.
_VARIABLE_PARTS = [
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
        "<date>",
    ),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}\b"), "<ip>"),
    # Hex ids and hashes: 0x-prefixed, or 6+ hex digits mixing letters and digits.
    (
        re.compile(
            r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b"
        ),
        "<hex>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "<num>"),
]
# How much of a message grouping looks at; past this, messages that differ are the same bug.
_MESSAGE_PREFIX = 1024


def normalise_message(message: str) -> str:
    text = message[:_MESSAGE_PREFIX]
    for pattern, placeholder in _VARIABLE_PARTS:
        text = pattern.sub(placeholder, text)
    return text.strip()


def fingerprint_v1(
    exception_type: str, message: str, frames: Sequence[FrameJSON], custom: str = ""
) -> str:
    """Version 1: exception type plus the in-app frames' files and functions, not their lines.

    A moved line does not split an incident; the same function failing with
    another exception type does. With no in-app frame to go on, the message
    with its variable parts blanked out stands in for the stack. The frames are
    those version 1 read (ParsedStack.v1_frames), placed as it placed them.
    """
    in_app = [
        (frame["file"], frame["function"]) for frame in frames if frame["in_app"] and frame["file"]
    ]
    return _digest(exception_type, message, in_app, custom)


def fingerprint_v2(
    exception_type: str,
    message: str,
    in_app: Sequence[tuple[str, str]],
    custom: str = "",
    nested: Sequence[tuple[str, str]] = (),
) -> str:
    """Version 2: version 1 over grouping keys instead of the functions as printed.

    in_app holds each in-app frame's (file, key): function_key() of the name the runtime
    printed, or for a frame a source map moved, the name the map resolves ("" when it resolves
    none). The frames are the thrown error's only, so a cause does not move its error to another
    incident; when the thrown error has no in-app frame (an AggregateError of Promise.any has no
    frame at all), its causes' in-app frames (nested) stand in before the message does. Where no
    key differs from the printed name, the digest is version 1's.
    """
    if not in_app and nested:
        return _digest(exception_type, message, [("nested", ""), *nested], custom)
    return _digest(exception_type, message, in_app, custom)


def _digest(
    exception_type: str, message: str, in_app: Sequence[tuple[str, str]], custom: str
) -> str:
    digest = hashlib.sha256()
    if custom:
        digest.update(b"custom\0" + custom.encode())
        return digest.hexdigest()
    digest.update(exception_type.encode() + b"\0")
    if in_app:
        for file, function in in_app:
            digest.update(f"{file}\0{function}\0".encode())
    else:
        digest.update(b"message\0" + normalise_message(message).encode())
    return digest.hexdigest()


# The call made through a property of another name: `Object.load [as fetch]`.
_ALIAS = re.compile(r" \[as [^\]]*\]$")
# Receivers V8 names after how a function was called, not what it is: `config.parseConfig()` on
# a plain object or module exports prints `Object.parseConfig`, a plain call `parseConfig`, a
# call from Node's scheduler `Immediate.main` or `Timeout.retry`. A class's name
# (`Widget.render`) says which function it is and stays: two classes of one file may both have a
# `render` that fails alike.
_CALL_RECEIVERS = (
    "Object.",
    "Module.",
    "Function.",
    "<anonymous>.",
    "global.",
    "globalThis.",
    "Immediate.",
    "Timeout.",
)


def function_key(printed: str) -> str:
    """The function as grouping version 2 knows it: the name without the call's decoration.

    `async parseConfig`, `new Widget`, `Object.load [as fetch]`, `Object.<anonymous>` print
    what the call was like; grouping keeps `parseConfig`, `Widget`, `load` and "" (anonymous,
    as other engines print it). The stored frame keeps what the runtime printed.
    """
    name = printed.removeprefix("async ").removeprefix("new ")
    name = _ALIAS.sub("", name)
    while name.startswith(_CALL_RECEIVERS):
        name = name.partition(".")[2]
    return "" if name == "<anonymous>" else name


def title(exception_type: str, message: str, culprit: dict[str, Any] | None) -> str:
    """`TypeError in src/api/users.ts:42`; the message stands in when no frame is the app's."""
    if culprit is not None:
        return f"{exception_type} in {culprit['file']}:{culprit['line']}"
    first_line = message.strip().split("\n", 1)[0][:200]
    return f"{exception_type}: {first_line}" if first_line else exception_type
