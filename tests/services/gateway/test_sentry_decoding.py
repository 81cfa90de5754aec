"""Sentry bodies decoded within bounds: a compression bomb costs at most the limit in memory."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable

import brotli
import pytest

from services.gateway.sentry_envelope import decompressed, parse_dsn, parse_envelope
from stackline_infra.errors import InvalidArgument, PayloadTooLarge

LIMIT = 1024 * 1024


def _gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1024 * 1024)
    return b"".join(compressor.compress(block) for _ in range(256)) + compressor.flush()


BOMBS: list[tuple[str, Callable[[], bytes]]] = [
    ("gzip", _gzip_bomb),
    ("deflate", lambda: zlib.compress(b"\0" * (64 * LIMIT), 9)),
    ("br", lambda: brotli.compress(b"\0" * (64 * LIMIT), quality=5)),
]


@pytest.mark.parametrize(("coding", "make"), BOMBS, ids=[b[0] for b in BOMBS])
def test_a_bomb_is_refused_having_held_no_more_than_the_limit(
    coding: str, make: Callable[[], bytes]
) -> None:
    bomb = make()
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            decompressed(bomb, coding, LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 256 MiB (gzip) or 64 MiB of output if read whole; the decoders hold about the limit.
    assert peak < 3 * LIMIT, peak


def test_at_the_limit_is_fine_and_one_byte_more_is_not() -> None:
    assert len(decompressed(gzip.compress(b"a" * LIMIT), "gzip", LIMIT)) == LIMIT
    with pytest.raises(PayloadTooLarge):
        decompressed(gzip.compress(b"a" * (LIMIT + 1)), "gzip", LIMIT)


def test_codings_are_undone_last_first() -> None:
    body = b'{"event_id": "x"}\n'
    twice = brotli.compress(gzip.compress(body))
    assert decompressed(twice, "gzip, br", LIMIT) == body
    assert decompressed(zlib.compress(body)[2:-4], "deflate", LIMIT) == body  # raw deflate


def test_items_with_and_without_lengths_and_crlf() -> None:
    body = (
        b'{"dsn": "http://k@h/1"}\n'
        b'{"type": "attachment", "length": 3}\n\n\n\n\n'
        b'{"type": "event"}\n{"a": 1}\r\n'
        b'{"type": "session", "length": 2}\r\n{}\r\n'
    )
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [
        ("attachment", b"\n\n\n"),
        ("event", b'{"a": 1}\r'),
        ("session", b"{}"),
    ]


def test_an_envelope_past_the_item_limit_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        parse_envelope(b"{}\n" + b'{"type": "session", "length": 0}\n\n' * 1001)


def test_dsns() -> None:
    parts = parse_dsn("https://slk_abc@stackline.example.com/prefix/123")
    assert parts is not None
    assert (parts.public_key, parts.project) == ("slk_abc", "123")
    assert parse_dsn("https://stackline.example.com/123") is None
    assert parse_dsn("not a url") is None
