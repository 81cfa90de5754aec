"""Sentry's wire format read safely: bounded decompression, envelopes, auth headers and DSNs.

Nothing here knows Stackline's events; `sentry_events` translates what this module reads.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import brotli
import orjson

from stackline_infra.errors import InvalidArgument, PayloadTooLarge

# Items past this are not read: no SDK sends more than a handful per envelope.
MAX_ITEMS = 1000
# Decompressed in slices of this size, so that memory follows the limit, never the ratio.
_CHUNK = 64 * 1024


def decompressed(body: bytes, content_encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone, refused with 413 once it passes `limit`.

    A gzip bomb stops after `limit` bytes of output: each decoder is asked for at most that
    much, never for "everything".
    """
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    # Applied in the order listed, so undone from the last.
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 16, limit, "gzip")
        elif coding == "deflate":
            # HTTP's deflate is zlib-wrapped; some clients send raw deflate under that name.
            try:
                body = _inflate(body, zlib.MAX_WBITS, limit, "deflate")
            except InvalidArgument:
                body = _inflate(body, -zlib.MAX_WBITS, limit, "deflate")
        elif coding == "br":
            body = _unbrotli(body, limit)
        else:
            raise InvalidArgument(
                f"Content-Encoding {coding!r} is not supported (gzip, deflate, br)"
            )
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is over {limit} bytes once decompressed")


def _inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(body, limit + 1)
    except zlib.error:
        raise InvalidArgument(f"body is not valid {name} data") from None
    if len(out) > limit:
        raise _too_large(limit)
    if not decoder.eof:
        raise InvalidArgument(f"body is not valid {name} data: it ends early")
    return out


def _unbrotli(body: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    parts: list[bytes] = []
    size = 0
    data = body
    try:
        while True:
            part = decoder.process(data, output_buffer_limit=_CHUNK)
            data = b""
            size += len(part)
            if size > limit:
                raise _too_large(limit)
            parts.append(part)
            if decoder.is_finished() or (not part and decoder.can_accept_more_data()):
                break
    except brotli.error:
        raise InvalidArgument("body is not valid br data") from None
    if not decoder.is_finished():
        raise InvalidArgument("body is not valid br data: it ends early")
    return b"".join(parts)


@dataclass(frozen=True)
class Item:
    type: str
    payload: bytes


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]


def json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} is not a JSON object")
    return value


def parse_envelope(body: bytes) -> Envelope:
    """Header line, then item header and payload pairs."""
    end = body.find(b"\n")
    if end == -1:
        end = len(body)
    headers = json_object(body[:end], "the envelope header")
    items: list[Item] = []
    position = end + 1
    while position < len(body):
        end = body.find(b"\n", position)
        if end == -1:
            end = len(body)
        line = body[position:end]
        if not line.strip():  # blank lines between items, and the final newline
            position = end + 1
            continue
        if len(items) == MAX_ITEMS:
            raise InvalidArgument(f"an envelope holds at most {MAX_ITEMS} items")
        item, position = _item(body, line, end + 1, f"item {len(items) + 1}")
        items.append(item)
    return Envelope(headers, items)


def _item(body: bytes, header: bytes, start: int, name: str) -> tuple[Item, int]:
    """The item whose header line is `header` and whose payload starts at `start`, and where
    the next item starts. A payload runs for its header's `length`, or to the next newline
    when the header gives none (as @sentry/node sends them)."""
    item_headers = json_object(header, f"{name}'s header")
    kind = item_headers.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidArgument(f"{name}'s header has no type")
    length = item_headers.get("length")
    if length is None:
        stop = body.find(b"\n", start)
        if stop == -1:
            stop = len(body)
        return Item(kind, body[start:stop]), stop + 1
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise InvalidArgument(f"{name}'s length is not a non-negative integer")
    stop = start + length
    if stop > len(body):
        raise InvalidArgument(f"{name}'s length ({length}) runs past the end of the envelope")
    following = body[stop : stop + 1]
    if following not in (b"", b"\n", b"\r"):
        raise InvalidArgument(f"{name}'s length ({length}) does not end where its payload does")
    return Item(kind, body[start:stop]), stop + (2 if body[stop : stop + 2] == b"\r\n" else 1)


@dataclass(frozen=True)
class DsnParts:
    public_key: str
    project: str


def parse_dsn(dsn: str) -> DsnParts | None:
    """`http://<public key>@host/<project>` → its key and project; None when it is no DSN."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return None
    project = parts.path.rstrip("/").rpartition("/")[2]
    if not parts.username or not project:
        return None
    return DsnParts(parts.username, project)


def auth_header_key(value: str) -> str | None:
    """`Sentry sentry_key=..., sentry_version=7, sentry_client=...` → the key."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        return None
    for pair in rest.split(","):
        name, _, content = pair.strip().partition("=")
        if name.strip() == "sentry_key" and content.strip():
            return content.strip()
    return None


def project_number(project_id: str) -> str:
    """A project's number in its DSN: its id read as a 128-bit integer.

    Sentry SDKs refuse a DSN whose project is not all digits; the id's own integer needs no
    second identifier kept in step with it.
    """
    return str(uuid.UUID(project_id).int)


def dsn(public_key: str, project_id: str, base_url: str) -> str:
    scheme, _, rest = base_url.rstrip("/").partition("://")
    return f"{scheme}://{public_key}@{rest}/{project_number(project_id)}"
