"""The ingest key format: `slk_`, 36 random base62 characters, a 6-character checksum.

36 base62 characters carry 214 random bits. The CRC32 checksum lets the
gateway refuse a mistyped or made-up key without a lookup, and lets secret
scanners recognise a real Stackline key in leaked text (the shape GitHub's own
tokens use).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

PREFIX = "slk_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_SET = frozenset(_ALPHABET)
_RANDOM_CHARS = 36
_CHECKSUM_CHARS = 6
KEY_LENGTH = len(PREFIX) + _RANDOM_CHARS + _CHECKSUM_CHARS
# Shown in listings so a user can tell keys apart.
DISPLAY_PREFIX_LENGTH = len(PREFIX) + 6


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_CHARS)


def generate() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return PREFIX + body + _checksum(body)


def is_well_formed(key: str) -> bool:
    """Shape and checksum only; says nothing about whether the key exists."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    body = key[len(PREFIX) : len(PREFIX) + _RANDOM_CHARS]
    # A set comparison, not a scan per character: this runs on every ingest request.
    if not _ALPHABET_SET.issuperset(body):
        return False
    return hmac.compare_digest(key[-_CHECKSUM_CHARS:], _checksum(body))


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
