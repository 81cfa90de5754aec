"""The ingest key format: `slk_`, 36 random base62 characters, a 6-character checksum.

36 base62 characters carry 214 random bits. The CRC32 checksum lets the
gateway refuse a mistyped or made-up key without a lookup, and lets secret
scanners recognise a real Stackline key in leaked text (the shape GitHub's own
tokens use).

Each key has a public part too, the user name of its Sentry DSN: `slp_` and the
same shape, random rather than derived (only the key's hash is kept, so nothing
could be derived from it later), stored in clear so that the DSN can be shown
at any time, as Sentry shows its own. It works on Sentry's routes only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

PREFIX = "slk_"
PUBLIC_PREFIX = "slp_"
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


def _generate(prefix: str) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return prefix + body + _checksum(body)


def _is_well_formed(key: str, prefix: str) -> bool:
    if len(key) != KEY_LENGTH or not key.startswith(prefix):
        return False
    body = key[len(prefix) : len(prefix) + _RANDOM_CHARS]
    # A set comparison, not a scan per character: this runs on every ingest request.
    if not _ALPHABET_SET.issuperset(body):
        return False
    return hmac.compare_digest(key[-_CHECKSUM_CHARS:], _checksum(body))


def generate() -> str:
    return _generate(PREFIX)


def is_well_formed(key: str) -> bool:
    """Shape and checksum only; says nothing about whether the key exists."""
    return _is_well_formed(key, PREFIX)


def generate_public() -> str:
    """A key's public part, made with it."""
    return _generate(PUBLIC_PREFIX)


def is_well_formed_public(public_key: str) -> bool:
    """Shape and checksum of a public part; says nothing about whether it exists."""
    return _is_well_formed(public_key, PUBLIC_PREFIX)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
