"""Which incident an event belongs to: its fingerprint, and the incident's title."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

# Stored with every incident. A change to the rules below bumps it, so old
# incidents keep the fingerprints they were made with.
GROUPING_VERSION = 1

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


def fingerprint(
    exception_type: str, message: str, frames: Sequence[dict[str, Any]], custom: str = ""
) -> str:
    """Exception type plus the in-app frames' files and functions, not their lines.

    A moved line does not split an incident; the same function failing with
    another exception type does. With no in-app frame to go on, the message
    with its variable parts blanked out stands in for the stack.
    """
    digest = hashlib.sha256()
    if custom:
        digest.update(b"custom\0" + custom.encode())
        return digest.hexdigest()
    digest.update(exception_type.encode() + b"\0")
    in_app = [f for f in frames if f["in_app"] and f["file"]]
    if in_app:
        for frame in in_app:
            digest.update(f"{frame['file']}\0{frame['function']}\0".encode())
    else:
        digest.update(b"message\0" + normalise_message(message).encode())
    return digest.hexdigest()


def title(exception_type: str, message: str, culprit: dict[str, Any] | None) -> str:
    """`TypeError in src/api/users.ts:42`; the message stands in when no frame is the app's."""
    if culprit is not None:
        return f"{exception_type} in {culprit['file']}:{culprit['line']}"
    first_line = message.strip().split("\n", 1)[0][:200]
    return f"{exception_type}: {first_line}" if first_line else exception_type
