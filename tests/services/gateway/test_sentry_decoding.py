"""Sentry bodies decoded within bounds (a compression bomb costs at most the limit in memory),
and any event shape translated or refused with a reason, never a crash."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.sentry_envelope import decompressed, parse_dsn, parse_envelope
from services.gateway.sentry_events import UnsupportedPlatform, to_ingest_event
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


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_FRAME = st.fixed_dictionaries(
    {},
    optional={
        key: _ANY | st.text(max_size=40) | st.integers(-5, 10**40)
        for key in ("filename", "abs_path", "function", "lineno", "colno", "context_line", "in_app")
    },
)
_EVENT = st.fixed_dictionaries(
    {"platform": st.sampled_from(["python", "node", "javascript"]) | _ANY},
    optional={
        "event_id": _ANY | st.uuids().map(lambda u: u.hex),
        "timestamp": _ANY | st.floats(-1e20, 1e20) | st.text(max_size=30),
        "exception": _ANY
        | st.fixed_dictionaries(
            {
                "values": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "type": _ANY,
                            "value": _ANY,
                            "stacktrace": st.fixed_dictionaries(
                                {"frames": st.lists(_FRAME | _ANY, max_size=5)}
                            )
                            | _ANY,
                        },
                    )
                    | _ANY,
                    max_size=8,
                )
            }
        ),
        **{
            key: _ANY
            for key in (
                "message",
                "logentry",
                "release",
                "environment",
                "level",
                "tags",
                "user",
                "breadcrumbs",
                "contexts",
                "request",
                "sdk",
                "fingerprint",
            )
        },
    },
)


@settings(max_examples=300, deadline=None)
@given(_EVENT)
def test_any_event_shape_is_translated_or_refused_with_a_reason(event: dict[str, Any]) -> None:
    try:
        translated = to_ingest_event(event, "0b1e6f8e-0000-4000-8000-000000000001")
    except (InvalidArgument, UnsupportedPlatform):
        return
    translated.SerializeToString()
